#include "cli.h"

#include <latflow/error.h>
#include <latflow/experiment.h>
#include <latflow/runner.h>

#include <iostream>

namespace latflow::cli {

int command_run(const std::vector<std::string>& args) {
  Common common;
  std::string out;
  auto options = common_options(common);
  options.add_options()("out", po::value<std::string>(&out), "run dir")(
      "dry-run", "validate and print the resolved experiment only");
  std::vector<std::string> positional;
  const auto vm = parse(args, options, positional);
  if (vm.count("help")) {
    std::cout << "usage: latflow run EXPERIMENT.toml [KEY=VALUE ...] "
                 "[--out DIR] [--dry-run]\n";
    return 0;
  }
  apply_common(common);
  if (positional.empty()) {
    throw InputError("run: expected an experiment file");
  }
  RunOptions run;
  run.file = positional[0];
  run.overrides.assign(positional.begin() + 1, positional.end());
  run.out = out;
  run.threads = common.threads;

  if (vm.count("dry-run")) {
    const auto exp =
        Experiment::load(run.file, run.overrides, registry());
    // Building checks what the schemas cannot (divisibility, kinds).
    build_components(exp, registry());
    std::cout << exp.resolved_toml();
    return 0;
  }
  install_stop_handlers();
  return run_experiment(run, registry()).exit_code;
}

}  // namespace latflow::cli

#include "cli.h"

#include <latflow/error.h>
#include <latflow/experiment.h>
#include <latflow/runner.h>

#include <fmt/format.h>

#include <iostream>

namespace latflow::cli {

int command_run(const std::vector<std::string>& args) {
  Common common;
  std::string out;
  std::string resume;
  auto options = common_options(common);
  options.add_options()("out", po::value<std::string>(&out), "run dir")(
      "resume", po::value<std::string>(&resume), "run dir to continue")(
      "dry-run", "validate, build and print the resolved experiment only");
  std::vector<std::string> positional;
  const auto vm = parse(args, options, positional);
  if (vm.count("help")) {
    std::cout << "usage: latflow run EXPERIMENT.toml [KEY=VALUE ...] "
                 "[--out DIR] [--dry-run]\n"
                 "       latflow run --resume RUN_DIR [KEY=VALUE ...]\n";
    return 0;
  }
  apply_common(common);
  RunOptions run;
  run.threads = common.threads;
  run.out = out;
  if (!resume.empty()) {
    if (!positional.empty() &&
        positional[0].find('=') == std::string::npos) {
      throw InputError(fmt::format(
          "run: --resume continues {}/config.toml; give no experiment file "
          "(got '{}')",
          resume, positional[0]));
    }
    if (!out.empty()) {
      throw InputError("run: --resume writes into the run it continues; "
                       "drop --out");
    }
    run.resume = resume;
    run.overrides = positional;
  } else {
    if (positional.empty()) {
      throw InputError("run: expected an experiment file");
    }
    run.file = positional[0];
    run.overrides.assign(positional.begin() + 1, positional.end());
  }

  if (vm.count("dry-run")) {
    const auto file =
        run.resume.empty() ? run.file : run.resume / "config.toml";
    const auto exp = Experiment::load(file, run.overrides, registry());
    // Building checks what the schemas cannot (divisibility, kinds).
    build_components(exp, registry());
    std::cout << exp.resolved_toml();
    return 0;
  }
  install_stop_handlers();
  return run_experiment(run, registry()).exit_code;
}

}  // namespace latflow::cli

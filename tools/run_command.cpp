#include "cli.h"

#include <latflow/error.h>
#include <latflow/experiment.h>
#include <latflow/io.h>
#include <latflow/runner.h>
#include <latflow/sweep.h>

#include <fmt/format.h>

#include <iostream>

namespace latflow::cli {

int command_run(const std::vector<std::string>& args) {
  Common common;
  std::string out;
  std::string resume;
  int jobs = 1;
  auto options = common_options(common);
  options.add_options()("out", po::value<std::string>(&out), "run dir")(
      "resume", po::value<std::string>(&resume), "run dir to continue")(
      "jobs", po::value<int>(&jobs), "sweep runs at a time")(
      "no-sweep", "run once with the base values, ignoring [sweep]")(
      "dry-run", "validate, build and print the resolved experiment only");
  std::vector<std::string> positional;
  const auto vm = parse(args, options, positional);
  if (vm.count("help")) {
    std::cout << "usage: latflow run EXPERIMENT.toml [KEY=VALUE ...] "
                 "[--out DIR] [--dry-run] [--jobs N] [--no-sweep]\n"
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

  if (jobs < 1) {
    throw InputError(fmt::format("--jobs: expected an integer >= 1, got {}",
                                 jobs));
  }
  if (run.resume.empty() && vm.count("no-sweep") == 0) {
    const auto points = select_sweep_points(
        expand_sweep(read_file(run.file), run.file), run.overrides,
        run.file);
    if (!points.empty()) {
      if (vm.count("dry-run")) {
        for (const auto& point : points) {
          auto overrides = run.overrides;
          overrides.insert(overrides.end(), point.overrides.begin(),
                           point.overrides.end());
          const auto exp = Experiment::load(run.file, overrides, registry());
          build_components(exp, registry());
          fmt::print("{}  {}\n", point.label,
                     fmt::join(point.overrides, " "));
        }
        fmt::print("{} runs\n", points.size());
        return 0;
      }
      install_stop_handlers();
      return run_sweep(run, points, jobs, registry());
    }
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

// The latflow command-line program: dispatches to one command per file.

#include "cli.h"

#include <latflow/error.h>
#include <latflow/params.h>
#include <latflow/version.h>

#include <fmt/format.h>

#include <cstdio>
#include <iostream>

namespace {

constexpr const char* kUsage = R"(usage: latflow COMMAND [ARGS...]

Train normalizing flows as samplers of lattice field theories.

commands:
  run EXPERIMENT.toml [KEY=VALUE ...] [--out DIR] [--dry-run] [--jobs N]
                       train and evaluate one experiment, or every run of
                       its [sweep] table
  run --resume RUN_DIR [KEY=VALUE ...]
                       continue a run from its checkpoint
  plugins [KIND/NAME]  list components, or one component's parameters
  action EXPERIMENT.toml --configs FILE.npy [KEY=VALUE ...]
                       print the action and observables of configurations,
                       one JSON object per line
  sample RUN_DIR [--n N] [--out FILE.npy] [--sampler TYPE] [--json]
                       [KEY=VALUE ...]
                       sample from a trained run; print observables with
                       errors and autocorrelation times
  new-plugin NAME --kind KIND [--out DIR]
                       start a plugin project (KIND: action, flow,
                       estimator, sampler or observable) that builds
                       against the installed latflow
  bench EXPERIMENT.toml [KEY=VALUE ...] [--steps N] [--estimators LIST]
                       time training steps per estimator (and per sweep
                       point), each in its own process: seconds per step,
                       its phases, peak memory, ratios to reinforce
  plot RUN_OR_SWEEP_DIR
                       draw figures with gnuplot into DIR/plots/ (PNG and
                       SVG): ESS and free energy against step for a run;
                       ESS against wall time, seconds per step and peak
                       memory against L for a sweep

common options:
  --threads N          intra-op threads (default: [experiment] threads, or
                       all cores)
  --log-level LEVEL    debug, info, warn, error or quiet (default info)
  --log-channels LIST  comma-separated channels shown (run, train, plugins)
  -h, --help           this text, or a command's with `latflow COMMAND -h`
  --version            print the version

exit status: 0 success, 1 failed run, 2 bad input.
KEY=VALUE overrides a dotted key of the experiment; VALUE is TOML
(a bare word is a string): train.steps=50 estimator.type=reparam
)";

struct Entry {
  const char* name;
  latflow::cli::Command run;
};

const Entry kCommands[] = {
    {"run", latflow::cli::command_run},
    {"plugins", latflow::cli::command_plugins},
    {"action", latflow::cli::command_action},
    {"sample", latflow::cli::command_sample},
    {"new-plugin", latflow::cli::command_new_plugin},
    {"bench", latflow::cli::command_bench},
    {"plot", latflow::cli::command_plot},
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.empty() || args[0] == "-h" || args[0] == "--help" ||
        args[0] == "help") {
      std::cout << kUsage;
      return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version") {
      fmt::print("latflow {} (LibTorch {}, plugin ABI {})\n", LATFLOW_VERSION,
                 LATFLOW_TORCH_VERSION, LATFLOW_ABI_VERSION);
      return 0;
    }
    const std::string command = args[0];
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    std::vector<std::string> commands;
    for (const auto& entry : kCommands) {
      if (command == entry.name) return entry.run(rest);
      commands.push_back(entry.name);
    }
    const std::string near = latflow::closest(command, commands);
    throw latflow::InputError(fmt::format(
        "unknown command '{}'{}; run latflow --help", command,
        near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near)));
  } catch (const latflow::InputError& e) {
    std::fflush(stdout);
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    // One line: LibTorch's errors carry a backtrace after the message.
    const std::string text = e.what();
    std::fflush(stdout);
    fmt::print(stderr, "error: {}\n", text.substr(0, text.find('\n')));
    return 1;
  }
}

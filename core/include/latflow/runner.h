#pragma once

#include <latflow/experiment.h>
#include <latflow/registry.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace latflow {

/// How `latflow run` was asked to run one experiment.
struct RunOptions {
  std::filesystem::path file;          ///< experiment file
  std::vector<std::string> overrides;  ///< KEY=VALUE
  /// Run directory; empty: runs/<name>/<timestamp>/.
  std::filesystem::path out;
  /// A run directory to continue from its checkpoint (file and out unused;
  /// overrides apply to its config.toml, e.g. more train.steps).
  std::filesystem::path resume;
  int64_t threads = -1;  ///< -1: [experiment] threads
};

/// Final state of a run.
struct RunResult {
  std::filesystem::path dir;
  std::string status;  ///< "finished", "interrupted", "failed"
  int exit_code = 0;   ///< 0, 130 / 143 when interrupted, 1 when failed
};

/// Runs one experiment end to end: validates it, creates the run directory
/// (config.toml, log.txt, metrics.csv, checkpoint.pt, summary.json), trains,
/// evaluates. Bad input throws InputError before anything is written.
RunResult run_experiment(const RunOptions& options, Registry& registry);

/// A new run directory under runs/<name>/ named by the current time.
std::filesystem::path default_run_dir(const std::string& name);

/// Makes `dir` for a new run; refuses a non-empty existing folder.
void create_run_dir(const std::filesystem::path& dir);

/// Peak resident memory of this process in MiB.
double peak_rss_mb();

/// Installs SIGINT/SIGTERM handlers that ask running training to stop.
void install_stop_handlers();
/// The signal that asked to stop, or 0.
int stop_requested();

}  // namespace latflow

#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace latflow::test {

/// The latflow program running in the background, its output in files.
class Program {
 public:
  /// Starts latflow with `args`; stdout and stderr go to `log_prefix`.out
  /// and .err.
  Program(const std::vector<std::string>& args,
          const std::filesystem::path& log_prefix);
  ~Program();
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  /// Sends `signal` unless the program has ended.
  void signal(int signal);
  /// Whether the program has ended (reaps it when it has).
  bool ended();
  /// Waits at most `seconds` for the end; then kills it and fails.
  /// Returns the exit status, or 128 + the signal that ended it.
  int wait(double seconds);
  /// Standard error so far.
  std::string err() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::filesystem::path log_prefix_;
};

/// Trains `experiment` once per estimator, all at once with one thread
/// each, into `folder`/ESTIMATOR; fails the test case unless each ends
/// with status 0 within `seconds`.
void train_side_by_side(const std::filesystem::path& experiment,
                        const std::vector<std::string>& estimators,
                        const std::filesystem::path& folder, double seconds);

/// Every file under `root` (relative path) with its content, for checking
/// that a refused command left the tree as it was.
std::map<std::string, std::string> snapshot(const std::filesystem::path& root);

/// What changed between two snapshots, one line per path ("" if nothing).
std::string differences(const std::map<std::string, std::string>& before,
                        const std::map<std::string, std::string>& after);

/// The rows of a metrics.csv, checked: a header, then only whole lines of
/// as many fields, each field a number. Fails the test case otherwise.
std::vector<std::vector<std::string>> metrics_rows(
    const std::filesystem::path& file);

/// Polls every 20 ms until `done` holds or `seconds` pass; returns `done`.
bool wait_until(const std::function<bool()>& done, double seconds);

/// The number of rows of a metrics.csv (0 if it is missing).
int64_t metrics_row_count(const std::filesystem::path& file);

}  // namespace latflow::test

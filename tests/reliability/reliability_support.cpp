#include "reliability/reliability_support.h"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/test_support.h"

extern char** environ;

namespace latflow::test {

namespace fs = std::filesystem;

Program::Program(const std::vector<std::string>& args,
                 const fs::path& log_prefix)
    : log_prefix_(log_prefix) {
  std::vector<std::string> argv_text{LATFLOW_PROGRAM};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);

  const std::string out = log_prefix.string() + ".out";
  const std::string err = log_prefix.string() + ".err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int rc =
      posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " LATFLOW_PROGRAM);
}

Program::~Program() {
  if (!ended()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
}

void Program::signal(int signal) {
  if (!ended()) ::kill(pid_, signal);
}

bool Program::ended() {
  if (status_ != -1) return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }
  return false;
}

int Program::wait(double seconds) {
  if (!wait_until([this] { return ended(); }, seconds)) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    status_ = 128 + SIGKILL;
    FAIL("latflow did not end within ", seconds, " s; killed");
  }
  return status_;
}

std::string Program::err() const {
  return read_text(log_prefix_.string() + ".err");
}

bool wait_until(const std::function<bool()>& done, double seconds) {
  const auto end =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void train_side_by_side(const fs::path& experiment,
                        const std::vector<std::string>& estimators,
                        const fs::path& folder, double seconds) {
  std::vector<std::unique_ptr<Program>> runs;
  for (const auto& estimator : estimators) {
    runs.push_back(std::make_unique<Program>(
        std::vector<std::string>{"run", experiment.string(), "--out",
                                 (folder / estimator).string(), "--threads",
                                 "1", "--log-level", "warn",
                                 "estimator.type=" + estimator},
        folder / (estimator + "-log")));
  }
  for (std::size_t i = 0; i < runs.size(); ++i) {
    CAPTURE(estimators[i]);
    const int status = runs[i]->wait(seconds);
    CAPTURE(runs[i]->err());
    REQUIRE(status == 0);
  }
}

std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& item : fs::recursive_directory_iterator(root)) {
    const auto relative = fs::relative(item.path(), root).string();
    files[relative] = item.is_directory() ? "<folder>" : read_text(item);
  }
  return files;
}

std::string differences(const std::map<std::string, std::string>& before,
                        const std::map<std::string, std::string>& after) {
  std::string text;
  for (const auto& [path, content] : after) {
    const auto it = before.find(path);
    if (it == before.end()) {
      text += "new: " + path + "\n";
    } else if (it->second != content) {
      text += "changed: " + path + "\n";
    }
  }
  for (const auto& [path, content] : before) {
    if (after.count(path) == 0) text += "removed: " + path + "\n";
  }
  return text;
}

std::vector<std::vector<std::string>> metrics_rows(const fs::path& file) {
  const std::string text = read_text(file);
  REQUIRE_MESSAGE(!text.empty(), file.string(), " is empty");
  CHECK_MESSAGE(text.back() == '\n', file.string(), " ends in a torn line");
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);
  CHECK(line == "step,loss,free_energy_q,ess,grad_norm,seconds,skipped");
  while (std::getline(lines, line)) {
    std::vector<std::string> fields;
    std::istringstream parts(line);
    std::string field;
    while (std::getline(parts, field, ',')) {
      char* end = nullptr;
      std::strtod(field.c_str(), &end);
      CHECK_MESSAGE((!field.empty() && *end == '\0'), "not a number: '", field,
                    "' in ", file.string());
      fields.push_back(field);
    }
    CHECK_MESSAGE(fields.size() == 7, "torn line '", line, "' in ",
                  file.string());
    rows.push_back(fields);
  }
  return rows;
}

int64_t metrics_row_count(const fs::path& file) {
  std::error_code error;
  if (!fs::exists(file, error)) return 0;
  const std::string text = read_text(file);
  const auto lines = std::count(text.begin(), text.end(), '\n');
  return lines > 0 ? lines - 1 : 0;
}

}  // namespace latflow::test

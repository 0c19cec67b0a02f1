#include <latflow/error.h>
#include <latflow/log.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <mutex>

namespace latflow::log {

namespace {

struct State {
  Level level = Level::kInfo;
  std::vector<std::string> channels;
  std::ofstream file;
  bool progress_open = false;
  std::mutex mutex;
};

State& state() {
  static State s;
  return s;
}

bool channel_selected(const State& s, const std::string& channel) {
  return s.channels.empty() ||
         std::find(s.channels.begin(), s.channels.end(), channel) !=
             s.channels.end();
}

}  // namespace

Level parse_level(const std::string& name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn") return Level::kWarn;
  if (name == "error") return Level::kError;
  if (name == "quiet") return Level::kQuiet;
  throw InputError(fmt::format(
      "--log-level: expected one of debug, info, warn, error, quiet; got "
      "'{}'",
      name));
}

void set_level(Level level) { state().level = level; }

Level level() { return state().level; }

void set_channels(std::vector<std::string> channels) {
  state().channels = std::move(channels);
}

void open_file(const std::filesystem::path& file) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  s.file.close();
  s.file.open(file, std::ios::app);
}

void close_file() {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  s.file.close();
}

void write(Level level, const std::string& channel, const std::string& text) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  if (level <= Level::kInfo && !channel_selected(s, channel)) return;
  std::string line = text;
  if (level == Level::kWarn) line = "warning: " + text;
  if (level == Level::kError) line = "error: " + text;
  if (level == Level::kDebug) line = fmt::format("[{}] {}", channel, text);
  if (s.progress_open) {
    std::fputs("\r\033[K", stderr);
    s.progress_open = false;
  }
  if (level >= Level::kWarn) {
    std::fputs((line + "\n").c_str(), stderr);
  } else {
    std::fputs((line + "\n").c_str(), stdout);
    std::fflush(stdout);
  }
  if (s.file.is_open()) {
    s.file << line << '\n';
    s.file.flush();
  }
}

bool is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

void progress(const std::string& text) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  if (s.level > Level::kInfo) return;
  std::fputs(("\r\033[K" + text).c_str(), stderr);
  std::fflush(stderr);
  s.progress_open = true;
}

void progress_done() {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  if (s.progress_open) {
    std::fputs("\n", stderr);
    s.progress_open = false;
  }
}

}  // namespace latflow::log

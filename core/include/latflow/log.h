#pragma once

#include <fmt/format.h>

#include <filesystem>
#include <string>
#include <vector>

namespace latflow::log {

enum class Level { kDebug, kInfo, kWarn, kError, kQuiet };

/// Parses "debug", "info", "warn", "error", "quiet".
Level parse_level(const std::string& name);
void set_level(Level level);
Level level();
/// Restricts debug and info lines to these channels (empty: all).
void set_channels(std::vector<std::string> channels);

/// Also writes every line to `file` (appending) until close_file().
void open_file(const std::filesystem::path& file);
void close_file();

/// Writes one line: info to standard output, warnings and errors to
/// standard error, and every line to the open log file.
void write(Level level, const std::string& channel, const std::string& text);

/// Whether standard error is a terminal (progress bars only there).
bool is_terminal();
/// Redraws a one-line progress bar on a terminal; never goes to the file.
void progress(const std::string& text);
/// Ends a progress bar line.
void progress_done();

template <class... Args>
void debug(const std::string& channel, fmt::format_string<Args...> format,
           Args&&... args) {
  if (level() <= Level::kDebug) {
    write(Level::kDebug, channel,
          fmt::format(format, std::forward<Args>(args)...));
  }
}

template <class... Args>
void info(const std::string& channel, fmt::format_string<Args...> format,
          Args&&... args) {
  if (level() <= Level::kInfo) {
    write(Level::kInfo, channel,
          fmt::format(format, std::forward<Args>(args)...));
  }
}

template <class... Args>
void warn(const std::string& channel, fmt::format_string<Args...> format,
          Args&&... args) {
  if (level() <= Level::kWarn) {
    write(Level::kWarn, channel,
          fmt::format(format, std::forward<Args>(args)...));
  }
}

}  // namespace latflow::log

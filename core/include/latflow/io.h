#pragma once

#include <filesystem>
#include <string>

namespace latflow {

/// Writes `text` to `path` atomically: a temporary file in the same folder,
/// flushed and synced, then renamed over the target.
void write_file_atomic(const std::filesystem::path& path,
                       const std::string& text);

/// Renames `from` over `to` after syncing it (for files written by other
/// means, such as torch archives).
void replace_file_atomic(const std::filesystem::path& from,
                         const std::filesystem::path& to);

/// Whole file as text; InputError naming the file if it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace latflow

#pragma once

#include <latflow/registry.h>

#include <filesystem>
#include <string>
#include <vector>

namespace latflow::test {

/// A registry with the project's plugins of the build tree loaded once.
Registry& registry();

/// Result of running the latflow program.
struct CommandResult {
  int status = -1;  ///< exit status
  std::string out;  ///< standard output
  std::string err;  ///< standard error
};

/// Runs the built latflow program with `args` (no shell involved).
CommandResult run_latflow(const std::vector<std::string>& args,
                          const std::vector<std::string>& env = {});

/// A fresh empty folder under the system temp folder, removed with the
/// object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  /// Writes `text` to a file in the folder and returns its path.
  std::filesystem::path write(const std::string& name,
                              const std::string& text) const;

 private:
  std::filesystem::path path_;
};

/// A number in JSON text by dotted path ("free_energy_nis.mean"): each
/// part is found after the previous one. NaN when absent or null.
double json_number(const std::string& json, const std::string& path);

/// Whole file as text.
std::string read_text(const std::filesystem::path& file);

/// Path inside the source tree.
std::filesystem::path source_path(const std::string& relative);

}  // namespace latflow::test

#include <latflow/error.h>
#include <latflow/io.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace latflow {

namespace {

std::filesystem::path temporary_beside(const std::filesystem::path& path) {
  std::random_device device;
  return path.parent_path() /
         fmt::format(".{}.tmp-{}-{:x}", path.filename().string(), getpid(),
                     device());
}

void sync_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void sync_folder(const std::filesystem::path& folder) {
  const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path,
                       const std::string& text) {
  const auto temporary = temporary_beside(path);
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw RunError(fmt::format("{}: cannot write: {}", path.string(),
                                 std::strerror(errno)));
    }
  }
  replace_file_atomic(temporary, path);
}

void replace_file_atomic(const std::filesystem::path& from,
                         const std::filesystem::path& to) {
  sync_file(from);
  std::error_code error;
  std::filesystem::rename(from, to, error);
  if (error) {
    std::filesystem::remove(from, error);
    throw RunError(fmt::format("{}: cannot replace: {}", to.string(),
                               error.message()));
  }
  sync_folder(to.parent_path());
}

std::string read_file(const std::filesystem::path& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw InputError(fmt::format("{}: is a folder, expected a file",
                                 path.string()));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InputError(fmt::format("{}: cannot read: {}", path.string(),
                                 std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace latflow

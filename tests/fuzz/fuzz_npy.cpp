// libFuzzer target: a .npy file of arbitrary bytes, read with read_npy.
// Bad input must end in latflow::InputError; another exception, a crash or
// a sanitizer report is a finding.

#include <latflow/error.h>
#include <latflow/npy.h>

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

/// One file per fuzzing process, rewritten for every input.
const std::filesystem::path& input_file() {
  static const auto path = [] {
    auto p = std::filesystem::temp_directory_path() /
             ("latflow-fuzz-" + std::to_string(::getpid()) + ".npy");
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove(input_file(), ignored);
    });
    return p;
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    std::ofstream out(input_file(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data),
              static_cast<std::streamsize>(size));
  }
  try {
    const auto tensor = latflow::read_npy(input_file());
    // The whole tensor is read: touch every element.
    (void)tensor.sum().item<double>();
  } catch (const latflow::InputError&) {
  }
  return 0;
}

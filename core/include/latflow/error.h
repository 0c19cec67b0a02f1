#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace latflow {

/// Bad input from the user (a file, a key, a value, a command line).
/// The program reports its one-line message and exits with status 2.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A run that failed after its input was accepted. Exit status 1.
class RunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace latflow

/// Throws latflow::InputError with an fmt-formatted message unless `cond`.
#define LATFLOW_CHECK_INPUT(cond, ...)                          \
  do {                                                          \
    if (!(cond)) throw ::latflow::InputError(fmt::format(__VA_ARGS__)); \
  } while (false)

/// Throws latflow::RunError with an fmt-formatted message unless `cond`.
#define LATFLOW_CHECK(cond, ...)                              \
  do {                                                        \
    if (!(cond)) throw ::latflow::RunError(fmt::format(__VA_ARGS__)); \
  } while (false)

// libFuzzer target: an experiment file of arbitrary bytes, read with the
// project's plugins loaded. Bad input must end in latflow::InputError;
// another exception, a crash or a sanitizer report is a finding. An
// experiment that is accepted must reload from its resolved TOML.
//
// The input is the file's text, optionally followed by a line "%%" and one
// KEY=VALUE override a line.

#include <latflow/error.h>
#include <latflow/experiment.h>
#include <latflow/registry.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Plugins stay loaded for the whole run, as in the program.
  static auto* registry = new latflow::Registry();
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string text = input;
  std::vector<std::string> overrides;
  const auto separator = input.find("\n%%\n");
  if (separator != std::string::npos) {
    text = input.substr(0, separator);
    std::istringstream lines(input.substr(separator + 4));
    std::string line;
    while (std::getline(lines, line)) overrides.push_back(line);
  }

  std::string resolved;
  try {
    resolved =
        latflow::Experiment::parse(text, "fuzz.toml", overrides, *registry)
            .resolved_toml();
  } catch (const latflow::InputError&) {
    return 0;
  }
  try {
    latflow::Experiment::parse(resolved, "resolved.toml", {}, *registry);
  } catch (const latflow::InputError& e) {
    std::fprintf(stderr, "accepted, but its resolved TOML is refused: %s\n%s",
                 e.what(), resolved.c_str());
    std::abort();
  }
  return 0;
}

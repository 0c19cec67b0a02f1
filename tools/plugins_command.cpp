#include "cli.h"

#include <latflow/error.h>

#include <fmt/format.h>

#include <iostream>

namespace latflow::cli {

namespace {

std::string plugin_source(const ComponentEntry& entry) {
  return entry.file.empty() ? std::string("built in") : entry.file.string();
}

}  // namespace

int command_plugins(const std::vector<std::string>& args) {
  Common common;
  auto options = common_options(common);
  std::vector<std::string> positional;
  const auto vm = parse(args, options, positional);
  if (vm.count("help")) {
    std::cout << "usage: latflow plugins [KIND/NAME]\n";
    return 0;
  }
  apply_common(common);
  auto& reg = registry();
  reg.load_default_plugins();
  if (positional.empty()) {
    std::string kind;
    for (const auto* entry : reg.entries()) {
      if (entry->kind != kind) {
        kind = entry->kind;
        fmt::print("{}:\n", kind);
      }
      fmt::print("  {:<20} {}\n  {:<20} plugin {} {} ({})\n", entry->type,
                 entry->doc, "", entry->plugin, entry->plugin_version,
                 plugin_source(*entry));
    }
    return 0;
  }
  const std::string id = positional[0];
  const auto slash = id.find('/');
  if (slash == std::string::npos || positional.size() > 1) {
    throw InputError(fmt::format(
        "plugins: expected KIND/NAME, as action/phi4; got '{}'", id));
  }
  const auto& entry = reg.find(id.substr(0, slash), id.substr(slash + 1));
  fmt::print("{}: {}\nplugin {} {} ({})\n\n", entry.id(), entry.doc,
             entry.plugin, entry.plugin_version, plugin_source(entry));
  size_t width = 4;
  for (const auto& spec : entry.schema.specs()) {
    width = std::max(width, spec.key.size());
  }
  fmt::print("{:<{}}  {:<12}  {:<14}  {}\n", "key", width, "default", 14,
             "allowed");
  for (const auto& spec : entry.schema.specs()) {
    fmt::print("{:<{}}  {:<12}  {}\n{:<{}}  {}\n", spec.key, width,
               to_toml(spec.default_value), spec.expectation(), "",
               width, spec.doc);
  }
  return 0;
}

}  // namespace latflow::cli

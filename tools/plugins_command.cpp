#include "cli.h"

#include <latflow/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

namespace latflow::cli {

namespace {

constexpr const char* kHelp = R"(usage: latflow plugins [KIND/NAME]

Without an argument, lists every component by kind and name with its
plugin, version and file. With KIND/NAME (as action/phi4), prints that
component's parameters: key, default, allowed values and doc.

Plugins are searched in the plugin folder installed beside the program,
then in each folder or file of LATFLOW_PLUGIN_PATH (colon separated).
)";

std::string plugin_source(const ComponentEntry& entry) {
  return entry.file.empty() ? std::string("built in") : entry.file.string();
}

/// Every component by kind: name and doc, then plugin, version and file.
void print_list(const Registry& reg) {
  const auto entries = reg.entries();
  if (entries.empty()) {
    fmt::print("no components: no plugin in {} or LATFLOW_PLUGIN_PATH\n",
               bundled_plugin_dir().lexically_normal().string());
    return;
  }
  size_t width = 4;
  for (const auto* entry : entries) {
    width = std::max(width, entry->type.size());
  }
  std::string kind;
  for (const auto* entry : entries) {
    if (entry->kind != kind) {
      fmt::print("{}{}:\n", kind.empty() ? "" : "\n", entry->kind);
      kind = entry->kind;
    }
    fmt::print("  {:<{}}  {}\n  {:<{}}  plugin {} {} ({})\n", entry->type,
               width, entry->doc, "", width, entry->plugin,
               entry->plugin_version, plugin_source(*entry));
  }
  fmt::print(
      "\n{} components from {} plugins; `latflow plugins KIND/NAME` prints "
      "the parameters of one\n",
      entries.size(), reg.plugins().size());
}

/// One component: its doc and origin, its parameters as a table (each
/// followed by its doc), and the experiment table that selects it.
void print_component(const ComponentEntry& entry) {
  fmt::print("{}: {}\nplugin {} {} ({})\n\n", entry.id(), entry.doc,
             entry.plugin, entry.plugin_version, plugin_source(entry));
  const auto& specs = entry.schema.specs();
  if (specs.empty()) {
    fmt::print("no parameters\n");
  } else {
    size_t key_width = 3;
    size_t default_width = 7;
    for (const auto& spec : specs) {
      key_width = std::max(key_width, spec.key.size());
      default_width =
          std::max(default_width, to_toml(spec.default_value).size());
    }
    fmt::print("{:<{}}  {:<{}}  {}\n", "key", key_width, "default",
               default_width, "allowed");
    for (const auto& spec : specs) {
      fmt::print("{:<{}}  {:<{}}  {}\n{:<{}}  {}\n", spec.key, key_width,
                 to_toml(spec.default_value), default_width, spec.expectation(),
                 "", key_width, spec.doc);
    }
  }
  // Observables are not chosen by experiment files.
  if (entry.kind == "observable") return;
  fmt::print(
      "\nin an experiment file, with the defaults:\n  [{}]\n"
      "  type = \"{}\"\n",
      entry.kind, entry.type);
  for (const auto& spec : specs) {
    fmt::print("  {} = {}\n", spec.key, to_toml(spec.default_value));
  }
}

}  // namespace

int command_plugins(const std::vector<std::string>& args) {
  Common common;
  auto options = common_options(common);
  std::vector<std::string> positional;
  const auto vm = parse(args, options, positional);
  if (vm.count("help")) {
    std::cout << kHelp;
    return 0;
  }
  apply_common(common);
  auto& reg = registry();
  reg.load_default_plugins();
  if (positional.empty()) {
    print_list(reg);
    return 0;
  }
  const std::string id = positional[0];
  const auto slash = id.find('/');
  if (slash == std::string::npos || positional.size() > 1) {
    throw InputError(fmt::format(
        "plugins: expected KIND/NAME, as action/phi4; got '{}'", id));
  }
  const std::string kind = id.substr(0, slash);
  const std::vector<std::string> kinds = {"action", "estimator", "flow",
                                          "observable", "sampler"};
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
    const std::string near = closest(kind, kinds);
    throw InputError(fmt::format(
        "plugins: unknown kind '{}'{}; kinds: {}", kind,
        near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near),
        fmt::join(kinds, ", ")));
  }
  print_component(reg.find(kind, id.substr(slash + 1)));
  return 0;
}

}  // namespace latflow::cli

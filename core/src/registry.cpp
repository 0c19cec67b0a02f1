#include <latflow/error.h>
#include <latflow/plugin.h>
#include <latflow/registry.h>
#include <latflow/version.h>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace latflow {

namespace fs = std::filesystem;

Registry::Registry() = default;
Registry::~Registry() = default;

void Registry::add_entry(std::string kind, std::string type, std::string doc,
                         Schema schema, Factory<Component> factory) {
  auto& of_kind = entries_[kind];
  const auto existing = of_kind.find(type);
  if (existing != of_kind.end()) {
    const auto& e = existing->second;
    throw InputError(fmt::format(
        "{}: {}/{} is already registered by plugin '{}'{}", 
        loading_.file.empty() ? "registry" : loading_.file.string(), kind,
        type, e.plugin,
        e.file.empty() ? "" : fmt::format(" ({})", e.file.string())));
  }
  ComponentEntry entry;
  entry.kind = std::move(kind);
  entry.type = type;
  entry.doc = std::move(doc);
  entry.schema = std::move(schema);
  entry.plugin = loading_.name.empty() ? "builtin" : loading_.name;
  entry.plugin_version = loading_.version;
  entry.file = loading_.file;
  entry.keep_loaded = loading_library_;
  entry.factory = std::move(factory);
  of_kind.emplace(std::move(type), std::move(entry));
}

bool Registry::contains(const std::string& kind,
                        const std::string& type) const {
  const auto it = entries_.find(kind);
  return it != entries_.end() && it->second.count(type) > 0;
}

std::vector<std::string> Registry::types(const std::string& kind) const {
  std::vector<std::string> names;
  const auto it = entries_.find(kind);
  if (it == entries_.end()) return names;
  for (const auto& [name, entry] : it->second) names.push_back(name);
  return names;
}

const ComponentEntry& Registry::find(const std::string& kind,
                                     const std::string& type) const {
  const auto it = entries_.find(kind);
  if (it != entries_.end()) {
    const auto entry = it->second.find(type);
    if (entry != it->second.end()) return entry->second;
  }
  const auto known = types(kind);
  const std::string suggestion = closest(type, known);
  throw InputError(fmt::format(
      "unknown {} '{}'{}; known: {}", kind, type,
      suggestion.empty() ? "" : fmt::format(" (did you mean '{}'?)",
                                            suggestion),
      known.empty() ? "none (no plugin provides one)"
                    : fmt::format("{}", fmt::join(known, ", "))));
}

std::vector<const ComponentEntry*> Registry::entries() const {
  std::vector<const ComponentEntry*> all;
  for (const auto& [kind, of_kind] : entries_) {
    for (const auto& [type, entry] : of_kind) all.push_back(&entry);
  }
  return all;
}

namespace {

// Keeps the component's plugin loaded for as long as the component lives:
// the component is destroyed first, then the library reference is dropped.
struct KeepLoaded {
  std::shared_ptr<void> library;
  std::shared_ptr<Component> component;
};

}  // namespace

std::shared_ptr<Component> Registry::make_component(
    const std::string& kind, const Params& params,
    const BuildContext& context) const {
  const auto& entry = find(kind, params.type());
  std::shared_ptr<Component> component;
  try {
    component = entry.factory(params, context);
  } catch (const c10::Error& e) {
    // Values within the schema may still ask for the impossible, such as a
    // lattice too large to allocate: bad input, said in one line.
    const std::string why = e.what_without_backtrace();
    const std::string where = params.source("type").str();
    throw InputError(fmt::format("{}{}[{}] cannot build {} with these "
                                 "parameters: {}",
                                 where, where.empty() ? "" : ": ", kind,
                                 entry.id(), why.substr(0, why.find('\n'))));
  }
  LATFLOW_CHECK(component != nullptr, "{}: factory returned nothing",
                entry.id());
  if (!entry.keep_loaded) return component;
  auto holder = std::make_shared<KeepLoaded>(
      KeepLoaded{entry.keep_loaded, std::move(component)});
  return std::shared_ptr<Component>(holder, holder->component.get());
}

void Registry::load_plugin(const fs::path& file) {
  std::error_code error;
  if (!fs::exists(file, error)) {
    throw InputError(
        fmt::format("{}: plugin file not found", file.string()));
  }
  const fs::path canonical = fs::canonical(file, error);
  for (const auto& plugin : plugins_) {
    if (plugin.file == canonical) return;
  }

  auto library = std::make_shared<boost::dll::shared_library>();
  try {
    library->load(canonical, boost::dll::load_mode::rtld_lazy |
                                 boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    std::string why = e.what();
    std::replace(why.begin(), why.end(), '\n', ' ');
    throw InputError(fmt::format(
        "{}: not a loadable shared library ({})", file.string(), why));
  }
  if (!library->has("latflow_plugin_info") ||
      !library->has("latflow_plugin_register")) {
    throw InputError(fmt::format(
        "{}: not a latflow plugin (it has no LATFLOW_PLUGIN entry point)",
        file.string()));
  }
  const PluginInfo* info =
      library->get_alias<PluginInfoFn>("latflow_plugin_info")();
  if (info->abi_version != LATFLOW_ABI_VERSION) {
    throw InputError(fmt::format(
        "{}: plugin built for latflow ABI version {}, but this latflow has "
        "ABI version {}; rebuild the plugin against latflow {}",
        file.string(), info->abi_version, LATFLOW_ABI_VERSION,
        LATFLOW_VERSION));
  }
  if (std::string(info->torch_version) != LATFLOW_TORCH_VERSION) {
    throw InputError(fmt::format(
        "{}: plugin '{}' built against LibTorch {}, but latflow uses "
        "LibTorch {}; rebuild the plugin",
        file.string(), info->name, info->torch_version,
        LATFLOW_TORCH_VERSION));
  }
  for (const auto& plugin : plugins_) {
    if (plugin.name == info->name) {
      throw InputError(fmt::format(
          "{}: plugin '{}' is already loaded from {}", file.string(),
          info->name, plugin.file.string()));
    }
  }

  loading_ = LoadedPlugin{info->name, info->version, canonical};
  loading_library_ = library;
  try {
    library->get_alias<PluginRegisterFn>("latflow_plugin_register")(*this);
  } catch (...) {
    loading_ = {};
    loading_library_.reset();
    throw;
  }
  plugins_.push_back(loading_);
  loading_ = {};
  loading_library_.reset();
}

void Registry::load_directory(const fs::path& dir, bool required) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    if (!required) return;
    throw InputError(fmt::format("{}: plugin folder not found",
                                 dir.string()));
  }
  std::vector<fs::path> files;
  for (const auto& item : fs::directory_iterator(dir, error)) {
    const auto name = item.path().filename().string();
    if (name.rfind("latflow_", 0) == 0 && item.path().extension() == ".so") {
      files.push_back(item.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) load_plugin(file);
}

void Registry::load_default_plugins() {
  load_directory(bundled_plugin_dir(), false);
  if (const char* path = std::getenv("LATFLOW_PLUGIN_PATH")) {
    std::stringstream folders(path);
    std::string folder;
    while (std::getline(folders, folder, ':')) {
      if (folder.empty()) continue;
      if (fs::is_regular_file(folder)) {
        load_plugin(folder);
      } else {
        load_directory(folder, true);
      }
    }
  }
}

fs::path bundled_plugin_dir() {
  return boost::dll::program_location().parent_path() /
         LATFLOW_PLUGIN_DIR_FROM_BIN;
}

Params make_params(
    const Registry& registry, const std::string& kind,
    const std::string& type,
    const std::vector<std::pair<std::string, ParamValue>>& values) {
  const auto& entry = registry.find(kind, type);
  Params params(kind, type, Source{"make_params"});
  for (const auto& spec : entry.schema.specs()) {
    params.set(spec.key, spec.default_value, std::nullopt);
  }
  for (const auto& [key, value] : values) {
    const auto* spec = entry.schema.find(key);
    if (spec == nullptr) {
      throw InputError(fmt::format("{}: unknown parameter '{}'", entry.id(),
                                   key));
    }
    ParamValue converted = value;
    if (spec->type == ParamType::kFloat) {
      if (const auto* i = std::get_if<int64_t>(&value)) {
        converted = static_cast<double>(*i);
      }
    }
    if (converted.index() != spec->default_value.index()) {
      throw InputError(fmt::format("{}: {} expects {}", entry.id(), key,
                                   describe(spec->type)));
    }
    const std::string why = spec->violation(converted);
    if (!why.empty()) {
      throw InputError(fmt::format("{}: {}: {}", entry.id(), key, why));
    }
    params.set(key, converted, Source{"make_params"});
  }
  return params;
}

}  // namespace latflow

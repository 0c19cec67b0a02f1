#pragma once

#include <latflow/action.h>
#include <latflow/component.h>
#include <latflow/context.h>
#include <latflow/estimator.h>
#include <latflow/flow.h>
#include <latflow/observable.h>
#include <latflow/params.h>
#include <latflow/sampler.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace latflow {

/// Builds a component from its validated parameters.
template <class T>
using Factory =
    std::function<std::shared_ptr<T>(const Params&, const BuildContext&)>;

/// A registered component type.
struct ComponentEntry {
  std::string kind;  ///< "action", "flow", ...
  std::string type;  ///< "phi4"
  std::string doc;   ///< one line
  Schema schema;
  std::string plugin;          ///< plugin name
  std::string plugin_version;  ///< plugin version
  std::filesystem::path file;  ///< library it came from (empty: built in)
  /// Keeps the plugin loaded; declared before the factory, whose code lives
  /// in the plugin, so that the factory is destroyed first.
  std::shared_ptr<void> keep_loaded;
  Factory<Component> factory;

  /// "kind/type"
  std::string id() const { return kind + "/" + type; }
};

/// A plugin library that was loaded.
struct LoadedPlugin {
  std::string name;
  std::string version;
  std::filesystem::path file;
};

/// Factories by kind and type, filled by plugins at load time.
///
/// Every object made by make() keeps its plugin library loaded for as long
/// as the object lives. Unknown and duplicate names are refused with the
/// names that are known.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  template <class T>
  void add(std::string type, std::string doc, Schema schema,
           Factory<T> factory) {
    add_entry(T::kKind, std::move(type), std::move(doc), std::move(schema),
              [factory = std::move(factory)](const Params& p,
                                             const BuildContext& c) {
                return std::static_pointer_cast<Component>(factory(p, c));
              });
  }

  /// Builds a component of kind T::kKind and type params.type().
  template <class T>
  std::shared_ptr<T> make(const Params& params,
                          const BuildContext& context) const {
    return std::static_pointer_cast<T>(
        make_component(T::kKind, params, context));
  }

  /// The entry of kind/type; an InputError listing the known types if none.
  const ComponentEntry& find(const std::string& kind,
                             const std::string& type) const;
  bool contains(const std::string& kind, const std::string& type) const;
  /// Every entry, ordered by kind then type.
  std::vector<const ComponentEntry*> entries() const;
  /// Known types of a kind, sorted.
  std::vector<std::string> types(const std::string& kind) const;

  /// Loads one plugin library: checks its ABI and LibTorch versions, then
  /// runs its registration. A file loaded before is skipped.
  void load_plugin(const std::filesystem::path& file);
  /// Loads every latflow plugin (latflow_*.so) in a folder; a missing
  /// folder is an error when `required`.
  void load_directory(const std::filesystem::path& dir, bool required);
  /// Loads the default folders: the one beside the program
  /// (../lib/latflow/plugins), then each folder of LATFLOW_PLUGIN_PATH.
  void load_default_plugins();
  const std::vector<LoadedPlugin>& plugins() const { return plugins_; }

 private:
  void add_entry(std::string kind, std::string type, std::string doc,
                 Schema schema, Factory<Component> factory);
  std::shared_ptr<Component> make_component(const std::string& kind,
                                            const Params& params,
                                            const BuildContext& context) const;

  std::map<std::string, std::map<std::string, ComponentEntry>> entries_;
  std::vector<LoadedPlugin> plugins_;
  // Set while a plugin's registration runs.
  std::shared_ptr<void> loading_library_;
  LoadedPlugin loading_;
};

/// Parameters of kind/type without a file: the schema's defaults with
/// `values` set (an integer is accepted for a float). For tests and tools.
Params make_params(
    const Registry& registry, const std::string& kind,
    const std::string& type,
    const std::vector<std::pair<std::string, ParamValue>>& values = {});

/// Folder of the project's plugins relative to the running program.
std::filesystem::path bundled_plugin_dir();

}  // namespace latflow

#pragma once

#include <latflow/registry.h>
#include <latflow/version.h>

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>

namespace latflow {

/// What a plugin says of itself before anything else of it runs.
/// Plain data so that it can be read from a plugin of another ABI.
struct PluginInfo {
  int abi_version;
  const char* name;
  const char* version;
  const char* torch_version;
};

using PluginInfoFn = const PluginInfo*();
using PluginRegisterFn = void(Registry&);

}  // namespace latflow

/// Declares a plugin and opens its registration function, whose body adds
/// the plugin's components to `registry`:
///
///     LATFLOW_PLUGIN("phi4", "1.0.0") {
///       registry.add<latflow::Action>("phi4", "doc", schema, factory);
///     }
#define LATFLOW_PLUGIN(plugin_name, plugin_version)                      \
  namespace latflow_plugin_entry {                                       \
  const ::latflow::PluginInfo* info() {                                  \
    static const ::latflow::PluginInfo plugin_info{                      \
        LATFLOW_ABI_VERSION, plugin_name, plugin_version,                \
        LATFLOW_TORCH_VERSION};                                          \
    return &plugin_info;                                                 \
  }                                                                      \
  void register_components(::latflow::Registry& registry);               \
  }                                                                      \
  BOOST_DLL_ALIAS(latflow_plugin_entry::info, latflow_plugin_info)       \
  BOOST_DLL_ALIAS(latflow_plugin_entry::register_components,             \
                  latflow_plugin_register)                               \
  void latflow_plugin_entry::register_components(                        \
      ::latflow::Registry& registry)

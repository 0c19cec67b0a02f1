// A plugin that claims another ABI version: the loader must refuse it
// before running any of its code.

#include <latflow/plugin.h>

namespace {

const latflow::PluginInfo* info() {
  static const latflow::PluginInfo plugin_info{LATFLOW_ABI_VERSION + 1000,
                                               "bad_abi", "0.0.1",
                                               LATFLOW_TORCH_VERSION};
  return &plugin_info;
}

void register_components(latflow::Registry&) {
  throw std::logic_error("a refused plugin must not register");
}

}  // namespace

BOOST_DLL_ALIAS(info, latflow_plugin_info)
BOOST_DLL_ALIAS(register_components, latflow_plugin_register)

// A plugin that claims another latflow ABI version (LATFLOW_WRONG_ABI) or
// another LibTorch (otherwise): the program must refuse it, naming both
// versions, before running any of its code.

#include <latflow/plugin.h>

#include <stdexcept>

namespace {

#ifdef LATFLOW_WRONG_ABI
constexpr int kAbiVersion = LATFLOW_ABI_VERSION + 1000;
constexpr const char* kTorchVersion = LATFLOW_TORCH_VERSION;
#else
constexpr int kAbiVersion = LATFLOW_ABI_VERSION;
constexpr const char* kTorchVersion = "0.0.1";
#endif

const latflow::PluginInfo* info() {
  static const latflow::PluginInfo plugin_info{kAbiVersion, "wrong", "0.0.1",
                                               kTorchVersion};
  return &plugin_info;
}

void register_components(latflow::Registry&) {
  throw std::logic_error("a refused plugin must not register");
}

}  // namespace

BOOST_DLL_ALIAS(info, latflow_plugin_info)
BOOST_DLL_ALIAS(register_components, latflow_plugin_register)

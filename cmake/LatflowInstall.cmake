# The CMake package: find_package(latflow) gives latflow::core, the
# latflow::latflow program and latflow_add_plugin() to third-party plugin
# projects. Included last, once every installed target is defined.

include(CMakePackageConfigHelpers)

set(LATFLOW_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/latflow)
# Recorded so that a project using the package is refused at configure time
# when it finds another LibTorch: the loader would refuse its plugins.
set(LATFLOW_BUILT_TORCH_VERSION ${Torch_VERSION})
# fmt's inline code is compiled into both latflow and the plugins: the same
# major version, at least the one latflow was built with.
set(LATFLOW_BUILT_FMT_VERSION ${fmt_VERSION})
math(EXPR LATFLOW_NEXT_FMT_MAJOR "${fmt_VERSION_MAJOR} + 1")

install(EXPORT latflowTargets
  NAMESPACE latflow::
  DESTINATION ${LATFLOW_CMAKE_INSTALL_DIR})
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/latflowConfig.cmake.in
  ${PROJECT_BINARY_DIR}/latflowConfig.cmake
  INSTALL_DESTINATION ${LATFLOW_CMAKE_INSTALL_DIR}
  PATH_VARS LATFLOW_PLUGIN_INSTALL_DIR)
# Releases 0.x break interfaces at minor versions; the plugin ABI itself is
# checked again at load time.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/latflowConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/latflowConfig.cmake
  ${PROJECT_BINARY_DIR}/latflowConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/LatflowPlugin.cmake
  ${PROJECT_SOURCE_DIR}/cmake/pch.cpp
  DESTINATION ${LATFLOW_CMAKE_INSTALL_DIR})

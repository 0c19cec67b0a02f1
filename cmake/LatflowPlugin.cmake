# latflow_add_plugin(NAME SOURCES src...)
# Builds a latflow plugin as a MODULE library named latflow_NAME, linked
# against latflow::core, and installs it to the plugin folder of the prefix
# (lib/latflow/plugins).
#
# The same function serves latflow's own build and, through
# find_package(latflow), third-party projects. Inside latflow the plugin
# lands in the plugin folder of the build tree; elsewhere it lands in
# LATFLOW_PLUGIN_OUTPUT_DIR, by default the project's build folder, so that
# LATFLOW_PLUGIN_PATH=<build folder> finds it. Set LATFLOW_PCH to ON before
# the first call to precompile the LibTorch headers (worth it from a few
# source files on).

include(GNUInstallDirs)

if(NOT DEFINED LATFLOW_PLUGIN_INSTALL_DIR)
  set(LATFLOW_PLUGIN_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/latflow/plugins)
endif()
if(NOT DEFINED LATFLOW_WARNINGS)
  set(LATFLOW_WARNINGS -Wall -Wextra)
endif()
set(LATFLOW_PLUGIN_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR})

# One object library holding the precompiled LibTorch headers, made on first
# use when the project does not define its own.
function(_latflow_plugin_pch)
  add_library(latflow_pch OBJECT ${LATFLOW_PLUGIN_CMAKE_DIR}/pch.cpp)
  target_link_libraries(latflow_pch PRIVATE latflow::core)
  target_precompile_headers(latflow_pch PRIVATE
    <torch/torch.h> <fmt/format.h> <string> <vector> <map> <memory>)
endfunction()

function(latflow_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "latflow_add_plugin(${name}): no SOURCES given")
  endif()
  set(target latflow_${name})
  set(output_dir ${LATFLOW_PLUGIN_OUTPUT_DIR})
  if(NOT output_dir)
    set(output_dir ${PROJECT_BINARY_DIR})
  endif()
  add_library(${target} MODULE ${ARG_SOURCES})
  # From lib/latflow/plugins back to lib, where liblatflow_core lives when
  # the plugin shares latflow's prefix; the link path covers the others.
  file(RELATIVE_PATH to_libdir /prefix/${LATFLOW_PLUGIN_INSTALL_DIR}
       /prefix/${CMAKE_INSTALL_LIBDIR})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME latflow_${name}
    LIBRARY_OUTPUT_DIRECTORY ${output_dir}
    INSTALL_RPATH "$ORIGIN/${to_libdir}"
    INSTALL_RPATH_USE_LINK_PATH ON)
  target_link_libraries(${target} PRIVATE latflow::core)
  target_compile_options(${target} PRIVATE ${LATFLOW_WARNINGS})
  if(LATFLOW_PCH)
    if(NOT TARGET latflow_pch)
      _latflow_plugin_pch()
    endif()
    target_precompile_headers(${target} REUSE_FROM latflow_pch)
  endif()
  install(TARGETS ${target} LIBRARY DESTINATION ${LATFLOW_PLUGIN_INSTALL_DIR})
  set_property(GLOBAL APPEND PROPERTY LATFLOW_PLUGINS ${target})
endfunction()

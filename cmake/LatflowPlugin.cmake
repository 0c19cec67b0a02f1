# latflow_add_plugin(NAME SOURCES src...)
# Builds a latflow plugin as a MODULE library named latflow_NAME, linked
# against latflow::core, placed in the plugin folder of the build tree and
# installed to the plugin folder of the prefix.
function(latflow_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  set(target latflow_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME latflow_${name}
    LIBRARY_OUTPUT_DIRECTORY ${LATFLOW_PLUGIN_OUTPUT_DIR})
  target_link_libraries(${target} PRIVATE latflow::core)
  target_compile_options(${target} PRIVATE ${LATFLOW_WARNINGS})
  if(TARGET latflow_pch AND LATFLOW_PCH)
    target_precompile_headers(${target} REUSE_FROM latflow_pch)
  endif()
  install(TARGETS ${target} LIBRARY DESTINATION ${LATFLOW_PLUGIN_INSTALL_DIR})
  set_property(GLOBAL APPEND PROPERTY LATFLOW_PLUGINS ${target})
endfunction()

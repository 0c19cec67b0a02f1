# cmake -DPROGRAM=... -DPLUGIN_DIR=... -DWRONG=abi|torch -DABI_VERSION=...
#       -DVERSION=... -P check_refused.cmake
# `latflow plugins` with LATFLOW_PLUGIN_PATH at a folder holding a plugin
# of another ABI (or LibTorch) must exit 2 with one line naming both.

execute_process(COMMAND ${PROGRAM} --version
  RESULT_VARIABLE rc OUTPUT_VARIABLE version_line)
if(NOT rc EQUAL 0 OR NOT version_line MATCHES "LibTorch ([^,]+),")
  message(FATAL_ERROR "latflow --version: exit ${rc}: ${version_line}")
endif()
set(torch ${CMAKE_MATCH_1})

execute_process(
  COMMAND ${CMAKE_COMMAND} -E env LATFLOW_PLUGIN_PATH=${PLUGIN_DIR}
          ${PROGRAM} plugins
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 50)

set(file "${PLUGIN_DIR}/latflow_wrong_${WRONG}.so")
if(WRONG STREQUAL "abi")
  math(EXPR wrong_abi "${ABI_VERSION} + 1000")
  string(CONCAT expected
    "error: ${file}: plugin built for latflow ABI version ${wrong_abi}, "
    "but this latflow has ABI version ${ABI_VERSION}; rebuild the plugin "
    "against latflow ${VERSION}\n")
else()
  string(CONCAT expected
    "error: ${file}: plugin 'wrong' built against LibTorch 0.0.1, but "
    "latflow uses LibTorch ${torch}; rebuild the plugin\n")
endif()

if(NOT rc EQUAL 2 OR NOT err STREQUAL expected)
  message(FATAL_ERROR "latflow plugins with ${file}: exit ${rc} "
    "(expected 2)\nstderr:   ${err}expected: ${expected}stdout: ${out}")
endif()
message(STATUS "refused as expected: ${err}")

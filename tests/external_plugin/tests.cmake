# Third-party plugins, end to end (label "external").
#
# external_plugin installs this build into a scratch prefix, builds the XY
# model of this folder against the installed package as a fresh project,
# and checks the numbers the installed program prints for it, loaded both
# through LATFLOW_PLUGIN_PATH and through [plugins] paths; then it builds
# and runs the action project that `latflow new-plugin` writes.
# external_new_plugin_kinds (label "slow") does the same for every kind.
# cli_refuses_wrong_* load plugins of another ABI or LibTorch through the
# program, which must refuse them in one line naming both versions.

set(LATFLOW_EXTERNAL_SOURCE ${CMAKE_CURRENT_LIST_DIR})
set(LATFLOW_EXTERNAL_WORK ${PROJECT_BINARY_DIR}/external_plugin)

# A sanitized latflow needs sanitized plugins and test programs.
set(latflow_external_flags "")
if(LATFLOW_SANITIZE)
  set(latflow_external_flags "-fsanitize=address,undefined")
endif()
# The projects built against the install find the packages this build
# found. A list in a test's command line would be split: passed with '|'.
string(REPLACE ";" "|" latflow_external_prefix_path "${CMAKE_PREFIX_PATH}")
set(latflow_external_packages)
foreach(package Torch fmt Boost doctest)
  if(${package}_DIR)
    list(APPEND latflow_external_packages "${package}_DIR=${${package}_DIR}")
  endif()
endforeach()
string(REPLACE ";" "|" latflow_external_packages
       "${latflow_external_packages}")
set(latflow_external_args
  -DLATFLOW_BUILD_DIR=${PROJECT_BINARY_DIR}
  -DCONFIG=$<CONFIG>
  -DEXAMPLE_DIR=${LATFLOW_EXTERNAL_SOURCE}
  -DGENERATOR=${CMAKE_GENERATOR}
  -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
  "-DCXX_FLAGS=${latflow_external_flags}"
  -DBUILD_TYPE=${CMAKE_BUILD_TYPE}
  -DPREFIX_PATH=${latflow_external_prefix_path}
  -DPACKAGE_DIRS=${latflow_external_packages}
  -DABI_VERSION=${LATFLOW_ABI_VERSION}
  -DVERSION=${PROJECT_VERSION})

# The experiments name the action, flow and estimator shipped with latflow.
if(TARGET latflow_phi4 AND TARGET latflow_affine_coupling AND
   TARGET latflow_estimators)
  add_test(NAME external_plugin COMMAND ${CMAKE_COMMAND}
    ${latflow_external_args} -DMODE=example
    -DWORK_DIR=${LATFLOW_EXTERNAL_WORK}/example
    -P ${LATFLOW_EXTERNAL_SOURCE}/check_external.cmake)
  set_tests_properties(external_plugin PROPERTIES
    LABELS external TIMEOUT 900 RESOURCE_LOCK latflow_external_cpu)
  add_test(NAME external_new_plugin_kinds COMMAND ${CMAKE_COMMAND}
    ${latflow_external_args} -DMODE=kinds
    -DWORK_DIR=${LATFLOW_EXTERNAL_WORK}/kinds
    -P ${LATFLOW_EXTERNAL_SOURCE}/check_external.cmake)
  set_tests_properties(external_new_plugin_kinds PROPERTIES
    LABELS "external;slow" TIMEOUT 1800 RESOURCE_LOCK latflow_external_cpu)
else()
  message(STATUS "external_plugin test left out: it needs the "
                 "phi4, affine_coupling and estimators plugins")
endif()

foreach(wrong abi torch)
  set(target latflow_test_wrong_${wrong})
  add_library(${target} MODULE ${LATFLOW_EXTERNAL_SOURCE}/wrong_plugin.cpp)
  set_target_properties(${target} PROPERTIES PREFIX ""
    OUTPUT_NAME latflow_wrong_${wrong}
    LIBRARY_OUTPUT_DIRECTORY ${LATFLOW_EXTERNAL_WORK}/wrong_${wrong})
  target_link_libraries(${target} PRIVATE latflow::core)
  if(LATFLOW_PCH)
    target_precompile_headers(${target} REUSE_FROM latflow_pch)
  endif()
  if(wrong STREQUAL "abi")
    target_compile_definitions(${target} PRIVATE LATFLOW_WRONG_ABI)
  endif()
  add_test(NAME cli_refuses_wrong_${wrong} COMMAND ${CMAKE_COMMAND}
    -DPROGRAM=$<TARGET_FILE:latflow>
    -DPLUGIN_DIR=${LATFLOW_EXTERNAL_WORK}/wrong_${wrong}
    -DWRONG=${wrong}
    -DABI_VERSION=${LATFLOW_ABI_VERSION}
    -DVERSION=${PROJECT_VERSION}
    -P ${LATFLOW_EXTERNAL_SOURCE}/check_refused.cmake)
  set_tests_properties(cli_refuses_wrong_${wrong} PROPERTIES
    LABELS external TIMEOUT 60)
endforeach()

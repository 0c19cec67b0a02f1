# Reliability (label "reliability", part of the default run): bad input
# through the command line, SIGKILL, SIGINT and SIGTERM during training,
# resumption, non-finite steps. tests/fuzz holds the fuzz targets, built by
# a separate configure with -DLATFLOW_FUZZ=ON.
set(LATFLOW_RELIABILITY_DIR ${CMAKE_CURRENT_LIST_DIR})

latflow_add_test(test_bad_input LABELS reliability TIMEOUT 900 SOURCES
  ${LATFLOW_RELIABILITY_DIR}/test_bad_input.cpp
  ${LATFLOW_RELIABILITY_DIR}/reliability_support.cpp)
target_compile_definitions(test_bad_input PRIVATE
  LATFLOW_BAD_ABI_PLUGIN="$<TARGET_FILE:latflow_test_bad_abi>"
  LATFLOW_CORE_LIBRARY="$<TARGET_FILE:latflow_core>")
add_dependencies(test_bad_input latflow_test_bad_abi)

latflow_add_test(test_interruptions LABELS reliability TIMEOUT 900 SOURCES
  ${LATFLOW_RELIABILITY_DIR}/test_interruptions.cpp
  ${LATFLOW_RELIABILITY_DIR}/reliability_support.cpp)

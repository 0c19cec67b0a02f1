# Plugins made only for the loader tests, outside the plugin folder.
add_library(latflow_test_bad_abi MODULE
            ${CMAKE_CURRENT_LIST_DIR}/bad_abi_plugin.cpp)
set_target_properties(latflow_test_bad_abi PROPERTIES PREFIX ""
  OUTPUT_NAME latflow_bad_abi
  LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/test_plugins)
target_link_libraries(latflow_test_bad_abi PRIVATE latflow::core)

latflow_add_test(test_core SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_optimizer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_params.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_registry.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_stats.cpp)
target_compile_definitions(test_core PRIVATE
  LATFLOW_BAD_ABI_PLUGIN="$<TARGET_FILE:latflow_test_bad_abi>"
  LATFLOW_CORE_LIBRARY="$<TARGET_FILE:latflow_core>")
add_dependencies(test_core latflow_test_bad_abi)

latflow_add_test(test_cli SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli.cpp)

latflow_add_test(test_sweep SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sweep.cpp)

latflow_add_test(test_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bench.cpp)

latflow_add_test(test_estimators SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_estimators.cpp)

latflow_add_test(test_phi4_training LABELS e2e TIMEOUT 1200 SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_phi4_training.cpp
  ${PROJECT_SOURCE_DIR}/tests/reliability/reliability_support.cpp)

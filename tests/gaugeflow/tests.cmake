# The circle maps and masks are also compiled into the suite, so that they
# are tested directly and not only through the flow.
set(LATFLOW_GAUGEFLOW_DIR ${PROJECT_SOURCE_DIR}/plugins/u1_equivariant)

latflow_add_test(test_gaugeflow SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_gaugeflow.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_circle_maps.cpp
  ${LATFLOW_GAUGEFLOW_DIR}/circle_map.cpp
  ${LATFLOW_GAUGEFLOW_DIR}/masks.cpp)
target_include_directories(test_gaugeflow PRIVATE ${LATFLOW_GAUGEFLOW_DIR})

latflow_add_test(bench_gaugeflow LABELS bench SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/bench_gaugeflow.cpp)

# The study's tools: precision handling and `latflow plot`.
latflow_add_test(test_precision SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_precision.cpp)

latflow_add_test(test_plot SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_plot.cpp)

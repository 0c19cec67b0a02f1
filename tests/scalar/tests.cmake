latflow_add_test(test_scalar
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_scalar.cpp)

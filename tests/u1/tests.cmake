# The u1 plugin's suites. Both compile the plugin's Wilson-Dirac kernel in
# directly, to reach the complex determinant and the assembly step.
latflow_add_test(test_u1 SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_npy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_schwinger.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_u1_gauge.cpp
  ${PROJECT_SOURCE_DIR}/plugins/u1/wilson_dirac.cpp)
target_include_directories(test_u1 PRIVATE ${PROJECT_SOURCE_DIR}/plugins/u1)

# Timings of the Dirac operator; not part of the default run.
latflow_add_test(bench_dirac SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/bench_dirac.cpp
  ${PROJECT_SOURCE_DIR}/plugins/u1/wilson_dirac.cpp
  LABELS bench)
target_include_directories(bench_dirac PRIVATE
  ${PROJECT_SOURCE_DIR}/plugins/u1)

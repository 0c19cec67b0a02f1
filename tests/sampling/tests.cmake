# Samplers, chain statistics and `latflow sample`. The physics checks that
# need long chains run in test_sampling_physics, labelled slow.
latflow_add_test(test_sampling SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_statistics.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_samplers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_sample_command.cpp)

latflow_add_test(test_sampling_physics LABELS slow TIMEOUT 1800 SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_sampling_physics.cpp)

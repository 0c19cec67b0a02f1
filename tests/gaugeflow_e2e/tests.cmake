# End to end: the gauge-equivariant flow on pure U(1) from experiments/.
# Two trainings side by side, about eleven minutes on two cores: label slow,
# run by .ci/run after the default suite.
latflow_add_test(test_u1_pure_training LABELS slow TIMEOUT 3600 SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_u1_pure_training.cpp
  ${PROJECT_SOURCE_DIR}/tests/reliability/reliability_support.cpp)

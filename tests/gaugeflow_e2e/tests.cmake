# End to end: the gauge-equivariant flow on pure U(1) from experiments/.
# Two trainings of about three minutes each on two cores: label slow.
latflow_add_test(test_u1_pure_training LABELS slow TIMEOUT 1800 SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_u1_pure_training.cpp)

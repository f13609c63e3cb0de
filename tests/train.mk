# The trainer (nn/train.c, nn/train_layers.c, nn/train_conv.c, nn/gradnorm.c): gradient
# checks per layer and for a whole small network, GradNorm, a short training
# run, checkpoints.
check_PROGRAMS += tests/test_train
TESTS += tests/test_train
tests_test_train_SOURCES = tests/test_train.c tests/cmocka_all.h
tests_test_train_CFLAGS = $(TEST_CFLAGS)
tests_test_train_LDADD = $(DTTEST_LIBS) $(NN_LIBS) $(CMOCKA_LIBS)

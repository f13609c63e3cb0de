noinst_LIBRARIES += libnn.a
libnn_a_SOURCES = \
	nn/model.c nn/model.h nn/hparams.c nn/nn_internal.h \
	nn/net.c nn/net.h \
	nn/ref.c nn/ref.h \
	nn/train.c nn/train.h nn/train_internal.h nn/trainer.h nn/train_ckpt.c \
	nn/train_layers.c nn/train_layers.h \
	nn/train_conv.c nn/train_conv.h nn/gradnorm.c
libnn_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
NN_LIBS = libnn.a libdtutil.a $(JANSSON_LIBS) $(DNNL_LIBS) -lm

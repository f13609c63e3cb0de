/*
 * nn/nn_internal.h — what the nn/ sources share and nobody else sees: the
 * oneDNN status check and the ISA clones of our own hot loops.
 */
#ifndef NN_INTERNAL_H
#define NN_INTERNAL_H

#include <dnnl.h>
#include <dnnl_debug.h>

#include "util/error.h"

/* Calls a oneDNN function; on failure fills `err` and jumps to `fail`. */
#define NN_TRY(call)                                                         \
	do {                                                                 \
		dnnl_status_t s_ = (call);                                   \
		if (s_ != dnnl_success) {                                    \
			dt_error_set(err, DT_E_INTERNAL, "oneDNN: %s: %s", #call, \
			    dnnl_status2str(s_));                            \
			goto fail;                                           \
		}                                                            \
	} while (0)

/*
 * Our own loops are compiled for the baseline ISA by default; NN_HOT adds
 * AVX2+FMA and AVX-512 clones, picked at load time by the CPU (GCC ifunc).
 * Left out under AddressSanitizer, where the clones only slow the build.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define NN_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NN_HOT
#endif

#endif /* NN_INTERNAL_H */

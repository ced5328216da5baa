#include "small_gemm.h"
#include <libxsmm.h>
#include <stdlib.h>

// libxsmm's initialisation sets OMP_PROC_BIND=TRUE in the process environment when no affinity is set, which would
// pin the threads of any OpenMP runtime loaded later (a Python target's libraries) and of every child process (sweep
// runs). It is initialised here, at load time while the process has one thread, and the variable is put back.
__attribute__((constructor)) static void dsn_small_gemm_init(void) {
    const char *before = getenv("OMP_PROC_BIND");
    const int absent = before == NULL, empty = before != NULL && *before == 0;
    libxsmm_init();
    if (absent) unsetenv("OMP_PROC_BIND");
    if (empty) setenv("OMP_PROC_BIND", "", 1);
}

int dsn_small_sgemm(int trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta,
                    float *c, int ldc) {
    if (beta != 0.0f && beta != 1.0f) return 0;
    const float alpha = 1.0f;
    const libxsmm_blasint mm = m, nn = n, kk = k, la = lda, lb = ldb, lc = ldc;
    // The flags are part of the kernel's key: a beta of 0 must not read C (it may hold NaN from a previous use).
    const int flags = LIBXSMM_GEMM_FLAGS('N', trans_b ? 'T' : 'N') | (beta == 0.0f ? LIBXSMM_GEMM_FLAG_BETA_0 : 0);
    // libxsmm caches each generated kernel by its descriptor; dispatch is thread-safe.
    const libxsmm_smmfunction kernel = libxsmm_smmdispatch(mm, nn, kk, &la, &lb, &lc, &alpha, &beta, &flags, NULL);
    if (kernel == NULL) return 0;
    kernel(a, b, c);
    return 1;
}

const char *dsn_small_gemm_target(void) { return libxsmm_get_target_arch(); }

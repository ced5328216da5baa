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

// One libxsmm kernel for C <- op(A)·op(B) + beta·C at this shape, or NULL.
static libxsmm_smmfunction dispatch(int trans_b, int m, int n, int k, int lda, int ldb, int ldc, float beta) {
    const float alpha = 1.0f;
    const libxsmm_blasint mm = m, nn = n, kk = k, la = lda, lb = ldb, lc = ldc;
    // The flags are part of the kernel's key: a beta of 0 must not read C (it may hold NaN from a previous use).
    const int flags = LIBXSMM_GEMM_FLAGS('N', trans_b ? 'T' : 'N') | (beta == 0.0f ? LIBXSMM_GEMM_FLAG_BETA_0 : 0);
    // libxsmm caches each generated kernel by its descriptor; dispatch is thread-safe.
    return libxsmm_smmdispatch(mm, nn, kk, &la, &lb, &lc, &alpha, &beta, &flags, NULL);
}

int dsn_small_sgemm(int trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta,
                    float *c, int ldc, int k_block) {
    if (beta != 0.0f && beta != 1.0f) return 0;
    if (k <= k_block || k_block <= 0) {
        const libxsmm_smmfunction kernel = dispatch(trans_b, m, n, k, lda, ldb, ldc, beta);
        if (kernel == NULL) return 0;
        kernel(a, b, c);
        return 1;
    }
    // Blocks of k_block along k, then the remainder; every kernel is dispatched before C is touched.
    const int remainder = k % k_block;
    const libxsmm_smmfunction first = dispatch(trans_b, m, n, k_block, lda, ldb, ldc, beta);
    const libxsmm_smmfunction next = dispatch(trans_b, m, n, k_block, lda, ldb, ldc, 1.0f);
    const libxsmm_smmfunction last = remainder ? dispatch(trans_b, m, n, remainder, lda, ldb, ldc, 1.0f) : next;
    if (first == NULL || next == NULL || last == NULL) return 0;
    // op(A) is m×k column-major (k advances by lda); op(B) is k×n, stored n×k when transposed (k advances by ldb).
    const long a_step = (long)k_block * lda, b_step = trans_b ? (long)k_block * ldb : k_block;
    first(a, b, c);
    int done = k_block;
    for (; done + k_block <= k; done += k_block) {
        a += a_step;
        b += b_step;
        next(a, b, c);
    }
    if (remainder) last(a + a_step, b + b_step, c);
    return 1;
}

const char *dsn_small_gemm_target(void) { return libxsmm_get_target_arch(); }

#include <cblas.h>
// Declared by OpenBLAS but not by every cblas.h flavour; used to pin one BLAS thread per run.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
// Flush denormal results and inputs to zero on this thread (SSE MXCSR FTZ|DAZ): tiny gradients late in
// training otherwise take microcode assists that slow float kernels several-fold.
static inline void dsn_flush_denormals_to_zero(void) {
#if defined(__x86_64__)
    __builtin_ia32_ldmxcsr(__builtin_ia32_stmxcsr() | 0x8040);
#endif
}
// Keep freed large blocks in the heap (glibc): see Numerics.Memory.
#include <malloc.h>
static inline void dsn_keep_freed_memory(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest allowed threshold on 64-bit systems
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    // One arena for all threads: blocks this large do not fit the 64 MiB heaps of glibc's per-thread arenas, which
    // map and unmap them on every use (iDEM generation on two threads spent a quarter of its time in page faults).
    mallopt(M_ARENA_MAX, 1);
#endif
}
// LAPACK routines that OpenBLAS exports (Fortran calling convention: hidden string lengths at the end).
#include <stddef.h>
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);

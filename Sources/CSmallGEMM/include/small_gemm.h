#ifndef DSN_SMALL_GEMM_H
#define DSN_SMALL_GEMM_H
// Small single-precision products through libxsmm's JIT-generated kernels (no packing, no blocking), for the
// narrow shapes of the networks' layers. Column-major, as libxsmm is.
//
// Returns 1 after computing C <- op(A)·op(B) + beta·C with beta in {0, 1} (op(A) m×k, op(B) k×n, C m×n), or 0 when
// libxsmm has no kernel for the request (another beta, or no JIT on this CPU), leaving C untouched. Only B may be
// transposed (libxsmm cannot transpose A).
int dsn_small_sgemm(int trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta,
                    float *c, int ldc);
// The instruction set libxsmm generates code for on this machine ("hsw", "skx", "cpx", ...), for provenance.
const char *dsn_small_gemm_target(void);
#endif

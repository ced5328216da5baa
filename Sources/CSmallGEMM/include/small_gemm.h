#ifndef DSN_SMALL_GEMM_H
#define DSN_SMALL_GEMM_H
// Small single-precision products through libxsmm's JIT-generated kernels (no packing, no blocking), for the
// narrow shapes of the networks' layers. Column-major, as libxsmm is.
//
// Returns 1 after computing C <- op(A)·op(B) + beta·C with beta in {0, 1} (op(A) m×k, op(B) k×n, C m×n), or 0 when
// libxsmm has no kernel for the request (another beta, or no JIT on this CPU), leaving C untouched. Only B may be
// transposed (libxsmm cannot transpose A).
//
// A k longer than a positive k_block is cut into blocks of k_block (and a remainder), each continuing the previous block's sums
// (beta = 1). One call over a long k (weight gradients sum over up to 10^4 rows) streams both operands through the
// whole k once per register tile and spills the caches; blocks that fit stay in cache. libxsmm's kernels add over k
// in order, so the blocked product is bit for bit the one-call product (NumericsTests.GEMMTests checks this).
int dsn_small_sgemm(int trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta,
                    float *c, int ldc, int k_block);
// A weight gradient in row-major terms, C (m × n, ldc) <- Aᵀ·B + C with A k × m (lda) and B k × n (ldb), for n a
// multiple of 16, on AVX2 with FMA (the caller checks the CPU): each value of C is one chain of fused multiply-adds
// over k in order starting from C, as libxsmm's kernels compute it, so the same bits as the libxsmm product. libxsmm's
// AVX2 code for this transposed product ran 25 % slower at 64 × 64 over 600 rows (weight_gradient.c).
void dsn_weight_gradient(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc);
// The instruction set libxsmm generates code for on this machine ("hsw", "skx", "cpx", ...), for provenance.
const char *dsn_small_gemm_target(void);
#endif

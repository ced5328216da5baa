#include "small_gemm.h"
#include <immintrin.h>

// Rows of A's k-slices summed per pass over C: a 64 × 64 slice pair (32 KB) stays in L1 while every register tile
// of C reads it, where one pass over 600 rows streamed both operands from L2 once per tile (64 → 55 against 70 µs).
#define DSN_K_SLICE 64

// C[0..<rows][0..<16] += A[q][0..<rows]ᵀ·B[q][0..<16] over q < k: `rows` (at most 6) × 16 accumulators in registers,
// each one chain of fused multiply-adds over q in order, as libxsmm's kernels add.
static inline __attribute__((always_inline, target("avx2,fma")))
void dsn_weight_gradient_tile(const int rows, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    __m256 acc[6][2];
    for (int r = 0; r < rows; r++) {
        acc[r][0] = _mm256_loadu_ps(c + (long)r * ldc);
        acc[r][1] = _mm256_loadu_ps(c + (long)r * ldc + 8);
    }
    for (int q = 0; q < k; q++) {
        const __m256 b0 = _mm256_loadu_ps(b + (long)q * ldb), b1 = _mm256_loadu_ps(b + (long)q * ldb + 8);
        for (int r = 0; r < rows; r++) {
            const __m256 x = _mm256_broadcast_ss(a + (long)q * lda + r);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < rows; r++) {
        _mm256_storeu_ps(c + (long)r * ldc, acc[r][0]);
        _mm256_storeu_ps(c + (long)r * ldc + 8, acc[r][1]);
    }
}

__attribute__((target("avx2,fma")))
void dsn_weight_gradient(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    for (int q = 0; q < k; q += DSN_K_SLICE) {
        const int slice = k - q < DSN_K_SLICE ? k - q : DSN_K_SLICE;
        const float *aq = a + (long)q * lda, *bq = b + (long)q * ldb;
        // The next slice's lines of A, a few before each tile, so that they arrive while this slice is computed. A is
        // usually the activation cache, read back from memory: the tiles' strided reads of it missed one line after
        // another (72–75 against 57 µs at 64 × 64 over 600 rows with A out of cache; the prefetcher does not follow
        // them, and prefetching a whole slice at once did not help either).
        const int lines_per_row = (m + 15) / 16;
        const int next = k - q - slice < DSN_K_SLICE ? k - q - slice : DSN_K_SLICE;
        const int lines = next * lines_per_row, tiles = (n / 16) * (m / 6);  // the full tiles, which prefetch
        const int per_tile = tiles > 0 ? (lines + tiles - 1) / tiles : 0;
        int line = 0;
        for (int j = 0; j < n; j += 16) {
            int i = 0;
            for (; i + 6 <= m; i += 6) {
                for (int p = 0; p < per_tile && line < lines; p++, line++) {
                    const float *row = aq + (long)(slice + line / lines_per_row) * lda;
                    _mm_prefetch((const char *)(row + (line % lines_per_row) * 16), _MM_HINT_T0);
                }
                dsn_weight_gradient_tile(6, slice, aq + i, lda, bq + j, ldb, c + (long)i * ldc + j, ldc);
            }
            // Constant row counts, so that each tail's loops unroll and its accumulators stay in registers.
            float *ct = c + (long)i * ldc + j;
            switch (m - i) {
            case 5: dsn_weight_gradient_tile(5, slice, aq + i, lda, bq + j, ldb, ct, ldc); break;
            case 4: dsn_weight_gradient_tile(4, slice, aq + i, lda, bq + j, ldb, ct, ldc); break;
            case 3: dsn_weight_gradient_tile(3, slice, aq + i, lda, bq + j, ldb, ct, ldc); break;
            case 2: dsn_weight_gradient_tile(2, slice, aq + i, lda, bq + j, ldb, ct, ldc); break;
            case 1: dsn_weight_gradient_tile(1, slice, aq + i, lda, bq + j, ldb, ct, ldc); break;
            default: break;
            }
        }
    }
}

import CBLAS
import CSmallGEMM

/// Thin, typed access to the BLAS routines the toolkit uses.
public enum BLAS {
    /// C ← α·op(A)·op(B) + β·C on row-major operands (`op` transposes when the flag is set).
    ///
    /// `m×k` is the shape of op(A), `k×n` of op(B), `m×n` of C; `lda`, `ldb`, `ldc` are the row strides.
    /// With α = 1 and β ∈ {0, 1}, the layers' products go to libxsmm's JIT kernels, which skip OpenBLAS's packing and
    /// ran 20–60 % faster at these shapes (Results/README, issue 22, session 22): row-wise products with k ≤ 256,
    /// in panels of at most 64 columns (narrow ones padded to a multiple of 8 on AVX2, `paddedWidth`), and weight
    /// gradients op(A) = Aᵀ with m ≤ 256 and n ≤ 64 (those with n < 16 and 17–64 rows as their transpose,
    /// `narrowWeightGradient`). Everything else goes to OpenBLAS. In a row-wise product each row's values then depend
    /// neither on m nor on where the row sits in the block, so samples do not depend on the thread count (OpenBLAS's
    /// kernels alone do not promise that; it holds on the OpenBLAS route, k > 256 or `LIBXSMM_TARGET=generic`, only
    /// for some shapes).
    @inlinable
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if smallKernels, alpha == 1, beta == 0 || beta == 1, k > 0 {
            if !transA && rowsRoundAlone(k: k) {
                // Panels of 64 columns: wider libxsmm kernels round a row differently at different row counts.
                for first in stride(from: 0, to: n, by: 64) {
                    let width = min(64, n - first), bp = transB ? b + first * ldb : b + first
                    if !transB, let padded = paddedWidth(width),
                       paddedSmallGEMM(m: m, n: width, k: k, padded: padded, a: a, lda: lda, b: bp, ldb: ldb, beta: beta,
                                       c: c + first, ldc: ldc) {
                        continue
                    }
                    if !smallGEMM(transA: false, transB: transB, m: m, n: width, k: k, a: a, lda: lda, b: bp, ldb: ldb,
                                  beta: beta, c: c + first, ldc: ldc) {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(m), Int32(width),
                                    Int32(k), alpha, a, Int32(lda), bp, Int32(ldb), beta, c + first, Int32(ldc))
                    }
                }
                return
            }
            if transA && !transB && n < 16 && m > 16 && m <= 64,
               narrowWeightGradient(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc) {
                return
            }
            if transA && !transB && beta == 1 && n % 16 == 0 && n <= 64 && m <= 256 && ownsWeightGradients {
                dsn_weight_gradient(Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb), c, Int32(ldc))
                return
            }
            if transA && n <= 64 && m <= 256 && (!transB || k <= 256),
               smallGEMM(transA: true, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
                         c: c, ldc: ldc) {
                return
            }
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// A weight gradient C = Aᵀ·B with fewer than 16 columns (the d = 2 output layer's hᵀ·δ: 64 × 2 over 600 rows) as
    /// its transpose Cᵀ = Bᵀ·A, which libxsmm vectorises along C's m rows instead of its n < 16 columns: 3.5–5.2 against
    /// 12–13 µs for 64 × 2 × 600 (`bench gemm-shapes`, d2). Each value is the same fused multiply-add chain over k in
    /// order either way: on libxsmm's AVX-512 kernels the same bits as the direct product from 17 to 64 rows (at 16 they
    /// differ in the last place, so `gemm` sends only m > 16 here; `GEMMTests`). C is copied transposed into a scratch
    /// block and back (β = 1 adds onto it).
    @usableFromInline
    static func narrowWeightGradient(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: m * n) { t in
            let ct = t.baseAddress!  // Cᵀ, n × m
            if beta != 0 { for i in 0..<m { for j in 0..<n { ct[j * m + i] = c[i * ldc + j] } } }
            guard smallGEMM(transA: true, transB: false, m: n, n: m, k: k, a: b, lda: ldb, b: a, ldb: lda, beta: beta,
                            c: ct, ldc: m) else { return false }
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = ct[j * m + i] } }
            return true
        }
    }

    /// libxsmm's AVX2 code (`hsw`) computes a row-wise product with fewer than 8 (or 8j + fewer than 8) output columns
    /// in pieces of 8, 4 and single columns, each about as slow as the next: on Zen 3, 300 rows × 64 inner, 1, 4 or 8
    /// columns 8.3 µs, 2 or 5 columns 16.4, 3 or 10 columns 24.4, 7 columns 32.5 (session 31). Where the remainder
    /// mod 8 takes two or more pieces, the product goes through the kernel for the next multiple of 8 columns on the
    /// weight padded with zeros: 10.3–11.2 µs, copies included. Each value is the same chain of fused multiply-adds
    /// over k in order either way, so the same bits (`GEMMTests`); other targets keep their direct kernels.
    @usableFromInline static let padsNarrowPanels = String(cString: dsn_small_gemm_target()) == "hsw"

    /// Whether weight gradients C += Aᵀ·B with 16, 32, 48 or 64 columns go through `dsn_weight_gradient`, our own
    /// AVX2 kernel, instead of libxsmm's: on libxsmm's AVX2 code (`hsw`), whose transposed product took 67–77 µs at
    /// 64 × 64 over 600 rows (the TB backward tile's hᵀ·δ) where ours takes 55–57 (session 32, Zen 3). Each value is
    /// the same chain of fused multiply-adds over k in order, so the same bits (`GEMMTests`); other targets keep
    /// libxsmm's kernels.
    @usableFromInline static let ownsWeightGradients = padsNarrowPanels

    /// The padded width for an output panel `width` columns wide, or nil where the direct kernel is as fast.
    @usableFromInline
    static func paddedWidth(_ width: Int) -> Int? {
        let remainder = width % 8  // 2, 3, 5, 6 or 7: two or more pieces; 1 and 4 are one piece, as fast as padded
        guard padsNarrowPanels, remainder >= 5 || remainder == 2 || remainder == 3 else { return nil }
        return (width + 7) & ~7
    }

    /// C ← A·B (+ C) for a row-major B (k × n) through libxsmm's kernel for `padded` > n columns: B is copied into a
    /// zero-padded k × `padded` block, C into an m × `padded` one, and the first n columns copied back. Returns false,
    /// with C untouched, when libxsmm has no kernel.
    @usableFromInline
    static func paddedSmallGEMM(m: Int, n: Int, k: Int, padded: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                                ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: (k + m) * padded) { t in
            let bp = t.baseAddress!, cp = bp + k * padded
            bp.initialize(repeating: 0, count: (k + m) * padded)
            for r in 0..<k { (bp + r * padded).update(from: b + r * ldb, count: n) }
            if beta != 0 { for r in 0..<m { (cp + r * padded).update(from: c + r * ldc, count: n) } }
            guard smallGEMM(transA: false, transB: false, m: m, n: padded, k: k, a: a, lda: lda, b: bp, ldb: padded,
                            beta: beta, c: cp, ldc: padded) else { return false }
            for r in 0..<m { (c + r * ldc).update(from: cp + r * padded, count: n) }
            return true
        }
    }

    /// Whether libxsmm generates kernels on this CPU (not with `LIBXSMM_TARGET=generic`): otherwise every product
    /// goes to OpenBLAS.
    public static let smallKernels = String(cString: dsn_small_gemm_target()) != "generic"

    /// Whether a row-wise product (op(A) = A, α = 1, β ∈ {0, 1}) over an inner dimension k rounds each row alone, the
    /// same whatever m and the rows computed with it (the libxsmm route of `gemm`), so that it may be computed in
    /// blocks of rows with the same bits. OpenBLAS's kernels do not promise that.
    public static func rowsRoundAlone(k: Int) -> Bool { smallKernels && k <= 256 }

    /// Fewest rows libxsmm is asked for in a row-wise product: its AVX-512 kernels for fewer than 12 rows round
    /// differently from those for more, so shorter blocks are computed padded to this many rows.
    @usableFromInline static let smallRows = 16

    /// Rows per block of a weight gradient's inner dimension: two 256 × 64 panels (128 KB) stay in L2.
    @usableFromInline static let innerBlock = 256

    /// The row-major product as libxsmm's column-major one, Cᵀ = op(B)ᵀ·op(A)ᵀ: a row-major matrix read
    /// column-major is its transpose, so op(A)ᵀ is A's storage with a transposed flag when `transA` is set. libxsmm
    /// cannot transpose its first operand, so a transposed B (k·n ≤ 256·64 values) is first copied transposed.
    /// Returns false, with C untouched, when libxsmm has no kernel.
    @usableFromInline
    static func smallGEMM(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                          b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
        if transB {
            return withUnsafeTemporaryAllocation(of: Float.self, capacity: k * n) { t in
                let bt = t.baseAddress!  // op(B) = Bᵀ stored row-major, k × n
                for i in 0..<n { for j in 0..<k { bt[j * n + i] = b[i * ldb + j] } }
                return smallGEMM(transA: transA, transB: false, m: m, n: n, k: k, a: a, lda: lda, b: bt, ldb: n,
                                 beta: beta, c: c, ldc: ldc)
            }
        }
        if !transA && m < smallRows {
            // Padded with zero rows to `smallRows`; the product's first m rows are copied back.
            let rows = smallRows
            return withUnsafeTemporaryAllocation(of: Float.self, capacity: rows * (k + n)) { t in
                let ap = t.baseAddress!, cp = ap + rows * k
                ap.initialize(repeating: 0, count: rows * (k + n))
                for r in 0..<m {
                    (ap + r * k).update(from: a + r * lda, count: k)
                    if beta != 0 { (cp + r * n).update(from: c + r * ldc, count: n) }
                }
                guard dsn_small_sgemm(0, Int32(n), Int32(rows), Int32(k), b, Int32(ldb), ap, Int32(k), beta, cp,
                                      Int32(n), Int32(k)) == 1 else { return false }
                for r in 0..<m { (c + r * ldc).update(from: cp + r * n, count: n) }
                return true
            }
        }
        // A weight gradient (op(A) = Aᵀ) sums over the batch's rows; over more than 1024 rows, at least 16 × 16
        // outputs go in blocks of rows that stay in cache (2–2.5× faster at 64 × 64 over 13 000 EGNN edges, bit for
        // bit the same). Up to 1024 rows (TB's backward tiles: 600 rows at batch 300) timings did not separate one
        // call from blocks, so those keep one call; narrower outputs are bound by their single column and ran slower
        // in blocks.
        let block = transA && min(m, n) >= 16 && k > 4 * innerBlock ? innerBlock : k
        return dsn_small_sgemm(transA ? 1 : 0, Int32(n), Int32(m), Int32(k), b, Int32(ldb), a, Int32(lda), beta,
                               c, Int32(ldc), Int32(block)) == 1
    }

    /// Sets the number of threads OpenBLAS uses inside one call. The toolkit parallelises over rows itself,
    /// so runs pin this to 1 (the result then does not depend on OpenBLAS's own partitioning).
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// Makes the calling thread flush denormal floats to zero (x86-64; a no-op elsewhere). Worker threads call
    /// it before running kernels so that speed does not drop as values shrink during training.
    public static func flushDenormalsToZero() { dsn_flush_denormals_to_zero() }

    /// OpenBLAS's build description (core type, threading) and libxsmm's code path (`hsw`, `skx`, `cpx`,
    /// `generic`, …), for provenance.
    public static var configuration: String {
        String(cString: openblas_get_config()) + "; libxsmm " + String(cString: dsn_small_gemm_target())
    }
}

extension BLAS {
    /// C ← α·op(A)·op(B) + β·C in double precision, row-major (see `gemm`).
    @inlinable
    public static func dgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Double = 1, a: UnsafePointer<Double>, lda: Int,
                             b: UnsafePointer<Double>, ldb: Int,
                             beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int) {
        if m == 0 || n == 0 { return }
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

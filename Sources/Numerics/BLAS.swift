import CBLAS

/// Thin, typed access to the BLAS routines the toolkit uses.
public enum BLAS {
    /// C ← α·op(A)·op(B) + β·C on row-major operands (`op` transposes when the flag is set).
    ///
    /// `m×k` is the shape of op(A), `k×n` of op(B), `m×n` of C; `lda`, `ldb`, `ldc` are the row strides.
    @inlinable
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Sets the number of threads OpenBLAS uses inside one call. The toolkit parallelises over rows itself,
    /// so runs pin this to 1 (the result then does not depend on OpenBLAS's own partitioning).
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// Makes the calling thread flush denormal floats to zero (x86-64; a no-op elsewhere). Worker threads call
    /// it before running kernels so that speed does not drop as values shrink during training.
    public static func flushDenormalsToZero() { dsn_flush_denormals_to_zero() }

    /// OpenBLAS's build description (core type, threading), for provenance.
    public static var configuration: String { String(cString: openblas_get_config()) }
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

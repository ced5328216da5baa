import CBLAS
import Foundation

/// Dense symmetric positive-definite algebra through OpenBLAS's LAPACK.
public enum SymmetricPositiveDefinite {
    /// A matrix that is not positive definite (LAPACK's `info`).
    public struct NotPositiveDefinite: Error, CustomStringConvertible {
        /// LAPACK's `info`: the order of the leading minor that is not positive definite.
        public let info: Int32
        public var description: String { "matrix is not positive definite (LAPACK info \(info))" }
    }

    /// The inverse and log-determinant of the n×n symmetric positive-definite matrix `a` (row-major, full).
    public static func inverseAndLogDeterminant(_ a: [Double], n: Int) throws -> (inverse: [Double], logDeterminant: Double) {
        precondition(a.count == n * n, "inverseAndLogDeterminant: need n² entries")
        var m = a  // symmetric, so row- and column-major agree
        var size = Int32(n), info: Int32 = 0
        var uplo = CChar(UInt8(ascii: "L"))
        dpotrf_(&uplo, &size, &m, &size, &info, 1)
        guard info == 0 else { throw NotPositiveDefinite(info: info) }
        var logDet = 0.0
        for i in 0..<n { logDet += 2 * Foundation.log(m[i * n + i]) }
        dpotri_(&uplo, &size, &m, &size, &info, 1)
        guard info == 0 else { throw NotPositiveDefinite(info: info) }
        // dpotri fills one triangle (the lower one in column-major, i.e. the upper one here): mirror it.
        for i in 0..<n { for j in 0..<i { m[i * n + j] = m[j * n + i] } }
        return (m, logDet)
    }

    /// The lower-triangular Cholesky factor L (row-major, zero above the diagonal) of the n×n symmetric
    /// positive-definite matrix `a` (row-major, full): a = L Lᵀ.
    /// - Throws: `NotPositiveDefinite`.
    public static func choleskyFactor(_ a: [Double], n: Int) throws -> [Double] {
        precondition(a.count == n * n, "choleskyFactor: need n² entries")
        var m = a
        var size = Int32(n), info: Int32 = 0
        var uplo = CChar(UInt8(ascii: "L"))
        dpotrf_(&uplo, &size, &m, &size, &info, 1)
        guard info == 0 else { throw NotPositiveDefinite(info: info) }
        // Column-major L is row-major Lᵀ: entry (i, j ≤ i) of L sits at m[j·n + i].
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0...i { l[i * n + j] = m[j * n + i] } }
        return l
    }
}

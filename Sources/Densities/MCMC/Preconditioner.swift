import Foundation
import Numerics

/// How SMC/AIS precondition their HMC moves: none, a diagonal mass matrix from the particles' weighted standard
/// deviations, or a full one from their weighted covariance.
public enum HMCPreconditioning: String, Sendable, CaseIterable {
    case none, diagonal, full
}

/// An affine change of coordinates x = μ + L z with L lower-triangular (d × d, row-major, double): HMC with unit mass
/// in z is HMC in x with mass matrix (L Lᵀ)⁻¹ (Neal 2011, §4.1). With L the Cholesky factor of the particles' weighted
/// covariance, one step size suits a posterior whose coordinates are correlated or of very different scales (the
/// reference SMC of BENCHMARK-TASKS.md §3.3 preconditions so). The Jacobian is constant, so densities are unchanged
/// and gradients transform as ∇_z = Lᵀ ∇_x. Centring at the particles' mean μ keeps z of order one: float32 z far
/// from the origin would carry rounding errors that L, whose condition number a posterior's correlations make large,
/// maps back into perturbations of x the Metropolis test never sees.
struct LinearPreconditioner {
    let d: Int
    /// μ, and L row-major (zero above the diagonal).
    let mean: [Double], lower: [Double]

    init(mean: [Double], lower: [Double]) {
        (d, self.mean, self.lower) = (mean.count, mean, lower)
    }

    /// μ = 0, L = diag(scales).
    init(scales: [Double]) {
        let d = scales.count
        var l = [Double](repeating: 0, count: d * d)
        for k in 0..<d { l[k * d + k] = scales[k] }
        self.init(mean: [Double](repeating: 0, count: d), lower: l)
    }

    /// μ and L from the weighted particles: their mean and the Cholesky factor of their covariance (jittered by 10⁻¹⁰ of its
    /// mean variance) for `.full`, else their standard deviations (floored at 10⁻⁶·max(1, |mean|), so that a collapsed
    /// coordinate keeps a usable scale), which `.full` also falls back to when the covariance is not positive definite.
    init(_ positions: Matrix, logWeights: [Double], full: Bool) {
        let n = positions.rows, d = positions.cols
        let top = logWeights.max()!, raw = logWeights.map { exp($0 - top) }, total = raw.reduce(0, +)
        let w = raw.map { $0 / total }
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<n { for k in 0..<d { mean[k] += w[r] * Double(positions[r, k]) } }
        var covariance = [Double](repeating: 0, count: d * d)
        for r in 0..<n where w[r] > 0 {
            for i in 0..<d {
                let a = w[r] * (Double(positions[r, i]) - mean[i])
                for j in 0...i { covariance[i * d + j] += a * (Double(positions[r, j]) - mean[j]) }
            }
        }
        for i in 0..<d { for j in 0..<i { covariance[j * d + i] = covariance[i * d + j] } }
        let scales = (0..<d).map { k in max(max(covariance[k * d + k], 0).squareRoot(), 1e-6 * max(1, abs(mean[k]))) }
        if full {
            let jitter = 1e-10 * (0..<d).reduce(0.0) { $0 + covariance[$1 * d + $1] } / Double(d)
            for k in 0..<d { covariance[k * d + k] += jitter }
            if let l = try? SymmetricPositiveDefinite.choleskyFactor(covariance, n: d) {
                self.init(mean: mean, lower: l)
                return
            }
        }
        self.init(scales: scales)
    }

    /// z = L⁻¹(x − μ) for every row (forward substitution).
    func latent(_ x: Matrix) -> Matrix {
        var z = x
        var row = [Double](repeating: 0, count: d)
        for r in 0..<x.rows {
            for i in 0..<d {
                var s = Double(x[r, i]) - mean[i]
                for j in 0..<i { s -= lower[i * d + j] * row[j] }
                row[i] = s / lower[i * d + i]
            }
            for i in 0..<d { z[r, i] = Float(row[i]) }
        }
        return z
    }

    /// x = μ + L z for every row of `z` (count × d, contiguous), into `x`.
    func position(_ z: UnsafePointer<Float>, count: Int, into x: UnsafeMutablePointer<Float>) {
        for r in 0..<count {
            for i in 0..<d {
                var s = mean[i]
                for j in 0...i { s += lower[i * d + j] * Double(z[r * d + j]) }
                x[r * d + i] = Float(s)
            }
        }
    }

    /// ∇_z = Lᵀ∇_x for every row, in place.
    func latentGradient(_ g: UnsafeMutablePointer<Float>, count: Int) {
        var row = [Double](repeating: 0, count: d)
        for r in 0..<count {
            for j in 0..<d {
                var s = 0.0
                for i in j..<d { s += lower[i * d + j] * Double(g[r * d + i]) }
                row[j] = s
            }
            for j in 0..<d { g[r * d + j] = Float(row[j]) }
        }
    }

    /// `base` seen in z: log density unchanged, ∇_z = Lᵀ∇_x. It keeps the points x and gradients ∇_x of its last
    /// evaluation, so that a move's accepted proposals are cached as evaluated rather than mapped back through L⁻¹.
    struct Transformed: Target {
        let base: any Target, map: LinearPreconditioner
        /// The last evaluation's points and gradients in x (one HMC move evaluates all its chains at once, on
        /// one thread).
        final class Last: @unchecked Sendable { var positions: [Float] = [], gradient: [Float] = [] }
        let last = Last()
        var name: String { base.name }
        var dimension: Int { base.dimension }
        func evaluate(_ z: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                      gradient: UnsafeMutablePointer<Float>?) throws {
            var x = [Float](repeating: 0, count: count * dimension)
            x.withUnsafeMutableBufferPointer { map.position(z, count: count, into: $0.baseAddress!) }
            try x.withUnsafeBufferPointer { try base.evaluate($0.baseAddress!, count: count, logDensity: logDensity, gradient: gradient) }
            guard let gradient else { return }
            last.positions = x
            last.gradient = Array(UnsafeBufferPointer(start: gradient, count: count * dimension))
            map.latentGradient(gradient, count: count)
        }
    }
}

import Foundation
import Numerics
import Densities
import NeuralSDE

/// The variance-exploding noise of iDEM (Akhound-Sadegh et al. 2024): σ(t) = σ_min·(σ_max/σ_min)^t on t ∈ [0, 1].
public struct GeometricNoiseSchedule: Sendable, Equatable {
    /// Noise scale at t = 0.
    public var sigmaMin: Float
    /// Noise scale at t = 1.
    public var sigmaMax: Float

    /// A schedule from `sigmaMin` to `sigmaMax` (0 < σ_min < σ_max).
    public init(sigmaMin: Float, sigmaMax: Float) {
        precondition(sigmaMin > 0 && sigmaMax > sigmaMin, "GeometricNoiseSchedule: need 0 < σ_min < σ_max")
        self.sigmaMin = sigmaMin
        self.sigmaMax = sigmaMax
    }

    /// σ(t).
    public func sigma(_ t: Float) -> Float { sigmaMin * Foundation.pow(sigmaMax / sigmaMin, t) }

    /// h(t) = σ(t)² − σ_min²: the variance the forward SDE adds between 0 and t, so x_t = x₀ + √h(t)·ε.
    public func variance(_ t: Float) -> Float {
        let s = sigma(t)
        return s * s - sigmaMin * sigmaMin
    }

    /// g(t)² = dσ²/dt = 2·σ(t)²·log(σ_max/σ_min), the squared diffusion coefficient.
    public func diffusionSquared(_ t: Float) -> Float {
        let s = sigma(t)
        return 2 * s * s * Foundation.log(sigmaMax / sigmaMin)
    }
}

/// The Monte-Carlo score of the noised target (iDEM's regression target):
/// S_K(x, t) = ∇ₓ log (1/K)·Σ_k R(x + √h(t)·ε_k) = Σ_k softmax_k(log R(y_k))·∇log R(y_k), y_k = x + √h(t)·ε_k,
/// with its norm clipped per point. For particle systems the noise is centre-of-mass free, so the estimate is too.
///
/// The sum is a self-normalised importance estimate of E[∇log R(x₀) | x_t = x] (the score identity), with the
/// posterior p(x₀ | x) ∝ R(x₀)·N(x₀; x, h) and the proposal N(x, h). When h is large against the target's
/// curvature the proposals all miss the posterior (one weight ≈ 1), and the estimate is biased. The `conditional`
/// variant adds the clean configuration x₀ that x was noised from as sample K + 1, with the same weight R: if x₀ is
/// drawn from the target, that is a draw from the posterior, and the weighted average is then unbiased for any K
/// (conditional importance sampling, the Rao–Blackwellised kernel of iterated conditional SMC). Where the
/// proposals miss, the weight falls on x₀ and the target becomes its force (target score matching); where they
/// hit, they average it down.
public struct MonteCarloScore: Sendable, Equatable {
    /// Samples K per point.
    public var samples: Int
    /// Largest Euclidean norm of an estimate (longer ones are scaled down), per particle for particle systems;
    /// nil for no clipping.
    public var maxNorm: Float?
    /// Whether each estimate also weighs the clean configuration its point was noised from (see the type's note).
    public var conditional: Bool

    /// An estimator with K samples per point, an optional norm clip, and optionally the clean configurations.
    public init(samples: Int, maxNorm: Float?, conditional: Bool = false) {
        precondition(samples > 0, "MonteCarloScore: need at least one sample")
        self.samples = samples
        self.maxNorm = maxNorm
        self.conditional = conditional
    }

    /// Points at which log R and ∇log R are evaluated per estimate.
    public var evaluationsPerPoint: Int { samples + (conditional ? 1 : 0) }

    /// Estimates of ∇log p_t at the rows of `x`, row r at time `t[r]`, for the noise of `schedule`; `clean` (same
    /// shape, required when `conditional`) holds the configurations the rows were noised from. Each point's noise
    /// comes from its own stream (`seed`, `stream`, row), so estimates depend neither on batching nor on the
    /// `threads` that share the rows.
    public func estimate(_ target: any Target, x: Matrix, t: [Float], schedule: GeometricNoiseSchedule,
                         seed: UInt64, stream: UInt64, context: String, threads: Int = 1, clean: Matrix? = nil) throws -> Matrix {
        precondition(x.cols == target.dimension && t.count == x.rows, "MonteCarloScore: shapes")
        precondition(!conditional || (clean?.rows == x.rows && clean?.cols == x.cols),
                     "MonteCarloScore: the conditional estimator needs the clean configurations")
        let d = x.cols
        var out = Matrix(rows: x.rows, cols: d)
        var failures = [(any Error)?](repeating: nil, count: max(1, min(threads, x.rows)))
        out.storage.withUnsafeMutableBufferPointer { outBuffer in
            failures.withUnsafeMutableBufferPointer { failed in
                let (base, failedBase) = (outBuffer.baseAddress!, failed.baseAddress!)
                parallelChunks(x.rows, parts: threads) { part, rows in
                    let n = evaluationsPerPoint
                    var noisy = Matrix(rows: n, cols: d), logR = [Double](repeating: 0, count: n)
                    var gradient = Matrix(rows: n, cols: d)
                    do {
                        for r in rows {
                            var rng = Xoshiro256(seed: seed, stream: stream, UInt64(r))
                            if conditional, let clean { for c in 0..<d { noisy[n - 1, c] = clean[r, c] } }
                            try estimateRow(target, x: x, row: r, t: t[r], schedule: schedule, rng: &rng, context: context,
                                            noisy: &noisy, logR: &logR, gradient: &gradient, into: base + r * d)
                        }
                    } catch {
                        failedBase[part] = error
                    }
                }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        // Clipping single particles moves the centre of mass; the network's outputs are mean-free, so the target
        // goes back to that subspace (the dropped part would only add a constant to the loss).
        if let particles = target.particleStructure { removeCentreOfMass(&out.storage, particles: particles) }
        return out
    }

    /// The clipped estimate at row `r` of `x`, written to `out`; `noisy`, `logR` and `gradient` are scratch with
    /// `evaluationsPerPoint` rows, of which a conditional estimator's last holds the clean configuration on entry.
    private func estimateRow(_ target: any Target, x: Matrix, row r: Int, t: Float, schedule: GeometricNoiseSchedule,
                             rng: inout Xoshiro256, context: String, noisy: inout Matrix, logR: inout [Double],
                             gradient: inout Matrix, into out: UnsafeMutablePointer<Float>) throws {
        let d = x.cols, K = samples, n = noisy.rows
        let scale = schedule.variance(t).squareRoot()
        // Raw rows: these loops run K·d times per point, and subscripts kept them scalar (with bounds checks).
        x.storage.withUnsafeBufferPointer { X in
            noisy.storage.withUnsafeMutableBufferPointer { buffer in
                let xr = X.baseAddress! + r * d, Y = buffer.baseAddress!
                rng.fillGaussian(Y, count: K * d)
                // (A conditional estimator's clean row is centred too, which leaves a buffer row as it is.)
                if let particles = target.particleStructure { removeCentreOfMass(Y, rows: n, particles: particles) }
                for k in 0..<K {
                    let y = Y + k * d
                    for c in 0..<d { y[c] = xr[c] + scale * y[c] }
                }
            }
        }
        do {
            try noisy.storage.withUnsafeBufferPointer { X in
                try gradient.storage.withUnsafeMutableBufferPointer { G in
                    try target.evaluate(X.baseAddress!, count: n, logDensity: &logR, gradient: G.baseAddress!)
                }
            }
        } catch {
            throw TargetFailure(target: target.name, context: context, underlying: error)
        }
        // Softmax weights in double; non-finite log R (e.g. overlapping particles) gets weight 0.
        func weigh(_ G: UnsafePointer<Float>, _ score: UnsafeMutablePointer<Double>) throws {
            let finite = (0..<n).filter { k in
                logR[k].isFinite && UnsafeBufferPointer(start: G + k * d, count: d).allSatisfy { $0.isFinite }
            }
            guard let top = finite.map({ logR[$0] }).max() else {
                throw NonFiniteDensityError(target: target.name, context: context, row: r)
            }
            var total = 0.0
            for k in finite {
                let w = Foundation.exp(logR[k] - top), g = G + k * d
                total += w
                for c in 0..<d { score[c] += w * Double(g[c]) }
            }
            for c in 0..<d { score[c] /= total }
        }
        var score = [Double](repeating: 0, count: d)
        try gradient.storage.withUnsafeBufferPointer { buffer in
            try score.withUnsafeMutableBufferPointer { S in try weigh(buffer.baseAddress!, S.baseAddress!) }
        }
        // Particle systems clip each particle's vector, as iDEM does: on LJ13 the exact score at reference
        // configurations has norm ≈ 75 in all (≈ 21 per particle), so one clip of 20 on the whole vector
        // would weaken even the equilibrium forces about fourfold.
        let block = target.particleStructure?.spatialDimension ?? d
        for start in stride(from: 0, to: d, by: block) {
            let norm = (start..<(start + block)).reduce(0.0) { $0 + score[$1] * score[$1] }.squareRoot()
            let shrink = maxNorm.map { norm > Double($0) ? Double($0) / norm : 1 } ?? 1
            for c in start..<(start + block) { out[c] = Float(score[c] * shrink) }
        }
    }
}

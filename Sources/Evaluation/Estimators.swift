import Foundation
import Numerics

/// log Z estimates from log importance weights log w = log R(x_T) + S_B − S_F of K paths.
public struct LogZEstimates: Sendable, Equatable {
    /// mean(log w): a lower bound on log Z for on-policy paths (ELBO), an upper bound (EUBO) for paths drawn
    /// backwards from exact target samples.
    public var meanLogWeight: Double
    /// log mean exp(log w): the importance-weighted estimate of log Z.
    public var importanceWeighted: Double
    /// Normalised effective sample size (Σw)² / (K·Σw²), in (0, 1].
    public var effectiveSampleSize: Double
    /// Number of weights K.
    public var count: Int

    /// The estimates from the given log weights (must be non-empty and finite).
    public init(logWeights w: [Double]) {
        precondition(!w.isEmpty, "LogZEstimates: no weights")
        count = w.count
        // Averaged relative to the largest weight, so that a large constant in log R (10⁸, say) costs no digits
        // of the mean beyond those of the constant itself, and ELBO ≤ log Z_IS holds to rounding.
        let top = w.max()!
        meanLogWeight = top.isFinite ? top + w.reduce(0) { $0 + ($1 - top) } / Double(w.count) : w.reduce(0, +) / Double(w.count)
        importanceWeighted = Self.logMeanExp(w)
        effectiveSampleSize = LogSpace.effectiveSampleSize(w)
    }

    /// log Σ exp(x), stable for large |x|.
    public static func logSumExp(_ x: [Double]) -> Double { LogSpace.sumExp(x) }

    /// log (1/n) Σ exp(x).
    public static func logMeanExp(_ x: [Double]) -> Double { logSumExp(x) - log(Double(x.count)) }
}

/// Mode statistics of samples against a mixture's component centres (nearest-centre assignment).
public struct ModeCoverage: Sendable, Equatable {
    /// Number of modes holding at least `threshold` of a fair share (n/K) of the samples.
    public var covered: Int
    /// exp(entropy) of the mode histogram: the effective number of equally weighted modes.
    public var effectiveModes: Double
    /// Fraction of the samples assigned to each mode.
    public var fractions: [Double]
    /// KL(w ‖ f) from the modes' true weights w to the sampled fractions f, when the weights are known: how far the
    /// sampler's mode weights are from the target's. Empty modes count as 1/(2n) and the fractions are then
    /// renormalised to sum to 1, so the value is a true KL divergence (≥ 0) for any n.
    public var weightKL: Double?
    /// The fair-share fraction a mode needs to count as covered.
    public static let threshold = 0.1
    /// Entropic mode coverage, −Σ f_k log f_k / log K ∈ [0, 1] (1: every mode equally visited), the Beyond-ELBOs
    /// benchmark's EMC (Blessing et al. 2024), here with nearest-centre assignment.
    public var entropicCoverage: Double { fractions.count > 1 ? log(effectiveModes) / log(Double(fractions.count)) : 1 }

    /// Coverage of the rows of `samples` (row-major, `dimension` columns) over `centres`.
    public init(samples: [Float], dimension d: Int, centres: [[Float]], weights: [Double]? = nil) {
        let n = samples.count / d
        var counts = [Int](repeating: 0, count: centres.count)
        for r in 0..<n {
            var best = 0, bestDistance = Float.infinity
            for (k, c) in centres.enumerated() {
                var s: Float = 0
                for j in 0..<d { let diff = samples[r * d + j] - c[j]; s += diff * diff }
                if s < bestDistance { bestDistance = s; best = k }
            }
            counts[best] += 1
        }
        fractions = counts.map { Double($0) / Double(max(n, 1)) }
        let fair = 1 / Double(centres.count)
        covered = fractions.filter { $0 >= Self.threshold * fair }.count
        effectiveModes = exp(-fractions.reduce(0) { $0 + ($1 > 0 ? $1 * log($1) : 0) })
        let floor = 0.5 / Double(max(n, 1))
        let floored = fractions.map { max($0, floor) }, total = floored.reduce(0, +)
        weightKL = weights.map { w in zip(w, floored).reduce(0) { $0 + $1.0 * log($1.0 * total / $1.1) } }
    }
}

import Foundation

/// Sums of exponentials in log space, shared by the estimators (log Z, ESS) and the annealing samplers' weights.
public enum LogSpace {
    /// log Σ exp(x), stable for large |x|; −∞ for an empty list or when every entry is −∞, NaN when one is.
    public static func sumExp(_ x: [Double]) -> Double {
        guard let top = x.max(), top.isFinite else { return x.max() ?? -.infinity }
        return top + log(x.reduce(0) { $0 + exp($1 - top) })
    }

    /// softplus(x) = log(1 + eˣ) without overflow for either sign; log σ(x) = −softplus(−x).
    @inlinable public static func softplus(_ x: Double) -> Double { max(x, 0) + log1p(exp(-abs(x))) }

    /// The normalised effective sample size (Σw)²/(n·Σw²) ∈ (0, 1] of weights given by their logs (Kong 1992).
    public static func effectiveSampleSize(_ logWeights: [Double]) -> Double {
        // Relative to the largest weight, so that doubling huge log weights cannot overflow.
        guard let top = logWeights.max(), top.isFinite else { return .nan }
        let w = logWeights.map { $0 - top }
        return exp(2 * sumExp(w) - sumExp(w.map { 2 * $0 }) - log(Double(w.count)))
    }
}

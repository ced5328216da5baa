import Foundation
import Numerics

/// PQMass (Lemos, Sharief, Malkin, Perreault-Levasseur & Hezaveh 2024): a two-sample test of whether model samples and
/// reference samples share a distribution, from the probability mass each puts in the cells of a random Voronoi
/// partition.
///
/// Each tessellation draws `regions` reference points from the pooled sets (without replacement, and removed from
/// them), assigns every other point to its nearest reference point (Euclidean), and computes Pearson's χ² statistic
/// of homogeneity of the two count vectors, χ² = Σ_i Σ_s (k_s,i − E_s,i)²/E_s,i with E_s,i = n_s·(k_x,i + k_y,i)/(n_x + n_y),
/// whose null distribution is approximately χ² with `regions` − 1 degrees of freedom. Reported: the mean χ² over
/// `tessellations` partitions and the mean of their p-values (each p-value is uniform under the null; their mean
/// concentrates at ½).
public struct PQMass: Sendable, Equatable {
    /// Mean χ² statistic over the tessellations (≈ regions − 1 when both sets share a distribution).
    public var chiSquared: Double
    /// Mean p-value over the tessellations.
    public var pValue: Double
    /// χ² and p-value of each tessellation.
    public var statistics: [(chiSquared: Double, pValue: Double)]
    /// Voronoi cells per tessellation.
    public var regions: Int

    public static func == (a: PQMass, b: PQMass) -> Bool {
        a.chiSquared == b.chiSquared && a.pValue == b.pValue && a.regions == b.regions
    }

    /// The test between the rows of `x` and `y` (row-major, `dimension` columns), with a generator seeded by `seed`.
    /// - Precondition: both sets hold more rows than `regions` ≥ 2 together, after which each keeps at least one.
    public init(_ x: [Float], _ y: [Float], dimension d: Int, regions: Int = 100, tessellations: Int = 20, seed: UInt64 = 0) {
        let nx = x.count / d, ny = y.count / d, total = nx + ny
        precondition(regions >= 2 && total > regions + 1, "PQMass: need more samples than regions")
        let pooled = x + y
        var rng = Xoshiro256(seed: seed, stream: 0x5051_4D61_7373)
        var statistics: [(Double, Double)] = []
        for _ in 0..<tessellations {
            // A partial Fisher–Yates shuffle picks the reference points.
            var order = Array(0..<total)
            for i in 0..<regions { order.swapAt(i, i + Int(rng.next() % UInt64(total - i))) }
            let references = Array(order[0..<regions])
            var counts = [[Double]](repeating: [0, 0], count: regions)
            for p in order[regions...] {
                var best = 0, bestDistance = Float.infinity
                for (k, r) in references.enumerated() {
                    var s: Float = 0
                    for j in 0..<d { let e = pooled[p * d + j] - pooled[r * d + j]; s += e * e }
                    if s < bestDistance { (best, bestDistance) = (k, s) }
                }
                counts[best][p < nx ? 0 : 1] += 1
            }
            let sizes = [counts.reduce(0) { $0 + $1[0] }, counts.reduce(0) { $0 + $1[1] }], all = sizes[0] + sizes[1]
            var chi = 0.0
            for cell in counts where cell[0] + cell[1] > 0 {
                for s in 0..<2 {
                    let expected = sizes[s] * (cell[0] + cell[1]) / all
                    if expected > 0 { chi += (cell[s] - expected) * (cell[s] - expected) / expected }
                }
            }
            statistics.append((chi, 1 - Self.chiSquaredCDF(chi, degrees: Double(regions - 1))))
        }
        self.statistics = statistics
        self.regions = regions
        chiSquared = statistics.reduce(0) { $0 + $1.0 } / Double(tessellations)
        pValue = statistics.reduce(0) { $0 + $1.1 } / Double(tessellations)
    }

    /// The χ² distribution function with k degrees of freedom: the regularised lower incomplete gamma P(k/2, x/2).
    public static func chiSquaredCDF(_ x: Double, degrees k: Double) -> Double {
        x <= 0 ? 0 : regularizedLowerGamma(k / 2, x / 2)
    }

    /// P(a, x) = γ(a, x)/Γ(a): by its power series for x < a + 1, else by the continued fraction of Q = 1 − P
    /// (Lentz's method), each to double precision (Abramowitz & Stegun 6.5.29 and 6.5.31).
    static func regularizedLowerGamma(_ a: Double, _ x: Double) -> Double {
        let logPrefix = a * log(x) - x - lgamma(a)
        if x < a + 1 {
            var term = 1 / a, sum = term, n = a
            for _ in 0..<10_000 {
                n += 1
                term *= x / n
                sum += term
                if abs(term) < abs(sum) * 1e-16 { break }
            }
            return min(1, sum * exp(logPrefix))
        }
        let tiny = 1e-300
        var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
        for i in 1..<10_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return max(0, 1 - exp(logPrefix) * h)
    }
}

import Foundation
import Numerics
import Densities

/// 1-D distances between sample sets of a particle system (iDEM's metrics): the energy and interatomic-distance
/// distributions of model samples against a reference set.
///
/// Convention: W₂ here is the square root of the optimal mean squared difference (not squared), computed exactly
/// by matching quantiles; TV is half the L1 distance between 100-bin histograms on the pooled range.
public struct ParticleMetrics: Sendable {
    /// W₂ between the energy distributions E = −log R.
    public var energyW2: Double
    /// W₂ between the pooled interatomic-distance distributions.
    public var distanceW2: Double
    /// Total variation between the interatomic-distance histograms.
    public var distanceTV: Double
    /// Model samples whose energy was not finite (left out of the energy metrics).
    public var nonFiniteEnergies: Int
    /// Histogram of the energies behind `energyW2`.
    public var energyHistogram: Histogram
    /// Histogram of the interatomic distances behind `distanceW2` and `distanceTV`.
    public var distanceHistogram: Histogram

    /// Bin edges (bins + 1) and the counts of the model and reference values.
    public struct Histogram: Sendable {
        /// Bin edges, one more than bins.
        public var edges: [Double]
        /// Counts of the model's values per bin.
        public var model: [Double]
        /// Counts of the reference values per bin.
        public var reference: [Double]
    }

    /// Compares `model` with `reference` configurations (rows) of `target`.
    public init(target: any Target, particles: ParticleStructure, model: Matrix, reference: Matrix) throws {
        let modelEnergies = try target.logDensity(model).map { -$0 }
        let referenceEnergies = try target.logDensity(reference).map { -$0 }.filter(\.isFinite)
        let finite = modelEnergies.filter(\.isFinite)
        nonFiniteEnergies = modelEnergies.count - finite.count
        energyW2 = Self.w2(finite, referenceEnergies)
        let a = Self.distances(model, particles), b = Self.distances(reference, particles)
        distanceW2 = Self.w2(a, b)
        distanceHistogram = Self.histogram(a, b)
        distanceTV = 0.5 * zip(distanceHistogram.model, distanceHistogram.reference).reduce(0) { $0 + abs($1.0 - $1.1) }
        // Energies are binned on the reference's range widened by half of it, so outliers do not flatten the plot.
        let lo = referenceEnergies.min() ?? 0, hi = referenceEnergies.max() ?? 1, pad = 0.5 * (hi - lo)
        energyHistogram = Self.histogram(finite, referenceEnergies, range: (lo - pad, hi + pad))
    }

    /// Exact 1-D W₂ between two empirical distributions by quantile matching (sizes may differ).
    public static func w2(_ a: [Double], _ b: [Double]) -> Double {
        guard !a.isEmpty, !b.isEmpty else { return .nan }
        let x = a.sorted(), y = b.sorted()
        // Integrate (F⁻¹(u) − G⁻¹(u))² over u on the merged breakpoints of both step functions.
        var total = 0.0, u = 0.0, i = 0, j = 0
        while i < x.count && j < y.count {
            let next = min(Double(i + 1) / Double(x.count), Double(j + 1) / Double(y.count))
            total += (next - u) * (x[i] - y[j]) * (x[i] - y[j])
            u = next
            if next >= Double(i + 1) / Double(x.count) - 1e-15 { i += 1 }
            if next >= Double(j + 1) / Double(y.count) - 1e-15 { j += 1 }
        }
        return total.squareRoot()
    }

    /// All pairwise particle distances of every configuration.
    static func distances(_ m: Matrix, _ p: ParticleStructure) -> [Double] {
        var out: [Double] = []
        let n = p.count, D = p.spatialDimension
        out.reserveCapacity(m.rows * n * (n - 1) / 2)
        for r in 0..<m.rows {
            for i in 0..<n {
                for j in (i + 1)..<n {
                    var s = 0.0
                    for a in 0..<D { let v = Double(m[r, i * D + a] - m[r, j * D + a]); s += v * v }
                    out.append(s.squareRoot())
                }
            }
        }
        return out
    }

    /// Normalised 100-bin histograms of both sets on `range` (default: their pooled range).
    static func histogram(_ a: [Double], _ b: [Double], range: (Double, Double)? = nil, bins: Int = 100) -> Histogram {
        let lo = range?.0 ?? min(a.min() ?? 0, b.min() ?? 0), hi = max(range?.1 ?? max(a.max() ?? 1, b.max() ?? 1), lo + 1e-9)
        func counts(_ v: [Double]) -> [Double] {
            var c = [Double](repeating: 0, count: bins)
            for x in v where x >= lo && x <= hi { c[min(bins - 1, Int((x - lo) / (hi - lo) * Double(bins)))] += 1 }
            return c.map { $0 / Double(max(v.count, 1)) }
        }
        return Histogram(edges: (0...bins).map { lo + (hi - lo) * Double($0) / Double(bins) }, model: counts(a), reference: counts(b))
    }
}

import Foundation
import Numerics
import Densities

/// The per-particle force magnitudes ‖∇ᵢE‖ of a particle system over a set of configurations.
///
/// iDEM clips its Monte-Carlo score per particle, and near t = 0 that estimate is the exact score −∇E; so the share
/// of equilibrium forces above a clip value is the share of the regression target the clip bends where the sampler
/// must be most accurate. `dsampler forces TARGET` prints this profile for a target's reference set.
public struct ForceProfile: Sendable {
    /// ‖∇ᵢE‖ for every particle of every configuration, ascending.
    public let norms: [Double]

    /// Profiles `configurations` (rows) of `target`, whose coordinates group as `particles`.
    public init(target: any Target, particles: ParticleStructure, configurations: Matrix) throws {
        let gradient = try target.logDensityAndGradient(configurations).gradient
        let D = particles.spatialDimension
        var norms: [Double] = []
        norms.reserveCapacity(configurations.rows * particles.count)
        for r in 0..<configurations.rows {
            for i in 0..<particles.count {
                var s = 0.0
                for a in 0..<D { let g = Double(gradient[r, i * D + a]); s += g * g }
                guard s.isFinite else {
                    throw NonFiniteDensityError(target: target.name, context: "force profile, particle \(i)", row: r)
                }
                norms.append(s.squareRoot())
            }
        }
        self.norms = norms.sorted()
    }

    /// The q-quantile of the norms (0 ≤ q ≤ 1).
    public func quantile(_ q: Double) -> Double { norms.quantile(q) }

    /// The share of per-particle forces strictly above `clip`.
    public func shareAbove(_ clip: Double) -> Double {
        var lo = 0, hi = norms.count  // first index whose norm exceeds the clip
        while lo < hi { let mid = (lo + hi) / 2; if norms[mid] > clip { hi = mid } else { lo = mid + 1 } }
        return Double(norms.count - lo) / Double(max(norms.count, 1))
    }
}

import Foundation
import Numerics

/// ManyWell: d/2 independent double-well pairs, log R = Σ_k [−a⁴ + 6a² + ½a − ½b²] with (a, b) = (x_{2k}, x_{2k+1}).
///
/// Each pair has Z = Z_a·√(2π) with Z_a = ∫ exp(−a⁴ + 6a² + ½a) da = 11784.50927, so
/// log Z = (d/2)·(ln Z_a + ½ ln 2π) (164.6957 for d = 32). The right well holds 84.43 % of each pair's mass.
public struct ManyWell: Target {
    public let name: String
    public let dimension: Int
    public let defaultSigma2: Float
    /// ∫ exp(−a⁴ + 6a² + ½a) da over ℝ.
    public static let wellIntegral = 11784.50927
    public var logZ: Double? { Double(dimension / 2) * (log(Self.wellIntegral) + 0.5 * log(2 * Double.pi)) }

    /// A ManyWell of even dimension `dimension`.
    public init(name: String = "manywell", dimension: Int = 32, defaultSigma2: Float = 1) {
        precondition(dimension > 0 && dimension % 2 == 0, "ManyWell needs an even dimension, got \(dimension)")
        self.name = name
        self.dimension = dimension
        self.defaultSigma2 = defaultSigma2
    }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) {
        let d = dimension
        for r in 0..<count {
            let xr = x + r * d
            var s = 0.0  // log R in double; each pair term in float
            for k in stride(from: 0, to: d, by: 2) {
                let a = xr[k], b = xr[k + 1], a2 = a * a
                s += Double(-a2 * a2 + 6 * a2 + 0.5 * a - 0.5 * b * b)
                if let gradient {
                    gradient[r * d + k] = -4 * a2 * a + 12 * a + 0.5
                    gradient[r * d + k + 1] = -b
                }
            }
            logDensity[r] = s
        }
    }

    /// Rejection sampling of each a from the proposal 0.2·N(−1.7, 0.5²) + 0.8·N(1.7, 0.5²); b ~ N(0, 1).
    public func exactSamples(count: Int, rng: inout Xoshiro256) -> Matrix? {
        var out = rng.gaussianMatrix(rows: count, cols: dimension)
        for r in 0..<count {
            for k in stride(from: 0, to: dimension, by: 2) { out[r, k] = Float(Self.sampleWellCoordinate(&rng)) }
        }
        return out
    }

    static func logWell(_ a: Double) -> Double { let a2 = a * a; return -a2 * a2 + 6 * a2 + 0.5 * a }

    static func logProposal(_ a: Double) -> Double {
        let c = -log(0.5 * (2 * Double.pi).squareRoot())
        let l = log(0.2) + c - 2 * (a + 1.7) * (a + 1.7), rt = log(0.8) + c - 2 * (a - 1.7) * (a - 1.7)
        let m = max(l, rt)
        return m + log(exp(l - m) + exp(rt - m))
    }

    /// log max_a R(a)/q(a), found on a fine grid and padded by 5 % (the ratio is smooth, maximal near the wells).
    static let logEnvelope: Double = {
        var best = -Double.infinity
        for i in 0...80_000 {
            let a = -4 + Double(i) * 1e-4
            best = max(best, logWell(a) - logProposal(a))
        }
        return best + log(1.05)
    }()

    static func sampleWellCoordinate(_ rng: inout Xoshiro256) -> Double {
        while true {
            let right = rng.nextUniform() < 0.8
            let a = (right ? 1.7 : -1.7) + 0.5 * Double(rng.nextGaussian())
            if log(Double(rng.nextUniform())) < logWell(a) - logProposal(a) - logEnvelope { return a }
        }
    }
}

import Foundation
import Numerics

/// Neal's funnel: x₀ ~ N(0, σ₀²), x₁…x_{d−1} | x₀ ~ N(0, e^{x₀}). Normalised, so log Z = 0.
///
/// The canonical benchmark uses σ₀ = 3 and d = 10; σ₀ = 1 is the "easy" variant of some older code.
public struct Funnel: Target {
    public let name: String
    public let dimension: Int
    /// Standard deviation of the neck coordinate x₀.
    public let neckStd: Double
    public let defaultSigma2: Float
    public var logZ: Double? { 0 }

    /// A funnel of dimension `dimension` with neck standard deviation `neckStd`.
    public init(name: String = "funnel", dimension: Int = 10, neckStd: Double = 3, defaultSigma2: Float = 1) {
        self.name = name
        self.dimension = dimension
        self.neckStd = neckStd
        self.defaultSigma2 = defaultSigma2
    }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) {
        let d = dimension
        let halfLog2Pi = 0.5 * log(2 * Double.pi)
        for r in 0..<count {
            let xr = x + r * d
            let x0 = Double(xr[0])
            let precision = exp(-x0)
            var sumSq = 0.0
            for c in 1..<d { sumSq += Double(xr[c]) * Double(xr[c]) }
            let m = Double(d - 1)
            logDensity[r] = -0.5 * x0 * x0 / (neckStd * neckStd) - log(neckStd) - halfLog2Pi
                - 0.5 * sumSq * precision - m * (halfLog2Pi + 0.5 * x0)
            guard let gradient else { continue }
            gradient[r * d] = Float(-x0 / (neckStd * neckStd) + 0.5 * sumSq * precision - 0.5 * m)
            for c in 1..<d { gradient[r * d + c] = Float(-Double(xr[c]) * precision) }
        }
    }

    public func exactSamples(count: Int, rng: inout Xoshiro256) -> Matrix? {
        var out = rng.gaussianMatrix(rows: count, cols: dimension)
        for r in 0..<count {
            let x0 = Double(out[r, 0]) * neckStd
            out[r, 0] = Float(x0)
            let s = Float(exp(0.5 * x0))
            for c in 1..<dimension { out[r, c] *= s }
        }
        return out
    }
}

import Foundation
import Numerics

/// An equal-weight mixture of products of independent Student-t distributions (unit scale, ν degrees of freedom):
/// the Beyond-ELBOs "MoS" target (10 components, ν = 2, locations U(−10, 10)^d). Normalised, so log Z = 0.
///
/// log R(x) = logsumexp_k Σ_j log t_ν(x_j − μ_kj) − log K, log t_ν(u) = log Γ((ν+1)/2) − log Γ(ν/2) − ½ log(νπ)
/// − (ν+1)/2 · log(1 + u²/ν). Exact samples: a component, then t = z/√(χ²_ν/ν) per coordinate.
public struct StudentTMixture: Target {
    public let name: String
    public let dimension: Int
    public let defaultSigma2: Float
    /// Component locations, K × d.
    public let locations: [[Float]]
    /// Degrees of freedom ν.
    public let degreesOfFreedom: Double
    public var logZ: Double? { 0 }
    public var modeCentres: [[Float]]? { locations }
    public var modeWeights: [Double]? { Array(repeating: 1 / Double(locations.count), count: locations.count) }
    private let logNormaliser: Double

    /// - Precondition: at least one location, all of one length ≥ 1; ν > 0.
    public init(name: String, locations: [[Float]], degreesOfFreedom: Double, defaultSigma2: Float = 1) {
        precondition(!locations.isEmpty && locations.allSatisfy { $0.count == locations[0].count && !$0.isEmpty },
                     "StudentTMixture: locations must be K rows of one length")
        precondition(degreesOfFreedom > 0, "StudentTMixture: ν must be > 0")
        self.name = name
        self.dimension = locations[0].count
        self.locations = locations
        self.degreesOfFreedom = degreesOfFreedom
        self.defaultSigma2 = defaultSigma2
        let nu = degreesOfFreedom
        logNormaliser = lgamma((nu + 1) / 2) - lgamma(nu / 2) - 0.5 * log(nu * Double.pi)
    }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) throws {
        let d = dimension, K = locations.count, nu = degreesOfFreedom
        var componentLog = [Double](repeating: 0, count: K)
        var componentGrad = [Double](repeating: 0, count: K * d)
        for row in 0..<count {
            for k in 0..<K {
                var total = Double(d) * logNormaliser
                for j in 0..<d {
                    let u = Double(x[row * d + j]) - Double(locations[k][j])
                    total -= 0.5 * (nu + 1) * log1p(u * u / nu)
                    componentGrad[k * d + j] = -(nu + 1) * u / (nu + u * u)
                }
                componentLog[k] = total
            }
            let top = componentLog.max()!
            let weights = componentLog.map { exp($0 - top) }, sum = weights.reduce(0, +)
            logDensity[row] = top + log(sum) - log(Double(K))
            guard let gradient else { continue }
            for j in 0..<d {
                var g = 0.0
                for k in 0..<K { g += weights[k] * componentGrad[k * d + j] }
                gradient[row * d + j] = Float(g / sum)
            }
        }
    }

    public func exactSamples(count: Int, rng: inout Xoshiro256) -> Matrix? {
        var out = rng.gaussianMatrix(rows: count, cols: dimension)
        let halfNu = degreesOfFreedom / 2
        for r in 0..<count {
            let k = Int(rng.next() % UInt64(locations.count))
            for j in 0..<dimension {
                // χ²_ν/ν = Gamma(ν/2, rate ν/2)/… ; for ν = 2 it is an Exp(1) draw, −log u.
                let chiOverNu = halfNu == 1 ? -log(Double(rng.nextUniform())) : Self.gamma(shape: halfNu, rng: &rng) / halfNu
                out[r, j] = locations[k][j] + Float(Double(out[r, j]) / chiOverNu.squareRoot())
            }
        }
        return out
    }

    /// A Gamma(shape, 1) draw (Marsaglia & Tsang 2000; shape < 1 by the u^{1/shape} boost).
    static func gamma(shape: Double, rng: inout Xoshiro256) -> Double {
        if shape < 1 { return gamma(shape: shape + 1, rng: &rng) * pow(Double(rng.nextUniform()), 1 / shape) }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            let z = Double(rng.nextGaussian()), v = pow(1 + c * z, 3)
            if v <= 0 { continue }
            if log(Double(rng.nextUniform())) < 0.5 * z * z + d - d * v + d * log(v) { return d * v }
        }
    }
}

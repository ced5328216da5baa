import Foundation
import Numerics

/// Brownian motion with unknown innovation and observation scales and missing observations: inference_gym's
/// `BrownianMotionUnknownScalesMissingMiddleObservations`, the Beyond-ELBOs task "Brownian" (d = 32 for 30 steps).
///
/// σ_inn, σ_obs ~ LogNormal(0, 2); x₀ ~ N(0, σ_inn²), x_t ~ N(x_{t−1}, σ_inn²); y_t ~ N(x_t, σ_obs²) where observed.
/// The unconstrained state is [z_inn, z_obs, x₀ … x_{T−1}] with σ = softplus(z); log R is the joint log density plus
/// the Jacobians log σ′(z) = log sigmoid(z).
public struct BrownianMotion: Target {
    public let name: String
    public let defaultSigma2: Float
    /// Observations y_t, nil where missing.
    public let observations: [Double?]
    public var dimension: Int { observations.count + 2 }
    /// The log-normal priors' log-scale standard deviation.
    static let scalePriorStd = 2.0

    /// - Precondition: at least one step, finite observed values.
    public init(name: String, observations: [Double?], defaultSigma2: Float = 1) {
        precondition(!observations.isEmpty && observations.allSatisfy { $0?.isFinite ?? true }, "BrownianMotion: need finite observations")
        self.name = name
        self.observations = observations
        self.defaultSigma2 = defaultSigma2
    }

    /// log N(e; 0, σ²) and its derivatives in e and σ.
    @inline(__always) static func normal(_ e: Double, _ sigma: Double) -> (value: Double, dE: Double, dSigma: Double) {
        let q = e / sigma
        return (-0.5 * q * q - log(sigma) - 0.5 * log(2 * Double.pi), -q / sigma, (q * q - 1) / sigma)
    }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) throws {
        let T = observations.count, d = dimension, s2 = Self.scalePriorStd * Self.scalePriorStd
        for row in 0..<count {
            let v = (0..<d).map { Double(x[row * d + $0]) }
            var g = [Double](repeating: 0, count: d)
            var total = 0.0, dSigma = [0.0, 0.0]
            var sigma = [0.0, 0.0]
            for k in 0..<2 {
                let z = v[k]
                sigma[k] = LogSpace.softplus(z)
                let logSigma = log(sigma[k])
                // LogNormal(0, 2) density of σ, and the Jacobian log sigmoid(z) = −softplus(−z).
                total += -logSigma - 0.5 * log(2 * Double.pi * s2) - 0.5 * logSigma * logSigma / s2
                total -= LogSpace.softplus(-z)
                dSigma[k] = -1 / sigma[k] - logSigma / (s2 * sigma[k])
                g[k] = 1 - 1 / (1 + exp(-z))                                 // d log sigmoid(z)/dz
            }
            for t in 0..<T {
                let e = v[2 + t] - (t == 0 ? 0 : v[1 + t])
                let step = Self.normal(e, sigma[0])
                total += step.value
                dSigma[0] += step.dSigma
                g[2 + t] += step.dE
                if t > 0 { g[1 + t] -= step.dE }
                if let y = observations[t] {
                    let observation = Self.normal(y - v[2 + t], sigma[1])
                    total += observation.value
                    dSigma[1] += observation.dSigma
                    g[2 + t] -= observation.dE
                }
            }
            logDensity[row] = total
            guard let gradient else { continue }
            for k in 0..<2 { g[k] += dSigma[k] / (1 + exp(-v[k])) }         // dσ/dz = sigmoid(z)
            for k in 0..<d { gradient[row * d + k] = Float(g[k]) }
        }
    }
}

import Foundation
import Numerics

/// Random-effects binomial (logistic) regression with two covariates and their interaction: the "seeds" model
/// (Crowder 1978; BUGS example; Beyond-ELBOs task "Seeds", d = 26 for 21 plates).
///
/// rᵢ ~ Binomial(nᵢ, σ(ηᵢ)), ηᵢ = a₀ + a₁x₁ᵢ + a₂x₂ᵢ + a₁₂x₁ᵢx₂ᵢ + bᵢ, bᵢ ~ N(0, 1/τ), a ~ N(0, 10²),
/// τ ~ Gamma(shape 0.01, rate 0.01). The unconstrained state is [a₀, a₁, a₁₂, a₂, b₁ … b_m, z] with τ = e^z (the
/// benchmark's alphabetical order); log R includes the binomial coefficients, every prior constant and the
/// Jacobian +z of τ = e^z.
public struct RandomEffectsBinomial: Target {
    public let name: String
    public let defaultSigma2: Float
    /// Successes rᵢ, trials nᵢ and covariates of each group.
    public let successes, trials, x1, x2: [Double]
    public var dimension: Int { successes.count + 5 }
    /// Prior standard deviation of the fixed effects, and shape/rate of τ's Gamma prior.
    static let fixedStd = 10.0, gammaShape = 0.01, gammaRate = 0.01
    private let constant: Double

    /// - Precondition: four lists of one length ≥ 1; 0 ≤ rᵢ ≤ nᵢ, integers.
    public init(name: String, successes: [Double], trials: [Double], x1: [Double], x2: [Double], defaultSigma2: Float = 1) {
        let m = successes.count
        precondition(m > 0 && trials.count == m && x1.count == m && x2.count == m, "RandomEffectsBinomial: four lists of one length")
        precondition(zip(successes, trials).allSatisfy { $0 >= 0 && $0 <= $1 && $0 == $0.rounded() && $1 == $1.rounded() },
                     "RandomEffectsBinomial: need integers 0 ≤ r ≤ n")
        self.name = name
        self.successes = successes
        self.trials = trials
        self.x1 = x1
        self.x2 = x2
        self.defaultSigma2 = defaultSigma2
        let logBinomials = zip(successes, trials).reduce(0.0) { $0 + lgamma($1.1 + 1) - lgamma($1.0 + 1) - lgamma($1.1 - $1.0 + 1) }
        let a = Self.gammaShape, rate = Self.gammaRate
        constant = logBinomials + a * log(rate) - lgamma(a)       // Gamma prior's normaliser
            - 4 * (log(Self.fixedStd) + 0.5 * log(2 * Double.pi))  // four N(0, 10²) fixed effects
            - Double(m) * 0.5 * log(2 * Double.pi)                 // m N(0, 1/τ) random effects, less their ½ log τ
    }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) throws {
        let m = successes.count, d = dimension
        let fixedPrecision = 1 / (Self.fixedStd * Self.fixedStd)
        for row in 0..<count {
            let v = (0..<d).map { Double(x[row * d + $0]) }
            let (a0, a1, a12, a2, z) = (v[0], v[1], v[2], v[3], v[d - 1])
            let tau = exp(z)
            var total = constant + (Self.gammaShape - 1) * z - Self.gammaRate * tau + z  // Gamma(τ) and Jacobian
            total -= 0.5 * fixedPrecision * (a0 * a0 + a1 * a1 + a12 * a12 + a2 * a2)
            var g = [Double](repeating: 0, count: d)
            var dz = Self.gammaShape - 1 - Self.gammaRate * tau + 1
            for i in 0..<m {
                let b = v[4 + i]
                let eta = a0 + a1 * x1[i] + a2 * x2[i] + a12 * x1[i] * x2[i] + b
                let logSigmoid = -LogSpace.softplus(-eta)
                total += successes[i] * logSigmoid + (trials[i] - successes[i]) * (logSigmoid - eta)
                total += 0.5 * z - 0.5 * tau * b * b
                let dEta = successes[i] - trials[i] / (1 + exp(-eta))
                g[0] += dEta; g[1] += dEta * x1[i]; g[3] += dEta * x2[i]; g[2] += dEta * x1[i] * x2[i]
                g[4 + i] = dEta - tau * b
                dz += 0.5 - 0.5 * tau * b * b
            }
            logDensity[row] = total
            guard let gradient else { continue }
            g[0] -= fixedPrecision * a0; g[1] -= fixedPrecision * a1; g[2] -= fixedPrecision * a12; g[3] -= fixedPrecision * a2
            g[d - 1] = dz
            for k in 0..<d { gradient[row * d + k] = Float(g[k]) }
        }
    }
}

import Foundation
import Numerics
import Densities

/// Mean-field variational inference: a diagonal Gaussian q(x) = N(μ, diag e^{2s}) fitted by maximising the
/// reparameterised ELBO E_q[log R(x) − log q(x)] with Adam (Kingma & Welling 2014; the "MFVI" floor of the
/// Beyond-ELBOs benchmark). With x = μ + e^s ⊙ ε, ε ~ N(0, I):
/// ∂ELBO/∂μ = E[∇log R(x)], ∂ELBO/∂s_j = E[∂_j log R(x)·e^{s_j}ε_j] + 1 (the entropy's gradient).
public struct MeanFieldVI: Sendable {
    /// μ (1 × d) and s = log σ (1 × d).
    public var parameters = ParameterStore()
    public let mean: ParameterSlot, logStd: ParameterSlot
    public var dimension: Int { mean.count }

    /// q = N(0, σ₀²I) in `dimension` dimensions.
    public init(dimension: Int, initialStd: Float) {
        mean = parameters.add("mean", Matrix(rows: 1, cols: dimension))
        logStd = parameters.add("log_std", Matrix(rows: 1, cols: dimension, repeating: log(initialStd)))
    }

    /// `count` draws x = μ + σ ⊙ ε with their ε, [count, d] each.
    public func sample(count: Int, rng: inout Xoshiro256) -> (x: Matrix, noise: Matrix) {
        let d = dimension, noise = rng.gaussianMatrix(rows: count, cols: d)
        var x = noise
        for r in 0..<count {
            for k in 0..<d { x[r, k] = parameters.values[mean.offset + k] + exp(parameters.values[logStd.offset + k]) * noise[r, k] }
        }
        return (x, noise)
    }

    /// log R(x) − log q(x) of each draw (double), given the draws' ε and log R.
    public func logWeights(noise: Matrix, logDensity: [Double]) -> [Double] {
        let d = dimension
        let logStdSum = (0..<d).reduce(0.0) { $0 + Double(parameters.values[logStd.offset + $1]) }
        return (0..<noise.rows).map { r in
            var squared = 0.0
            for k in 0..<d { squared += Double(noise[r, k]) * Double(noise[r, k]) }
            return logDensity[r] + 0.5 * squared + logStdSum + 0.5 * Double(d) * log(2 * Double.pi)
        }
    }

    /// Sets `parameters.gradients` to ∇(−ELBO) estimated on `batch` draws and returns −ELBO (the loss).
    /// - Throws: `NonFiniteDensityError` when log R or its gradient is not finite at a draw, what the target throws.
    public mutating func lossAndGradient(target: any Target, batch: Int, rng: inout Xoshiro256) throws -> Double {
        let d = dimension
        let (x, noise) = sample(count: batch, rng: &rng)
        let (logR, gradient) = try target.logDensityAndGradient(x)
        if let r = (0..<batch).first(where: { r in !logR[r].isFinite || (0..<d).contains { !gradient[r, $0].isFinite } }) {
            throw NonFiniteDensityError(target: target.name, context: "mean-field VI", row: r)
        }
        parameters.zeroGradients()
        let scale = 1 / Float(batch), sigma = (0..<d).map { exp(parameters.values[logStd.offset + $0]) }
        for r in 0..<batch {
            for k in 0..<d {
                parameters.gradients[mean.offset + k] -= scale * gradient[r, k]
                parameters.gradients[logStd.offset + k] -= scale * gradient[r, k] * sigma[k] * noise[r, k]
            }
        }
        for k in 0..<d { parameters.gradients[logStd.offset + k] -= 1 }
        let w = logWeights(noise: noise, logDensity: logR)
        return -w.reduce(0, +) / Double(batch)
    }
}

import Foundation
import Numerics
import Densities
import NeuralSDE
import Objectives

/// How far a trained iDEM score is from its regression target at one noise level.
public struct ScoreError: Sendable, Equatable {
    /// Diffusion time.
    public var t: Float
    /// Noise scale σ(t) added to the clean configurations.
    public var sigma: Float
    /// mean over points of ‖s_θ − S_K‖² / d: the regression loss at this time, without weighting.
    public var meanSquaredError: Double
    /// Σ‖s_θ − S_K‖ / Σ‖S_K‖ over the points.
    public var relativeError: Double
    /// ⟨s_θ, S_K⟩ / ⟨S_K, S_K⟩ over the points: below 1, the learned score is weaker than its target.
    public var slope: Double
    /// mean over points of ‖S_K‖² / d, the size of the target itself.
    public var targetMeanSquare: Double
}

extension EnergyMatchingTrainer {
    /// The learned score against the Monte-Carlo target S_K (with the run's K and clip) at points x + σ(t)·z, for
    /// clean configurations `clean` (in the sampler's coordinates) and each of `times`. At t = 0 the target is
    /// nearly −∇E, so that row says how well the network has learned the forces that set the samples'
    /// temperature. `averaged` uses the weight average. Noise and estimates have their own streams, fixed per time.
    public func scoreErrors(clean: Matrix, times: [Float], averaged: Bool) throws -> [ScoreError] {
        var network = network
        if averaged, let averagedParameters { network.parameters.values = averagedParameters }
        let schedule = settings.schedule, n = clean.rows, d = clean.cols
        return try times.enumerated().map { index, time in
            var rng = Xoshiro256(seed: seed, stream: 1 << 53 | UInt64(index) << 1)
            let noise = centred(rng.gaussianMatrix(rows: n, cols: d))
            let sigma = schedule.variance(time).squareRoot()
            var x = clean
            for k in 0..<x.count { x.storage[k] += sigma * noise.storage[k] }
            let t = [Float](repeating: time, count: n)
            let target = try settings.estimator.estimate(self.target, x: x, t: t, schedule: schedule, seed: seed,
                                                         stream: 1 << 53 | UInt64(index) << 1 | 1,
                                                         context: "score profile at t = \(time)", threads: settings.threads,
                                                         clean: clean)
            let learned = network.evaluate(x, t: t)
            var (squared, errorNorms, targetNorms, cross, targetSquared) = (0.0, 0.0, 0.0, 0.0, 0.0)
            for r in 0..<n {
                var (e2, s2) = (0.0, 0.0)
                for c in 0..<d {
                    let (a, b) = (Double(learned[r, c]), Double(target[r, c]))
                    e2 += (a - b) * (a - b)
                    s2 += b * b
                    cross += a * b
                }
                (squared, targetSquared) = (squared + e2, targetSquared + s2)
                (errorNorms, targetNorms) = (errorNorms + e2.squareRoot(), targetNorms + s2.squareRoot())
            }
            return ScoreError(t: time, sigma: sigma, meanSquaredError: squared / Double(n * d),
                              relativeError: errorNorms / targetNorms, slope: cross / targetSquared,
                              targetMeanSquare: targetSquared / Double(n * d))
        }
    }
}

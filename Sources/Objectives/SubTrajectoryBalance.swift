import Foundation
import Numerics
import NeuralSDE

/// Balance over sub-trajectories with learned state flows: detailed balance (Bengio et al. 2023), SubTB
/// (Madan et al. 2023) and, with the sampler's forward-looking flows, FL-SubTB (Pan et al. 2023).
///
/// With u_k = log F_k − Σ_{m<k}(log p_F − log p_B)_m and log F_T = log R(x_T), the residual of the
/// sub-trajectory i → j is δ_ij = log F_i + Σ_{m=i}^{j−1}(log p_F − log p_B)_m − log F_j = u_i − u_j, so every
/// pair costs one subtraction; the loss is Σ_{i<j} w_{j−i}·δ_ij² / normaliser per path, averaged over paths.
public struct SubTrajectoryBalance: Objective {
    public let name: String
    public var parameters = ParameterStore()
    /// Weight of a sub-trajectory of each length L = 1…T, indexed by L − 1 (computed for the batch's T).
    let weights: @Sendable (_ steps: Int) -> [Double]
    /// Whether the weighted sum is divided by the sum of all pairs' weights (SubTB) or not (DB).
    let normalised: Bool

    /// Detailed balance: Σ_i (log F_i + log p_F − log p_B − log F_{i+1})² per path, summed over steps.
    public static func detailedBalance() -> SubTrajectoryBalance {
        SubTrajectoryBalance(name: "db", weights: { steps in (0..<steps).map { $0 == 0 ? 1 : 0 } }, normalised: false)
    }

    /// SubTB over all sub-trajectories with weights ∝ λ^{j−i}, normalised per path; named `fl-subtb` when the
    /// sampler's flows are forward-looking.
    public static func subTrajectoryBalance(lambda: Double = 2, forwardLooking: Bool = false) -> SubTrajectoryBalance {
        // λ^{L−T} instead of λ^L: the normalisation removes the scale, and λ^100 would dwarf the small terms.
        SubTrajectoryBalance(name: forwardLooking ? "fl-subtb" : "subtb", weights: { steps in
            (1...steps).map { Foundation.pow(lambda, Double($0 - steps)) }
        }, normalised: true)
    }

    init(name: String, weights: @escaping @Sendable (Int) -> [Double], normalised: Bool) {
        self.name = name
        self.weights = weights
        self.normalised = normalised
    }

    public mutating func evaluate(_ batch: TrajectoryBatch) -> ObjectiveOutput {
        let B = batch.batchSize, T = batch.steps
        precondition(batch.logFlow.count == T * B, "\(name) needs a network with a flow head")
        let w = weights(T)
        let lengths = (1...T).filter { w[$0 - 1] != 0 }
        let total = normalised ? lengths.reduce(0.0) { $0 + Double(T - $1 + 1) * w[$1 - 1] } : 1
        var forwardCotangent = [Float](repeating: 0, count: T * B)
        var flowCotangent = [Float](repeating: 0, count: T * B)
        var loss = 0.0
        var u = [Double](repeating: 0, count: T + 1), g = [Double](repeating: 0, count: T + 1)
        for b in 0..<B {
            var prefix = 0.0
            for k in 0..<T {
                u[k] = Double(batch.logFlow[k * B + b]) - prefix
                prefix += Double(batch.logForward[k * B + b]) - Double(batch.logBackward[k * B + b])
            }
            u[T] = batch.logReward[b] - prefix
            for k in 0...T { g[k] = 0 }
            for L in lengths {
                let weight = w[L - 1] / total
                for i in 0...(T - L) {
                    let delta = u[i] - u[i + L]
                    loss += weight * delta * delta
                    g[i] += 2 * weight * delta
                    g[i + L] -= 2 * weight * delta
                }
            }
            // u_k holds −log p_F of every earlier step, so ∂/∂log p_F_m = −Σ_{k>m} ∂/∂u_k.
            var suffix = 0.0
            for m in stride(from: T - 1, through: 0, by: -1) {
                suffix += g[m + 1]
                forwardCotangent[m * B + b] = Float(-suffix / Double(B))
                flowCotangent[m * B + b] = Float(g[m] / Double(B))
            }
        }
        let logZ = (0..<B).reduce(0.0) { $0 + Double(batch.logFlow[$1]) } / Double(B)
        return ObjectiveOutput(loss: loss / Double(B), logForwardCotangent: forwardCotangent, logZEstimate: logZ,
                               logFlowCotangent: flowCotangent)
    }
}

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

    /// Worker threads over the batch's paths; the numbers do not depend on it (each path is computed alone, and the
    /// paths' losses are added in path order).
    public var threads = 1

    /// This objective with `threads` worker threads.
    public func threaded(_ threads: Int) -> SubTrajectoryBalance {
        var copy = self
        copy.threads = max(1, threads)
        return copy
    }

    public mutating func evaluate(_ batch: TrajectoryBatch) -> ObjectiveOutput {
        let B = batch.batchSize, T = batch.steps
        precondition(batch.logFlow.count == T * B, "\(name) needs a network with a flow head")
        let w = weights(T)
        let lengths = (1...T).filter { w[$0 - 1] != 0 }
        let total = normalised ? lengths.reduce(0.0) { $0 + Double(T - $1 + 1) * w[$1 - 1] } : 1
        let scaled = lengths.map { w[$0 - 1] / total }
        var forwardCotangent = [Float](repeating: 0, count: T * B)
        var flowCotangent = [Float](repeating: 0, count: T * B)
        var pathLoss = [Double](repeating: 0, count: B)
        forwardCotangent.withUnsafeMutableBufferPointer { FC in
        flowCotangent.withUnsafeMutableBufferPointer { GC in
        pathLoss.withUnsafeMutableBufferPointer { PL in
            parallelChunks(B, parts: threads) { _, rows in
                // u, then ∂/∂u, and each length's 2·w·δ: T + 1, T + 1 and T values.
                let buffer = UnsafeMutablePointer<Double>.allocate(capacity: 3 * T + 2)
                defer { buffer.deallocate() }
                let (u, g, step) = (buffer, buffer + T + 1, buffer + 2 * T + 2)
                for b in rows {
                    var prefix = 0.0
                    for k in 0..<T {
                        u[k] = Double(batch.logFlow[k * B + b]) - prefix
                        prefix += Double(batch.logForward[k * B + b]) - Double(batch.logBackward[k * B + b])
                    }
                    u[T] = batch.logReward[b] - prefix
                    g.update(repeating: 0, count: T + 1)
                    PL[b] = Self.pairs(u, steps: T, lengths: lengths, weights: scaled, gradient: g, step: step)
                    // u_k holds −log p_F of every earlier step, so ∂/∂log p_F_m = −Σ_{k>m} ∂/∂u_k.
                    var suffix = 0.0
                    for m in stride(from: T - 1, through: 0, by: -1) {
                        suffix += g[m + 1]
                        FC[m * B + b] = Float(-suffix / Double(B))
                        GC[m * B + b] = Float(g[m] / Double(B))
                    }
                }
            }
        }}}
        let loss = pathLoss.reduce(0, +)
        let logZ = (0..<B).reduce(0.0) { $0 + Double(batch.logFlow[$1]) } / Double(B)
        return ObjectiveOutput(loss: loss / Double(B), logForwardCotangent: forwardCotangent, logZEstimate: logZ,
                               logFlowCotangent: flowCotangent)
    }

    /// One path's Σ_{i<j} w_{j−i}·δ_ij² over its pairs (δ_ij = u_i − u_j, `weights` already normalised, one per
    /// length), adding ∂/∂u of it into `gradient` (T + 1 values; `step` holds T). The squares are summed in four lanes
    /// over i (lane i mod 4 of each length's full groups of four, the rest in a fifth sum; the lanes added pairwise at
    /// the end), which is what lets the pairs run as vectors; the result is the same on any x86-64 target and thread
    /// count. Each length's 2·w·δ goes first into u_{i+L}'s gradient and then into u_i's, the order in which one loop
    /// over i took them, so the gradient's sums are the sequential ones.
    @inline(__always)
    static func pairs(_ u: UnsafeMutablePointer<Double>, steps T: Int, lengths: [Int], weights: [Double],
                      gradient g: UnsafeMutablePointer<Double>, step: UnsafeMutablePointer<Double>) -> Double {
        var lanes = SIMD4<Double>.zero, rest = 0.0
        for (L, weight) in zip(lengths, weights) {
            let n = T - L + 1, twice = 2 * weight
            let full = n & ~3
            var i = 0
            while i < full {
                let delta = UnsafeRawPointer(u + i).loadUnaligned(as: SIMD4<Double>.self)
                    - UnsafeRawPointer(u + i + L).loadUnaligned(as: SIMD4<Double>.self)
                lanes += weight * delta * delta
                UnsafeMutableRawPointer(step + i).storeBytes(of: twice * delta, as: SIMD4<Double>.self)
                i += 4
            }
            while i < n {
                let delta = u[i] - u[i + L]
                rest += weight * delta * delta
                step[i] = twice * delta
                i += 1
            }
            Self.add(step, to: g + L, count: n, sign: -1)
            Self.add(step, to: g, count: n, sign: 1)
        }
        return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + rest
    }

    /// y[i] ← y[i] + x[i] (`sign` 1) or y[i] − x[i] (`sign` −1) for i < `count`, four at a time: each value gets its one
    /// operation, so the result is the scalar loop's (which the compiler kept scalar, as y may overlap x).
    @inline(__always)
    static func add(_ x: UnsafePointer<Double>, to y: UnsafeMutablePointer<Double>, count: Int, sign: Double) {
        var i = 0
        while i + 4 <= count {
            let a = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD4<Double>.self)
            let b = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD4<Double>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: sign > 0 ? a + b : a - b, as: SIMD4<Double>.self)
            i += 4
        }
        while i < count {
            y[i] = sign > 0 ? y[i] + x[i] : y[i] - x[i]
            i += 1
        }
    }
}

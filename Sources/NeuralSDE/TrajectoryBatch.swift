import Numerics

/// A batch of B discretised paths x₀ → x_T with their per-step log-probabilities.
///
/// Layout is step-major: state i of path b starts at `(i·B + b)·d` in `states`; the transition i → i+1 of
/// path b is entry `i·B + b` of `logForward` and `logBackward`. Objectives read only this value.
public struct TrajectoryBatch: Sendable {
    /// Number of paths B.
    public let batchSize: Int
    /// Number of steps T.
    public let steps: Int
    /// State dimension d.
    public let dimension: Int
    /// (T + 1)·B·d states, step-major.
    public internal(set) var states: [Float]
    /// log p_F(x_{i+1} | x_i) under the (un-inflated) policy, T·B entries.
    public internal(set) var logForward: [Float]
    /// log p_B(x_i | x_{i+1}) under the Brownian bridge (0 for the deterministic step to x₀), T·B entries.
    public internal(set) var logBackward: [Float]
    /// log R(x_T), B entries, in double (as `Target` gives it: see there).
    public internal(set) var logReward: [Double]
    /// ∇log R(x_T), B × d, when the sampler was asked for it (`PathSampler.scoresTerminal`), else nil.
    public internal(set) var terminalScore: Matrix?
    /// Learned log-flow log F(x_i, t_i) of states 0..<T (T·B entries, step-major; with the forward-looking
    /// parametrisation it includes the fixed baseline), or empty when the network has no flow head.
    public internal(set) var logFlow: [Float]
    /// log p_F of every transition under a prior process (RTB), T·B entries; empty unless a trainer attaches it.
    public var priorLogForward: [Float] = []

    init(batchSize: Int, steps: Int, dimension: Int, flows: Bool = false) {
        self.batchSize = batchSize
        self.steps = steps
        self.dimension = dimension
        states = [Float](repeating: 0, count: (steps + 1) * batchSize * dimension)
        logForward = [Float](repeating: 0, count: steps * batchSize)
        logBackward = [Float](repeating: 0, count: steps * batchSize)
        logReward = [Double](repeating: 0, count: batchSize)
        logFlow = flows ? [Float](repeating: 0, count: steps * batchSize) : []
    }

    /// The terminal states x_T, B × d.
    public var terminalStates: Matrix {
        let start = steps * batchSize * dimension
        return Matrix(rows: batchSize, cols: dimension, storage: Array(states[start..<(start + batchSize * dimension)]))
    }

    /// Σ_i log p_F for every path (in Double, then rounded), B entries.
    public var sumLogForward: [Double] { Self.sumOverSteps(logForward, batchSize: batchSize) }
    /// Σ_i log p_B for every path, B entries.
    public var sumLogBackward: [Double] { Self.sumOverSteps(logBackward, batchSize: batchSize) }

    /// log w = log R(x_T) + S_B − S_F for every path: the log importance weight of the path.
    public var logWeights: [Double] {
        let f = sumLogForward, b = sumLogBackward
        return (0..<batchSize).map { logReward[$0] + b[$0] - f[$0] }
    }

    /// The same paths scored against another log-reward, one value per path (an adaptive teacher's reward).
    public func scored(logReward r: [Double]) -> TrajectoryBatch {
        precondition(r.count == batchSize, "TrajectoryBatch.scored: \(r.count) rewards for \(batchSize) paths")
        var copy = self
        copy.logReward = r
        return copy
    }

    /// Sums step-major per-transition values over the steps of each path, in Double.
    public static func sumOverSteps(_ values: [Float], batchSize: Int) -> [Double] {
        var out = [Double](repeating: 0, count: batchSize)
        for (k, v) in values.enumerated() { out[k % batchSize] += Double(v) }
        return out
    }
}

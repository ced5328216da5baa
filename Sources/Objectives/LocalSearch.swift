import Numerics
import Densities

/// Local search around replayed states (Sendera et al. 2024): parallel MALA chains started at buffer states,
/// with per-chain step sizes adapted toward the target acceptance during burn-in; every state accepted after
/// burn-in is returned for the replay buffer.
public struct LocalSearch: Sendable, Equatable {
    /// MALA sweeps per cycle.
    public var sweeps = 200
    /// Sweeps of step-size adaptation before states are kept.
    public var burnIn = 100
    /// Initial MALA step size.
    public var initialStepSize: Float = 0.01

    /// Settings with the defaults (200 sweeps, 100 of burn-in).
    public init(sweeps: Int = 200, burnIn: Int = 100, initialStepSize: Float = 0.01) {
        self.sweeps = sweeps
        self.burnIn = burnIn
        self.initialStepSize = initialStepSize
    }

    /// What one cycle produced.
    public struct Outcome: Sendable {
        /// States accepted after burn-in, one per row.
        public var states: Matrix
        /// Their log-rewards (double, as `Target` gives them).
        public var logRewards: [Double]
        /// Acceptance rate after burn-in.
        public var acceptance: Double
        /// Points at which log R and its gradient were evaluated.
        public var gradientEvaluations: Int
    }

    /// Runs one cycle of chains started at the rows of `start`.
    public func run(from start: Matrix, target: any Target, rng: inout Xoshiro256) throws -> Outcome {
        var state = try ChainState(target: target, positions: start)
        var h = [Float](repeating: initialStepSize, count: start.rows)
        let adaptation = StepSizeAdaptation()
        var kept: [Float] = [], rewards: [Double] = []
        var accepted = 0, proposed = 0
        for sweep in 0..<sweeps {
            let (next, info) = try MALA.step(state, target: target, stepSizes: h, rng: &rng)
            state = next
            if sweep < burnIn {
                h = adaptation.adapt(h, accepted: info.accepted)
                continue
            }
            proposed += start.rows
            for (c, a) in info.accepted.enumerated() where a {
                accepted += 1
                kept += state.positions.storage[(c * start.cols)..<((c + 1) * start.cols)]
                rewards.append(state.logDensity[c])
            }
        }
        return Outcome(states: Matrix(rows: rewards.count, cols: start.cols, storage: kept), logRewards: rewards,
                       acceptance: Double(accepted) / Double(max(proposed, 1)),
                       gradientEvaluations: start.rows * (sweeps + 1))
    }
}

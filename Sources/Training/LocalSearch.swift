import Numerics
import Densities

/// The settings of local search, resolved once from `ls_every`, `ls_sweeps`, `ls_burn_in`, `ls_step`, `ls_kernel`
/// (with `hmc_leapfrog`), `buffer_size` and `rank_weight`.
public struct LocalSearchSettings: Sendable, Equatable {
    /// Iterations between cycles.
    public var every: Int
    /// Kernel sweeps per cycle, and the leading ones that adapt step sizes (their states are not kept).
    public var sweeps: Int, burnIn: Int
    /// Every chain's initial step size.
    public var stepSize: Float
    /// The chains' kernel.
    public var kernel: KernelChoice
    /// Capacity of each replay buffer and its rank-priority weight k: P(rank r) ∝ 1/(k·N + r).
    public var bufferSize: Int, rankWeight: Double

    /// Settings with the given values.
    public init(every: Int, sweeps: Int, burnIn: Int, stepSize: Float, kernel: KernelChoice, bufferSize: Int, rankWeight: Double) {
        (self.every, self.sweeps, self.burnIn, self.stepSize, self.kernel) = (every, sweeps, burnIn, stepSize, kernel)
        (self.bufferSize, self.rankWeight) = (bufferSize, rankWeight)
    }
}

/// Local search around replayed states (Sendera et al. 2024): parallel chains of an MCMC kernel (MALA, HMC)
/// started at buffer states, with per-chain step sizes adapted toward the kernel's target acceptance during
/// burn-in; every state accepted after burn-in is returned for the replay buffer.
public struct LocalSearch: Sendable {
    /// The chains' kernel, sweeps, burn-in (adaptation) and initial step size.
    public var driver: ChainDriver

    /// Local search with `kernel` (default MALA): `sweeps` sweeps per cycle, the first `burnIn` adapting.
    public init(kernel: any MCMCKernel = MALA(), sweeps: Int = 200, burnIn: Int = 100, initialStepSize: Float = 0.01) {
        driver = ChainDriver(kernel: kernel, sweeps: sweeps, adaptationSweeps: burnIn, initialStepSize: initialStepSize)
    }

    /// One cycle as `settings` describe it.
    public init(_ settings: LocalSearchSettings) {
        self.init(kernel: settings.kernel.kernel, sweeps: settings.sweeps, burnIn: settings.burnIn, initialStepSize: settings.stepSize)
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
    /// - Throws: what the target throws.
    public func run(from start: Matrix, target: any Target, rng: inout Xoshiro256) throws -> Outcome {
        var kept: [Float] = [], rewards: [Double] = []
        let d = start.cols, burnIn = driver.adaptationSweeps
        let outcome = try driver.run(from: try ChainState(target: target, positions: start), target: target, rng: &rng) { sweep, state, info in
            guard sweep >= burnIn else { return }
            for (c, a) in info.accepted.enumerated() where a {
                kept += state.positions.storage[(c * d)..<((c + 1) * d)]
                rewards.append(state.logDensity[c])
            }
        }
        return Outcome(states: Matrix(rows: rewards.count, cols: d, storage: kept), logRewards: rewards,
                       acceptance: outcome.acceptance, gradientEvaluations: outcome.gradientEvaluations)
    }
}

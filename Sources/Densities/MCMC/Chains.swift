import Foundation
import Numerics

/// Runs a population of chains with one kernel: the first `adaptationSweeps` sweeps adapt every chain's step size
/// toward the kernel's target acceptance (`StepSizeAdaptation`), the rest keep them. The one driver behind local
/// search, iDEM's buffer refinement, the matched-budget baseline and reference sampling.
public struct ChainDriver: Sendable {
    /// The transition kernel (MALA, HMC).
    public var kernel: any MCMCKernel
    /// Sweeps (kernel steps of every chain) in all.
    public var sweeps: Int
    /// Leading sweeps that adapt the step sizes; their acceptance is not counted.
    public var adaptationSweeps: Int
    /// Every chain's step size at the start.
    public var initialStepSize: Float

    /// A driver for `sweeps` sweeps of `kernel`, the first `adaptationSweeps` adapting.
    public init(kernel: any MCMCKernel, sweeps: Int, adaptationSweeps: Int, initialStepSize: Float) {
        (self.kernel, self.sweeps, self.adaptationSweeps, self.initialStepSize) = (kernel, sweeps, adaptationSweeps, initialStepSize)
    }

    /// What a run produced.
    public struct Outcome: Sendable {
        /// The chains' final states.
        public var state: ChainState
        /// Every chain's final step size.
        public var stepSizes: [Float]
        /// Acceptance rate over the sweeps after adaptation (0 when there are none).
        public var acceptance: Double
        /// Points at which log R and ∇log R were evaluated: the start, then the kernel's cost per sweep,
        /// chains × (1 + sweeps × `gradientEvaluationsPerStep`).
        public var gradientEvaluations: Int
    }

    /// Chains in the middle of a run: their state, step sizes, and the sweeps and acceptances so far.
    public struct Progress: Sendable {
        /// The chains' current states.
        public var state: ChainState
        /// Every chain's current step size.
        public var stepSizes: [Float]
        /// Sweeps done.
        public var sweep = 0
        /// Accepted and proposed moves after adaptation.
        public var accepted = 0, proposed = 0

        /// Chains at `state` with step sizes `stepSizes`, after `sweep` sweeps with the given counts.
        public init(state: ChainState, stepSizes: [Float], sweep: Int = 0, accepted: Int = 0, proposed: Int = 0) {
            (self.state, self.stepSizes, self.sweep, self.accepted, self.proposed) = (state, stepSizes, sweep, accepted, proposed)
        }

        /// Acceptance rate over the sweeps after adaptation (0 when there are none).
        public var acceptance: Double { Double(accepted) / Double(max(proposed, 1)) }
    }

    /// Chains at `start` with the initial step size, before the first sweep.
    public func start(_ start: ChainState) -> Progress {
        Progress(state: start, stepSizes: [Float](repeating: initialStepSize, count: start.positions.rows))
    }

    /// One sweep: every chain takes one kernel step; during adaptation the step sizes move toward the kernel's
    /// target acceptance, afterwards acceptances are counted.
    /// - Throws: what the target throws.
    @discardableResult
    public func sweep(_ chains: inout Progress, target: any Target, rng: inout Xoshiro256) throws -> KernelInfo {
        let (next, info) = try kernel.step(chains.state, target: target, stepSizes: chains.stepSizes, rng: &rng)
        chains.state = next
        if chains.sweep < adaptationSweeps {
            chains.stepSizes = StepSizeAdaptation(targetAcceptance: kernel.targetAcceptance).adapt(chains.stepSizes, accepted: info.accepted)
        } else {
            chains.accepted += info.accepted.filter { $0 }.count
            chains.proposed += info.accepted.count
        }
        chains.sweep += 1
        return info
    }

    /// Runs the chains from `start`, calling `observe(sweep, state, info)` after every sweep.
    /// - Throws: what the target throws.
    public func run(from start: ChainState, target: any Target, rng: inout Xoshiro256,
                    observe: (Int, ChainState, KernelInfo) throws -> Void = { _, _, _ in }) throws -> Outcome {
        var chains = self.start(start)
        while chains.sweep < sweeps {
            let info = try sweep(&chains, target: target, rng: &rng)
            try observe(chains.sweep - 1, chains.state, info)
        }
        return Outcome(state: chains.state, stepSizes: chains.stepSizes, acceptance: chains.acceptance,
                       gradientEvaluations: Self.cost(chains: start.positions.rows, sweeps: sweeps, kernel: kernel))
    }

    /// Gradient evaluations of `sweeps` sweeps of `chains` chains: chains × (1 + sweeps × L).
    public static func cost(chains: Int, sweeps: Int, kernel: any MCMCKernel) -> Int {
        chains * (1 + sweeps * kernel.gradientEvaluationsPerStep)
    }
}

/// A kernel as settings name it (`ls_kernel=mala|hmc`, `hmc_leapfrog=L`); a value that compares, so that settings
/// holding one stay `Equatable`.
public enum KernelChoice: Sendable, Equatable {
    /// `MALA`.
    case mala
    /// `HMC` with L leapfrog steps.
    case hmc(leapfrogSteps: Int)

    /// The names `ls_kernel=` accepts.
    public static let names = ["mala", "hmc"]

    /// The choice named `name` (one of `names`); `leapfrogSteps` applies to HMC.
    public init(name: String, leapfrogSteps: Int) {
        self = name == "hmc" ? .hmc(leapfrogSteps: leapfrogSteps) : .mala
    }

    /// The kernel.
    public var kernel: any MCMCKernel {
        switch self {
        case .mala: return MALA()
        case .hmc(let l): return HMC(leapfrogSteps: l)
        }
    }
}

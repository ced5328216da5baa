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

    /// Runs the chains from `start`, calling `observe(sweep, state, info)` after every sweep.
    /// - Throws: what the target throws.
    public func run(from start: ChainState, target: any Target, rng: inout Xoshiro256,
                    observe: (Int, ChainState, KernelInfo) throws -> Void = { _, _, _ in }) throws -> Outcome {
        var state = start
        let chains = start.positions.rows
        var h = [Float](repeating: initialStepSize, count: chains)
        let adaptation = StepSizeAdaptation(targetAcceptance: kernel.targetAcceptance)
        var accepted = 0, proposed = 0
        for sweep in 0..<sweeps {
            let (next, info) = try kernel.step(state, target: target, stepSizes: h, rng: &rng)
            state = next
            if sweep < adaptationSweeps {
                h = adaptation.adapt(h, accepted: info.accepted)
            } else {
                accepted += info.accepted.filter { $0 }.count
                proposed += chains
            }
            try observe(sweep, state, info)
        }
        return Outcome(state: state, stepSizes: h, acceptance: Double(accepted) / Double(max(proposed, 1)),
                       gradientEvaluations: Self.cost(chains: chains, sweeps: sweeps, kernel: kernel))
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

import Foundation
import Numerics
import Densities
import Evaluation
import Objectives
import Training
import RunStore

/// The MCMC counterpart of a learned sampler (`objective=mala`): `eval_paths` chains of the `ls_kernel` kernel started
/// where iDEM's reverse SDE starts (N(0, σ_max²·I) in the target's coordinates, centre-of-mass free for particles),
/// run for at most `mala_budget` gradient evaluations in total (the start's included); the first half of the sweeps adapts per-chain step sizes
/// toward the kernel's target acceptance, and the chains' final states are the samples, scored like every method's.
/// One iteration is one sweep, so the run checkpoints, stops on a signal and resumes like any other.
public final class MCMCBaseline: Learner {
    public let config: RunConfig
    /// The target in its own coordinates (the chains run on it).
    public let target: any Target
    /// The chains' driver: kernel, sweeps, adaptation.
    public let driver: ChainDriver
    /// The chains where they stand.
    public private(set) var chains: ChainDriver.Progress
    /// The one generator of all sweeps.
    private var rng: Xoshiro256
    public private(set) var seconds = 0.0
    public var history: [TrainingPoint] = []
    public var monitored: [TrainingPoint] = []
    public let unit = "sweep"
    /// The budget `mala_budget` sets the sweeps, not `iterations`.
    public let lengthIsIterations = false
    /// The target given in place of the catalog's `target=` (nil: the catalog's).
    public let customTarget: (any Target)?
    /// The comparison set of every evaluation, drawn once.
    let comparison = ComparisonCache()
    /// The iDEM settings whose σ_max places the start (and which `/config` records as resolved).
    let settings: EnergyMatchingSettings

    /// Chains at their starting points. Pass `target` to run them on your own `Target`.
    /// - Throws: `ConfigError` for sizes over the limits, what the target throws at the starting points.
    public init(config: RunConfig, target custom: (any Target)? = nil) throws {
        BLAS.setThreads(1)
        let config = config.training(on: custom)
        self.config = config
        let setup = try EnergyMatchingLearner.setup(config, target: custom)
        (target, settings, customTarget) = (setup.original, setup.settings, custom)
        let kernel = config.mcmcKernel.kernel
        // The start's evaluation counts against the budget: chains × (1 + sweeps × L) ≤ mala_budget, as close as whole sweeps go.
        let n = config.evaluation.paths, sweeps = max(2, (config.malaBudget - n) / (n * kernel.gradientEvaluationsPerStep))
        driver = ChainDriver(kernel: kernel, sweeps: sweeps, adaptationSweeps: sweeps / 2, initialStepSize: config.lsStep)
        rng = Xoshiro256(seed: config.seed, stream: 1 << 53)
        var x = rng.gaussianMatrix(rows: n, cols: target.dimension)
        let spread = settings.schedule.sigmaMax * (setup.scaling?.scale ?? 1)  // σ_max in the target's coordinates
        for k in x.storage.indices { x.storage[k] *= spread }
        chains = driver.start(try ChainState(target: target, positions: x))
    }

    public var iteration: Int { chains.sweep }
    public var totalIterations: Int { driver.sweeps }
    public var budget: EvaluationBudget {
        EvaluationBudget(gradient: ChainDriver.cost(chains: config.evaluation.paths, sweeps: chains.sweep, kernel: driver.kernel))
    }

    public func advance() throws -> [String: Double] {
        let start = DispatchTime.now().uptimeNanoseconds
        let info = try driver.sweep(&chains, target: target, rng: &rng)
        seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return ["acceptance": info.acceptanceRate]
    }

    public func evaluate() throws -> EvaluationReport {
        try Comparison.report(samples: chains.state.positions, target: target, comparison: try comparison.get {
            try Comparison.set(for: target, config: config, catalog: customTarget == nil)
        }, logDensity: chains.state.logDensity)
    }

    public func monitor() throws -> [String: Double] { RunFile.numbers(try evaluate()) }

    public var resolvedSettings: [String: String] {
        var values = EnergyMatchingLearner.resolved(settings)
        values["eval_steps"] = "unused by objective=\(config.objective) (no SDE is integrated)"
        return values
    }

    public var trainingSummary: String {
        String(format: "ran %d %@ chains for %ld gradient evaluations in %.1f s (acceptance %.3f after adaptation)",
               config.evaluation.paths, driver.kernel.name.uppercased(), budget.gradient, seconds, chains.acceptance)
    }

    /// The chains (positions with their log-densities and gradients), step sizes, acceptance counts and generator.
    public func checkpointNode() -> Node {
        var n = Node()
        let s = chains.state
        n.put("positions", .float(shape: [s.positions.rows, s.positions.cols], values: s.positions.storage))
        n.put("log_density", .double(shape: [s.logDensity.count], values: s.logDensity))
        n.put("gradient", .float(shape: [s.gradient.rows, s.gradient.cols], values: s.gradient.storage))
        n.put("step_sizes", .float(shape: [chains.stepSizes.count], values: chains.stepSizes))
        n.set("accepted", .int(Int64(chains.accepted)))
        n.set("proposed", .int(Int64(chains.proposed)))
        n.set("sweeps", .int(Int64(driver.sweeps)))
        n.set("acceptance", .double(chains.acceptance))
        CheckpointFields.put(rng, into: &n)
        return n
    }

    public func restore(_ cp: CheckpointFields, stored: RunConfig) throws {
        let n = config.evaluation.paths, d = target.dimension
        guard cp.node.dataset("positions") != nil else {
            throw cp.damaged("holds no chain states (written before MCMC runs could be resumed); run it anew")
        }
        var state = chains.state
        state.positions = Matrix(rows: n, cols: d, storage: try cp.floats("positions", count: n * d))
        state.gradient = Matrix(rows: n, cols: d, storage: try cp.floats("gradient", count: n * d))
        guard let logDensity = cp.node.dataset("log_density")?.doubles, logDensity.count == n, !logDensity.contains(where: \.isNaN) else {
            throw cp.damaged("log_density is missing or has the wrong length")
        }
        state.logDensity = logDensity
        let restored = try cp.generator()
        rng = restored
        chains = ChainDriver.Progress(state: state, stepSizes: try cp.floats("step_sizes", count: n),
                                      sweep: try cp.count("iteration", limit: driver.sweeps),
                                      accepted: try cp.count("accepted"), proposed: try cp.count("proposed"))
        seconds = try cp.number("seconds", fallback: 0)
    }
}

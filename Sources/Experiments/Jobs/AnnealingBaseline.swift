import Foundation
import Numerics
import Densities
import Evaluation
import Training
import RunStore

/// The training-free annealing baselines (`objective=smc`, `objective=ais`): `eval_paths` particles carried from
/// N(0, anneal_std²·I) to the target along the geometric path (`AnnealedImportanceSampler`). One iteration is one
/// temperature, so a run checkpoints, stops on a signal and resumes like any other. The evaluation reports log Ẑ,
/// the ESS of the final weights and an ELBO (AIS: mean of the particles' log weights; SMC: the weighted incremental
/// log weights summed over temperatures), and scores the particles resampled by their final weights as samples.
public final class AnnealingBaseline: Learner {
    public let config: RunConfig
    public let target: any Target
    public let sampler: AnnealedImportanceSampler
    public private(set) var state: AnnealedImportanceSampler.State
    private var rng: Xoshiro256
    public private(set) var seconds = 0.0
    public var history: [TrainingPoint] = []
    public var monitored: [TrainingPoint] = []
    public let unit = "temperature"
    /// The schedule (`anneal_steps`) sets the temperatures, not `iterations`.
    public let lengthIsIterations = false
    public let customTarget: (any Target)?
    let comparison = ComparisonCache()

    /// Particles drawn from the initial Gaussian, with the target evaluated at them.
    /// - Throws: `ConfigError` for particle targets (the Gaussian start is not centre-of-mass free) and sizes over
    ///   the limits; what the target throws.
    public init(config: RunConfig, target custom: (any Target)? = nil) throws {
        BLAS.setThreads(1)
        let config = config.training(on: custom)
        let reads: Set = ["hmc_leapfrog", "anneal_steps", "anneal_std", "anneal_step", "anneal_step_mid", "anneal_schedule", "anneal_cess",
                          "anneal_adapt_step", "anneal_moves", "anneal_precondition"]
        try Self.refuseUnread(config, reads: Self.jobSettings.union(reads).union(config.method.name == "smc" ? ["smc_ess"] : []),
                              doing: "it anneals eval_paths particles along the geometric path with HMC moves")
        if config.annealing.schedule != "adaptive" && config.annealing.conditionalESS != RunConfig().annealing.conditionalESS {
            throw ConfigError.badValue(key: "anneal_cess", value: "\(config.annealing.conditionalESS)",
                                       expected: "no value without anneal_schedule=adaptive (the linear schedule does not read it)")
        }
        self.config = config
        target = try Self.gaussianStartTarget(config, custom: custom)
        // Each half of the particles fits the mass matrix of the other (`heldOutGroups`): with fewer particles than
        // dimensions a covariance is singular, and a single particle has no spread at all; either way the moves freeze.
        let d = target.dimension, (minimum, overflow) = d.multipliedReportingOverflow(by: 4), paths = config.evaluation.paths
        if config.annealing.preconditioning == .full && (overflow || paths < minimum) {
            throw ConfigError.badValue(key: "eval_paths", value: "\(paths)", expected: "at least 4·d = "
                + (overflow ? "more than \(Int.max)" : "\(minimum)") + " particles with anneal_precondition=full (each half of them "
                + "fits the \(d) × \(d) covariance the other half moves in): raise eval_paths, or use anneal_precondition=true "
                + "(a diagonal mass matrix)")
        }
        if config.annealing.preconditioning == .diagonal && paths < 8 {
            throw ConfigError.badValue(key: "eval_paths", value: "\(paths)", expected: "at least 8 particles with "
                + "anneal_precondition=true (each half of them fits the scales the other half moves in): raise eval_paths")
        }
        customTarget = custom
        let a = config.annealing
        sampler = AnnealedImportanceSampler(temperatures: a.temperatures, initialStd: Double(a.initialStd ?? target.defaultSigma2.squareRoot()),
                                            stepSize: (a.stepStart, a.stepMiddle ?? a.stepStart), leapfrogSteps: config.hmcLeapfrog,
                                            resamplingThreshold: config.method.name == "smc" ? Double(a.resamplingThreshold) : nil,
                                            conditionalESS: a.schedule == "adaptive" ? Double(a.conditionalESS) : nil,
                                            adaptStepSize: a.adaptStepSize, moves: a.moves, preconditioning: a.preconditioning)
        rng = Xoshiro256(seed: config.seed, stream: 1 << 54)
        state = try sampler.start(target: target, count: config.evaluation.paths, rng: &rng)
    }

    public var iteration: Int { state.temperature }
    /// K, or the temperatures taken when an adaptive schedule reached β = 1 sooner.
    public var totalIterations: Int { state.isDone ? state.temperature : sampler.temperatures }
    /// The adaptive schedule's `anneal_steps` caps the run rather than fixing its length.
    public var totalIsBound: Bool { sampler.conditionalESS != nil }
    public var budget: EvaluationBudget {
        EvaluationBudget(gradient: config.evaluation.paths * (1 + state.temperature * sampler.moves * sampler.leapfrogSteps))
    }
    /// Every hundredth of the path-space interval: a temperature costs as much as many path-space iterations.
    public func checkpointInterval(_ every: Int) -> Int { every == 0 ? 0 : max(1, every / 100) }

    public func advance() throws -> [String: Double] {
        let start = DispatchTime.now().uptimeNanoseconds
        try sampler.advance(&state, target: target, rng: &rng)
        seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return monitorValues
    }

    /// log Ẑ of the path so far (the normaliser of π_{β_k}), the weights' ESS and the HMC acceptance.
    private var monitorValues: [String: Double] {
        ["log_z": state.logZ, "beta": state.beta, "ess": LogSpace.effectiveSampleSize(state.logWeights),
         "acceptance": Double(state.accepted) / Double(max(state.proposed, 1))]
    }

    /// The particles' log weights offset so that their log mean exp is log Ẑ (for SMC, the weights since the last
    /// resampling carry the log Ẑ accumulated before it).
    var logWeights: [Double] {
        let offset = state.logZ - (LogSpace.sumExp(state.logWeights) - log(Double(state.logWeights.count)))
        return state.logWeights.map { $0 + offset }
    }

    public func evaluate() throws -> EvaluationReport {
        var resampling = Xoshiro256(seed: config.seed, stream: Evaluator.exactStream + 1)
        let picks = AnnealedImportanceSampler.systematicResample(logWeights: state.logWeights, rng: &resampling)
        let samples = state.positions.rows(picks)
        var report = try Comparison.report(samples: samples, target: target, comparison: try comparison.get {
            try Comparison.set(for: target, config: config, catalog: customTarget == nil)
        })
        let weights = logWeights
        report.logWeights = weights
        var estimates = LogZEstimates(logWeights: weights)
        if sampler.resamplingThreshold != nil { estimates.meanLogWeight = state.weightedIncrements }
        report.onPolicy = estimates
        return report
    }

    public func monitor() throws -> [String: Double] { monitorValues }

    public var resolvedSettings: [String: String] {
        ["anneal_step_mid": "\(config.annealing.stepMiddle ?? config.annealing.stepStart)", "anneal_std": "\(sampler.initialStd)",
         "eval_steps": "unused by objective=\(config.objective) (no SDE is integrated)"]
    }

    public var trainingSummary: String {
        let acceptance = Double(state.accepted) / Double(max(state.proposed, 1))
        var warning = acceptance < 0.05 ? "; the HMC moves were almost all rejected, so the particles barely mixed: lower anneal_step "
            + "(and anneal_step_mid) or set anneal_adapt_step=true" : ""
        if sampler.conditionalESS != nil && state.isDone && state.temperature == sampler.temperatures {
            warning += "; the adaptive schedule used all anneal_steps = \(sampler.temperatures) temperatures, so its last step jumped "
                + "to β = 1 whatever the weights' ESS, and log Ẑ may be far off: raise anneal_steps"
        }
        return String(format: "annealed %d particles over %d temperatures (%d resamplings, HMC acceptance %.3f, %ld gradient evaluations) in %.1f s",
                      config.evaluation.paths, state.temperature, state.resamplings, acceptance, budget.gradient, seconds) + warning
    }

    public func checkpointNode() -> Node {
        var n = Node()
        let s = state
        n.put("positions", .float(shape: [s.positions.rows, s.positions.cols], values: s.positions.storage))
        n.put("log_ratio", .double(shape: [s.logRatio.count], values: s.logRatio))
        n.put("ratio_gradient", .float(shape: [s.ratioGradient.rows, s.ratioGradient.cols], values: s.ratioGradient.storage))
        n.put("log_weights", .double(shape: [s.logWeights.count], values: s.logWeights))
        n.set("log_z", .double(s.logZ))
        n.set("weighted_increments", .double(s.weightedIncrements))
        n.set("beta", .double(s.beta))
        if let step = s.adaptedStepSize { n.set("adapted_step_size", .double(Double(step))) }
        n.set("resamplings", .int(Int64(s.resamplings)))
        n.set("accepted", .int(Int64(s.accepted)))
        n.set("proposed", .int(Int64(s.proposed)))
        CheckpointFields.put(rng, into: &n)
        return n
    }

    public func restore(_ cp: CheckpointFields, stored: RunConfig) throws {
        let n = config.evaluation.paths, d = target.dimension
        func doubles(_ key: String) throws -> [Double] {
            guard let v = cp.node.dataset(key)?.doubles, v.count == n, !v.contains(where: \.isNaN) else {
                throw cp.damaged("\(key) is missing, has the wrong length or holds NaN")
            }
            return v
        }
        let restored = try cp.generator()
        var s = state
        s.positions = Matrix(rows: n, cols: d, storage: try cp.floats("positions", count: n * d))
        s.ratioGradient = Matrix(rows: n, cols: d, storage: try cp.floats("ratio_gradient", count: n * d))
        s.logRatio = try doubles("log_ratio")
        s.logWeights = try doubles("log_weights")
        s.logZ = try cp.number("log_z", fallback: .nan)
        s.weightedIncrements = try cp.number("weighted_increments", fallback: .nan)
        guard s.logZ.isFinite, s.weightedIncrements.isFinite else { throw cp.damaged("has no finite log_z or weighted_increments") }
        s.temperature = try cp.count("iteration", limit: sampler.temperatures)
        s.beta = try cp.number("beta", fallback: .nan)
        guard s.beta >= 0 && s.beta <= 1 else { throw cp.damaged("has no beta in [0, 1]") }
        let step = try cp.number("adapted_step_size", fallback: 0)
        s.adaptedStepSize = step > 0 ? Float(step) : nil
        s.resamplings = try cp.count("resamplings")
        s.accepted = try cp.count("accepted")
        s.proposed = try cp.count("proposed")
        state = s
        rng = restored
        seconds = try cp.number("seconds", fallback: 0)
    }
}

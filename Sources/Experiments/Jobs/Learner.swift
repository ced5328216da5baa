import Foundation
import RunStore
import Evaluation
import Densities
import Training

/// One logged point of a training curve: where the run stood and the values logged there.
public struct TrainingPoint: Sendable, Equatable {
    /// Iterations completed (epochs for iDEM, sweeps for MCMC).
    public var iteration: Int
    /// Wall-clock seconds of training so far (excluding evaluation and I/O).
    public var seconds: Double
    /// Target evaluations so far.
    public var budget: EvaluationBudget
    /// The values logged, by `/train` column name: `loss`, `log_z` (methods with a log Z estimate), `acceptance`
    /// (MCMC), or the `eval_every` metrics (`elbo`, `log_z_is`, `ess`, `w2`, …).
    public var values: [String: Double]

    /// A point with its values.
    public init(iteration: Int, seconds: Double, budget: EvaluationBudget, values: [String: Double]) {
        (self.iteration, self.seconds, self.budget, self.values) = (iteration, seconds, budget, values)
    }

    /// The loss logged at this point (NaN when none was).
    public var loss: Double { values["loss"] ?? .nan }
    /// The method's log Z estimate at this point, when it has one.
    public var logZ: Double? { values["log_z"] }
}

/// What the one job drives, whatever the method: a training state that advances one iteration at a time, logs,
/// evaluates, and writes and restores its checkpoint. Path-space training (`PathSpaceLearner`), iDEM
/// (`EnergyMatchingLearner`), the MCMC baseline (`MCMCBaseline`), SMC/AIS (`AnnealingBaseline`) and MFVI
/// (`VariationalBaseline`) conform; `Learners.make` builds the one a
/// method's family needs.
public protocol Learner: AnyObject {
    /// The run's settings.
    var config: RunConfig { get }
    /// The target given to the learner in place of the catalog's `target=` (nil: the catalog's).
    var customTarget: (any Target)? { get }
    /// What one iteration is called in printouts: "iteration", "epoch", "sweep".
    var unit: String { get }
    /// Iterations completed.
    var iteration: Int { get }
    /// Iterations of the whole run.
    var totalIterations: Int { get }
    /// Whether `totalIterations` only bounds the run, which may end sooner (an adaptive schedule), so that no
    /// time left can be told.
    var totalIsBound: Bool { get }
    /// Whether `iterations=` sets the run's length (not for MCMC and annealing runs: their budget or schedule does).
    var lengthIsIterations: Bool { get }
    /// Target evaluations so far.
    var budget: EvaluationBudget { get }
    /// Training seconds so far.
    var seconds: Double { get }
    /// The logged training curve (`/train`).
    var history: [TrainingPoint] { get set }
    /// The `eval_every` curve (`/train/eval`).
    var monitored: [TrainingPoint] { get set }
    /// Iterations between logged points.
    var logEvery: Int { get }
    /// Iterations between checkpoint writes when the command line asks for one every `every` path-space iterations.
    func checkpointInterval(_ every: Int) -> Int
    /// One iteration; returns the values it logs (`loss`, `log_z`, …).
    /// - Throws: `TrainingError` on divergence, what the target throws.
    func advance() throws -> [String: Double]
    /// The final evaluation with `eval_paths` paths or samples.
    func evaluate() throws -> EvaluationReport
    /// The cheap metrics of `eval_every`.
    func monitor() throws -> [String: Double]
    /// The method's part of `/checkpoint` (parameters, optimiser state, buffers); the job adds the counters.
    func checkpointNode() -> Node
    /// Restores the method's part of a checkpoint written by `checkpointNode` and the counters, from a file written
    /// with the settings `stored` (which may differ from `config` in the `RunConfig.resumable` ones).
    func restore(_ fields: CheckpointFields, stored: RunConfig) throws
    /// The values used for settings whose value is derived ("default" ones), for the typed `/config`.
    var resolvedSettings: [String: String] { get }
    /// One line on what training did, for the summary.
    var trainingSummary: String { get }
}

extension Learner {
    /// The point the run stands at, with `values`.
    func point(_ values: [String: Double]) -> TrainingPoint {
        TrainingPoint(iteration: iteration, seconds: seconds, budget: budget, values: values)
    }

    /// Runs the remaining iterations, logging every `logEvery` and the last, and calling `onStep` after each.
    /// - Throws: what `advance` and `onStep` throw.
    public func train(onStep: (any Learner, [String: Double]) throws -> Void = { _, _ in }) throws {
        while iteration < totalIterations {
            let values = try advance()
            if iteration % logEvery == 0 || iteration == totalIterations { history.append(point(values)) }
            try onStep(self, values)
        }
    }
}

extension Learner {
    /// `iterations` of the settings.
    public var totalIterations: Int { config.iterations }
    public var totalIsBound: Bool { false }
    public var lengthIsIterations: Bool { true }
    /// `log_every` of the settings.
    public var logEvery: Int { config.logEvery }
    /// Checkpoints every `every` iterations, as asked.
    public func checkpointInterval(_ every: Int) -> Int { every }
}

extension RunConfig {
    /// These settings with `target=` naming `custom` when a learner trains on your own target.
    func training(on custom: (any Target)?) -> RunConfig {
        var c = self
        if let custom { c.target = custom.name }
        return c
    }
}

extension Learner {
    /// The target of a baseline that starts from a Gaussian over all coordinates (SMC, AIS, MFVI): `custom` or the
    /// catalog's, checked against the size limits.
    /// - Throws: `ConfigError` for particle targets (such a Gaussian is not centre-of-mass free) and sizes over the limits.
    static func gaussianStartTarget(_ config: RunConfig, custom: (any Target)?) throws -> any Target {
        let target = try custom ?? TargetCatalog.resolve(config.target)
        guard target.particleStructure == nil else {
            throw ConfigError.badValue(key: "objective", value: config.objective, expected: "a method for particle targets "
                + "(idem or mala): objective=\(config.objective) starts from N(0, s²I), which is not centre-of-mass free")
        }
        try config.checkSizes(dimension: target.dimension)
        try requireGradient(of: target, for: "objective=\(config.objective)")
        return target
    }

    /// Refuses, at load time, a target without ∇log R (a value-only Python function) for a run that needs it.
    /// - Throws: `TrainingError.unsupportedSettings` naming the target, what needs the gradient, and the fix.
    static func requireGradient(of target: any Target, for what: String, needed: Bool = true) throws {
        guard needed, !target.providesGradient else { return }
        let function = TargetCatalog.pythonFunction(target.name)?.function ?? "FUNC"
        throw TrainingError.unsupportedSettings("target \(target.name) returns only log R, but \(what) needs ∇log R: return "
            + "(log_r, grad) from the function or define \(function)_grad(x) beside it (a value-only target trains with the TB family "
            + "without langevin or local_search)")
    }
}

extension Learner {
    /// Refuses a setting the learner does not read, which would otherwise be ignored silently.
    /// - Throws: `ConfigError.badValue` naming the first such setting and the ones that are read.
    static func refuseUnread(_ config: RunConfig, reads: Set<String>, doing what: String) throws {
        if let (key, value) = config.changedEntries(ignoring: reads).first {
            throw ConfigError.badValue(key: key, value: value, expected: "no value: objective=\(config.objective) does not use \(key) "
                + "(\(what), and reads only " + reads.sorted().joined(separator: ", ") + ")")
        }
    }

    /// Settings every learner reads (the job's), beside its own.
    static var jobSettings: Set<String> { ["target", "objective", "seed", "threads", "eval_paths", "eval_every", "log_every"] }
}

/// Builds the learner a method's family trains with.
public enum Learners {
    /// A fresh learner for `config`; `target` replaces the catalog's `target=` by your own. Without `training`, a
    /// path-space learner does not read the files it would train from (see `PathSpaceLearner.init`).
    /// - Throws: the learner's refusals of settings or target.
    public static func make(_ config: RunConfig, target: (any Target)? = nil, training: Bool = true) throws -> any Learner {
        // The adaptive teacher exists only for path-space training; elsewhere its keys would be ignored.
        if config.teacher && config.method.family != .pathSpace || !config.teacher && config.teacherAlpha != RunConfig().teacherAlpha {
            let key = config.teacher ? "teacher" : "teacher_alpha"
            throw ConfigError.badValue(key: key, value: config.teacher ? "true" : "\(config.teacherAlpha)", expected: config.teacher
                ? "false: objective=\(config.objective) has no path-space student for a Teacher to train"
                : "no value without teacher=true")
        }
        // The annealing baselines' settings would be ignored by every other family (hmc_leapfrog is local search's too).
        if config.method.family != .annealing,
           let (key, value) = config.changedEntries().first(where: { $0.0.hasPrefix("anneal_") || $0.0 == "smc_ess" }) {
            throw ConfigError.badValue(key: key, value: value, expected: "no value: only objective=smc and objective=ais read \(key)")
        }
        switch config.method.family {
        case .pathSpace: return try PathSpaceLearner(config: config, target: target, training: training)
        case .energyMatching: return try EnergyMatchingLearner(config: config, target: target)
        case .mcmc: return try MCMCBaseline(config: config, target: target)
        case .annealing: return try AnnealingBaseline(config: config, target: target)
        case .variational: return try VariationalBaseline(config: config, target: target)
        case .annealedLangevin: return try AnnealedLangevinLearner(config: config, target: target)
        }
    }
}

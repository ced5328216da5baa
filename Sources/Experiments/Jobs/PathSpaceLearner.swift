import Foundation
import Numerics
import Densities
import NeuralSDE
import Objectives
import Training
import Evaluation
import RunStore

/// Path-space training (`PathSpaceTrainer`) as the job sees it: one iteration is one training step; the evaluation
/// scores `eval_paths` paths on the uniform `eval_steps` grid. Its part of `/checkpoint` is the network and the
/// objective's scalars with their Adam states, and the replay buffers of local search.
public final class PathSpaceLearner: Learner {
    public let config: RunConfig
    /// The trainer, with the density it trains toward (for RTB the reward r).
    public let trainer: PathSpaceTrainer
    /// The density the evaluation compares with (`target=`; for RTB the posterior, when known).
    public let evaluationTarget: any Target
    /// The target given in place of the catalog's `target=` (nil: the catalog's).
    public let customTarget: (any Target)?
    /// The comparison set of every evaluation, drawn once.
    let comparison = ComparisonCache()
    public var history: [TrainingPoint] = []
    public var monitored: [TrainingPoint] = []

    /// A fresh run for `config`. BLAS is pinned to one thread: the trainer parallelises over rows itself. Pass
    /// `target` to train on your own `Target` instead of the built-in one named in `config` (`config.target` is
    /// then set to its name). RTB's prior is read from `prior=`, MLE's data from `data=`, unless `training` is
    /// false (a learner restored to be evaluated or plotted, which cannot step).
    /// - Throws: `ConfigError` for sizes over the limits, `TrainingError` for settings that cannot be combined,
    ///   `RunFileError` for an unreadable prior or data file.
    public init(config: RunConfig, target custom: (any Target)? = nil, training: Bool = true) throws {
        BLAS.setThreads(1)
        let config = config.training(on: custom)
        self.config = config
        let method = config.method
        evaluationTarget = try custom ?? TargetCatalog.resolve(config.target)
        customTarget = custom
        let target: any Target
        if method.prior {
            guard !config.reward.isEmpty, !config.prior.isEmpty else {
                throw TrainingError.unsupportedSettings("objective=rtb needs prior=RUN.h5 (a trained diffusion) and reward=TARGET (log r)")
            }
            target = try TargetCatalog.resolve(config.reward)
            guard target.dimension == evaluationTarget.dimension else {
                throw TrainingError.unsupportedSettings("reward=\(config.reward) has dimension \(target.dimension) but target="
                    + "\(config.target) has dimension \(evaluationTarget.dimension); the posterior lives where the reward does")
            }
        } else {
            target = evaluationTarget
        }
        if target.particleStructure == nil { try config.checkSizes(dimension: target.dimension) }
        let needs = [config.langevin ? "langevin=true" : nil, method.gradient == .pathwise ? "objective=\(config.objective)" : nil,
                     config.localSearch ? "local_search=true" : nil].compactMap { $0 }
        try Self.requireGradient(of: target, for: needs.joined(separator: " and "), needed: !needs.isEmpty)
        trainer = try PathSpaceTrainer(settings: config.pathSpaceSettings, target: target,
                                       prior: method.prior && training ? try Self.loadPrior(config.prior) : nil,
                                       data: method.paths == .data && training ? try Self.loadData(config.data, dimension: target.dimension) : nil,
                                       training: training)
    }

    /// A sampler on the uniform evaluation grid of `eval_steps` steps (the training grid may be coarser or random).
    public func evaluationSampler() -> PathSampler {
        PathSampler(target: evaluationTarget,
                    process: trainer.sampler.process.with(grid: .uniform(steps: config.evaluation.steps ?? config.steps)),
                    threads: config.threads)
    }

    /// The network that generates evaluation samples: the weight average with `ema` > 0, else the trained weights.
    public var evaluationNetwork: DriftNetwork { trainer.evaluationNetwork }

    public var unit: String { "iteration" }
    public var iteration: Int { trainer.iteration }
    public var budget: EvaluationBudget { trainer.budget }
    public var seconds: Double { trainer.seconds }

    public func advance() throws -> [String: Double] {
        let out = try trainer.step()
        try trainer.checkFinite(out)
        return ["loss": out.loss, "log_z": out.logZEstimate]
    }

    /// On-policy estimates, EUBO and sample metrics on the uniform evaluation grid.
    public func evaluate() throws -> EvaluationReport {
        try Evaluator(paths: config.evaluation.paths, seed: config.seed).evaluate(
            evaluationNetwork, sampler: evaluationSampler(), comparison: try comparison.get {
                try Comparison.set(for: evaluationTarget, config: config, catalog: customTarget == nil)
            })
    }

    /// ELBO, log Z_IS and ESS of `eval_paths` on-policy paths (the same paths every time: common random numbers
    /// make the curve's steps the model's, not the sample's).
    public func monitor() throws -> [String: Double] {
        let (_, logWeights) = try Evaluator(paths: config.evaluation.paths, seed: config.seed).onPolicy(evaluationNetwork, sampler: evaluationSampler())
        var report = EvaluationReport(samples: Matrix(rows: 0, cols: 0), logZTrue: evaluationTarget.logZ)
        report.onPolicy = LogZEstimates(logWeights: logWeights)
        return RunFile.numbers(report).filter { $0.key != "n_eval" }
    }

    /// σ² (of the Brownian reference) and the evaluation steps; iDEM's "default" settings are marked unused.
    public var resolvedSettings: [String: String] {
        let reference = trainer.sampler.process.reference
        var values = ["sigma2": (reference as? BrownianReference).map { "\($0.sigma2)" } ?? "unused by reference \(reference)",
                      "eval_steps": "\(config.evaluation.steps ?? config.steps)"]
        for (key, value) in config.entries where key.hasPrefix("idem_") && value == "default" {
            values[key] = "unused by objective=\(config.objective)"
        }
        return values
    }

    public var trainingSummary: String {
        String(format: "trained %d iterations in %.1f s (%ld energy and %ld gradient evaluations)",
               trainer.iteration, trainer.seconds, trainer.budget.energy, trainer.budget.gradient)
    }

    public func checkpointNode() -> Node {
        let c = trainer.state
        var n = Node()
        func put(_ prefix: String, _ store: ParameterStore, _ chain: OptimizerChain) {
            n.put(prefix, .float(shape: [store.values.count], values: store.values))
            RunFile.put(chain, prefix: prefix, into: &n)
            n.set(prefix + "_layout", .string(store.slots.map { "\($0.name):\($0.rows)x\($0.cols)" }.joined(separator: ",")))
        }
        put("network", c.network, c.networkOptimizer)
        put("objective", c.objective, c.objectiveOptimizer)
        RunFile.put(c.plateau, into: &n)
        if let t = c.teacher {
            put("teacher_network", t.network, t.networkOptimizer)
            put("teacher_objective", t.objective, t.objectiveOptimizer)
        }
        for (prefix, buffer) in [("buffer", c.buffer), ("ls_buffer", c.localSearchBuffer), ("teacher_buffer", c.teacher?.buffer)] {
            guard let b = buffer else { continue }
            n.put(prefix + "_states", .float(shape: [b.count, b.dimension], values: b.states))
            n.put(prefix + "_log_rewards", .double(shape: [b.count], values: b.logRewards))
        }
        return n
    }

    public func restore(_ cp: CheckpointFields, stored: RunConfig) throws {
        var checkpoint = trainer.state
        func load(_ prefix: String, _ store: inout ParameterStore, _ chain: inout OptimizerChain, resetRate: Float?) throws {
            store.values = try cp.floats(prefix, count: store.values.count)
            try RunFile.load(&chain, prefix: prefix, from: cp, resetRate: resetRate)
        }
        // A learning-rate step on resume replaces the network's rate, which a plateau may have cut.
        try load("network", &checkpoint.network, &checkpoint.networkOptimizer,
                 resetRate: config.learningRate != stored.learningRate ? config.learningRate : nil)
        // A baseline scalar trains at the network's rate, so the step applies to it too.
        let scalarStep = config.method.scalarRate == .network && config.learningRate != stored.learningRate
        try load("objective", &checkpoint.objective, &checkpoint.objectiveOptimizer, resetRate: scalarStep ? config.learningRate : nil)
        checkpoint.plateau = try RunFile.plateau(from: cp)
        checkpoint.iteration = try cp.count("iteration", limit: config.iterations)
        checkpoint.budget = EvaluationBudget(energy: try cp.count("energy_evals"), gradient: try cp.count("grad_evals"))
        checkpoint.seconds = try cp.number("seconds", fallback: 0)
        func restoreBuffer(_ prefix: String, _ buffer: inout ReplayBuffer?) throws {
            guard var b = buffer, let saved = try cp.buffer(prefix, width: b.dimension), let rewards = saved.logRewards else { return }
            b.add(Matrix(rows: saved.rows, cols: b.dimension, storage: saved.states), logRewards: rewards)
            buffer = b
        }
        try restoreBuffer("buffer", &checkpoint.buffer)
        try restoreBuffer("ls_buffer", &checkpoint.localSearchBuffer)
        if var t = checkpoint.teacher {
            // The Teacher trains at 5× the network's rate, so a rate step on resume applies to it too.
            let teacherRate = config.learningRate != stored.learningRate ? 5 * config.learningRate : nil
            try load("teacher_network", &t.network, &t.networkOptimizer, resetRate: teacherRate)
            try load("teacher_objective", &t.objective, &t.objectiveOptimizer, resetRate: teacherRate)
            var buffer: ReplayBuffer? = t.buffer
            try restoreBuffer("teacher_buffer", &buffer)
            t.buffer = buffer!
            checkpoint.teacher = t
        }
        try trainer.restore(checkpoint)
    }
}

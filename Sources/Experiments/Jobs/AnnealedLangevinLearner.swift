import Foundation
import Numerics
import Densities
import Evaluation
import Training
import RunStore

/// `objective=ula`, `mcd`, `cmcd-kl`, `cmcd-lv`: Langevin kernels on a learned annealing path from N(0, prior_std²·I)
/// (`AnnealedLangevin`), `steps` temperatures, `iterations` Adam steps at `lr` on `batch_size` paths each (schedule,
/// step coefficient and control network alike, `grad_clip` on each). The evaluation simulates `eval_paths` fresh paths:
/// their log weights give the ELBO, log Z_IS and ESS, their terminal states are the samples.
public final class AnnealedLangevinLearner: Learner {
    public let config: RunConfig
    public let target: any Target
    public private(set) var model: AnnealedLangevin
    private var scheduleOptimizer: OptimizerChain
    private var networkOptimizer: OptimizerChain?
    private var rng: Xoshiro256
    public private(set) var iteration = 0
    public private(set) var seconds = 0.0
    public var history: [TrainingPoint] = []
    public var monitored: [TrainingPoint] = []
    public let unit = "iteration"
    public let customTarget: (any Target)?
    private var gradientEvaluations = 0
    let comparison = ComparisonCache()
    let loss: AnnealedLangevin.Loss

    /// A sampler at its initial schedule (linear β, softplus(c) = 1, control zero) and its optimisers.
    /// - Throws: `ConfigError` for particle targets and sizes over the limits.
    public init(config: RunConfig, target custom: (any Target)? = nil) throws {
        BLAS.setThreads(1)  // as every learner
        let config = config.training(on: custom)
        self.config = config
        target = try Self.gaussianStartTarget(config, custom: custom)
        customTarget = custom
        guard let (control, loss) = config.method.langevin else { preconditionFailure("\(config.objective) is not annealed Langevin") }
        // A setting these methods do not read would be ignored silently (a reference SDE, exploration, local search,
        // schedules of the path-space trainer, another evaluation grid than the learned schedule): refuse it.
        try Self.refuseUnread(config, reads: Self.settingsRead, doing: "it anneals from N(0, prior_std²I) over `steps` learned temperatures")
        self.loss = loss
        var initial = Xoshiro256(seed: config.seed, stream: 1 << 43)
        model = AnnealedLangevin(control: control, dimension: target.dimension, steps: config.steps,
                                 priorStd: config.reference.priorStd, maxDiffusion: config.reference.maxDiffusion ?? 1,
                                 hidden: config.hidden, rng: &initial)
        scheduleOptimizer = OptimizerChain(store: model.parameters, learningRate: config.learningRate, clipNorm: config.gradClip)
        networkOptimizer = model.network.map { OptimizerChain(store: $0.parameters, learningRate: config.learningRate, clipNorm: config.gradClip) }
        rng = Xoshiro256(seed: config.seed, stream: 1 << 56)
    }

    public var budget: EvaluationBudget { EvaluationBudget(gradient: gradientEvaluations) }

    /// The settings these methods read; any other one given is refused.
    static let settingsRead = jobSettings.union(["iterations", "batch_size", "steps", "lr", "grad_clip", "hidden", "prior_std", "max_diffusion"])

    public func advance() throws -> [String: Double] {
        let start = DispatchTime.now().uptimeNanoseconds
        let (value, logWeights) = try model.lossAndGradient(target, loss: loss, count: config.batchSize, rng: &rng,
                                                            context: "iteration \(iteration + 1)")
        // A gradient beyond 10¹⁵ would overflow Adam's float32 second moment into a checkpoint that cannot be resumed.
        guard value.isFinite, PathSpaceTrainer.bounded(model.parameters.gradients),
              PathSpaceTrainer.bounded(model.network?.parameters.gradients ?? []) else {
            throw TrainingError.diverged(iteration: iteration + 1, target: target.name, what: value.isFinite ? "gradient" : "loss")
        }
        scheduleOptimizer.step(&model.parameters)
        if var net = model.network, networkOptimizer != nil {
            networkOptimizer!.step(&net.parameters)
            model.network = net
        }
        // One gradient per state after x₀; the KL's Hessian-vector products cost two more per state.
        gradientEvaluations += config.batchSize * config.steps * (loss == .kl ? 3 : 1)
        iteration += 1
        seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return ["loss": value, "elbo": logWeights.reduce(0, +) / Double(logWeights.count)]
    }

    public func evaluate() throws -> EvaluationReport {
        var draws = Xoshiro256(seed: config.seed, stream: Evaluator.exactStream + 3)
        let (x, w) = try model.sample(target, count: config.evaluation.paths, rng: &draws)
        var report = try Comparison.report(samples: x, target: target, comparison: try comparison.get {
            try Comparison.set(for: target, config: config, catalog: customTarget == nil)
        })
        report.logWeights = w
        report.onPolicy = LogZEstimates(logWeights: w)
        return report
    }

    public func monitor() throws -> [String: Double] { RunFile.numbers(try evaluate()) }

    public var resolvedSettings: [String: String] {
        ["max_diffusion": "\(config.reference.maxDiffusion ?? 1)", "eval_steps": "unused by objective=\(config.objective) (evaluation runs the training's steps)"]
    }

    public var trainingSummary: String {
        let (beta, delta) = model.currentSchedule()
        return String(format: "trained %d iterations in %.1f s (%ld gradient evaluations); β at a quarter, half, three quarters of the "
                      + "steps %.3f %.3f %.3f, step sizes first/last %.2e %.2e", iteration, seconds, budget.gradient,
                      beta[beta.count / 4], beta[beta.count / 2], beta[3 * beta.count / 4], delta[0], delta[delta.count - 1])
    }

    public func checkpointNode() -> Node {
        var n = Node()
        n.put("parameters", .float(shape: [model.parameters.values.count], values: model.parameters.values))
        RunFile.put(scheduleOptimizer, prefix: "schedule", into: &n)
        if let net = model.network, let networkOptimizer {
            n.put("network_parameters", .float(shape: [net.parameters.values.count], values: net.parameters.values))
            RunFile.put(networkOptimizer, prefix: "network", into: &n)
        }
        n.set("gradient_evaluations", .int(Int64(gradientEvaluations)))
        CheckpointFields.put(rng, into: &n)
        return n
    }

    public func restore(_ cp: CheckpointFields, stored: RunConfig) throws {
        let restored = try cp.generator()
        let resetRate = config.learningRate == stored.learningRate ? nil : config.learningRate
        let values = try cp.floats("parameters", count: model.parameters.values.count)
        model.parameters.values = values
        try RunFile.load(&scheduleOptimizer, prefix: "schedule", from: cp, resetRate: resetRate)
        if var net = model.network, networkOptimizer != nil {
            let weights = try cp.floats("network_parameters", count: net.parameters.values.count)
            net.parameters.values = weights
            model.network = net
            try RunFile.load(&networkOptimizer!, prefix: "network", from: cp, resetRate: resetRate)
        }
        rng = restored
        iteration = try cp.count("iteration", limit: config.iterations)
        gradientEvaluations = try cp.count("gradient_evaluations")
        seconds = try cp.number("seconds", fallback: 0)
    }
}

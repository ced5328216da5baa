import Foundation
import Numerics
import Densities
import Evaluation
import Training
import RunStore

/// `objective=mfvi`: a diagonal Gaussian fitted by the reparameterised ELBO (`MeanFieldVI`), `iterations` Adam steps
/// at `lr` on `batch_size` draws each, starting from N(0, mfvi_std²·I). The evaluation scores `eval_paths` draws of
/// q: log w = log R(x) − log q(x) gives the ELBO, log Z_IS and ESS, and the draws are the samples.
public final class VariationalBaseline: Learner {
    public let config: RunConfig
    public let target: any Target
    public private(set) var model: MeanFieldVI
    private var optimizer: OptimizerChain
    private var rng: Xoshiro256
    public private(set) var iteration = 0
    public private(set) var seconds = 0.0
    public var history: [TrainingPoint] = []
    public var monitored: [TrainingPoint] = []
    public let unit = "iteration"
    public let customTarget: (any Target)?
    private var gradientEvaluations = 0
    let comparison = ComparisonCache()

    /// q = N(0, mfvi_std²·I) and its optimiser.
    /// - Throws: `ConfigError` for particle targets and sizes over the limits.
    public init(config: RunConfig, target custom: (any Target)? = nil) throws {
        BLAS.setThreads(1)  // as every learner: BLAS's own threads only spun against the target's small GEMMs
        let config = config.training(on: custom)
        try Self.refuseUnread(config, reads: Self.jobSettings.union(["iterations", "batch_size", "lr", "grad_clip", "mfvi_std"]),
                              doing: "it fits a diagonal Gaussian from N(0, mfvi_std²I)")
        self.config = config
        target = try Self.gaussianStartTarget(config, custom: custom)
        customTarget = custom
        model = MeanFieldVI(dimension: target.dimension, initialStd: config.mfviStd)
        optimizer = OptimizerChain(store: model.parameters, learningRate: config.learningRate, clipNorm: config.gradClip)
        rng = Xoshiro256(seed: config.seed, stream: 1 << 55)
    }

    public var budget: EvaluationBudget { EvaluationBudget(gradient: gradientEvaluations) }

    public func advance() throws -> [String: Double] {
        let start = DispatchTime.now().uptimeNanoseconds
        let loss = try model.lossAndGradient(target: target, batch: config.batchSize, rng: &rng)
        optimizer.step(&model.parameters)
        gradientEvaluations += config.batchSize
        iteration += 1
        seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return ["loss": loss]
    }

    public func evaluate() throws -> EvaluationReport {
        var draws = Xoshiro256(seed: config.seed, stream: Evaluator.exactStream + 2)
        let (x, noise) = model.sample(count: config.evaluation.paths, rng: &draws)
        let logR = try target.logDensity(x)
        var report = try Comparison.report(samples: x, target: target, comparison: try comparison.get {
            try Comparison.set(for: target, config: config, catalog: customTarget == nil)
        }, logDensity: logR)
        let w = model.logWeights(noise: noise, logDensity: logR)
        if let r = w.firstIndex(where: { !$0.isFinite }) {
            throw NonFiniteDensityError(target: target.name, context: "evaluating mean-field VI", row: r)
        }
        report.logWeights = w
        report.onPolicy = LogZEstimates(logWeights: w)
        return report
    }

    public func monitor() throws -> [String: Double] { RunFile.numbers(try evaluate()) }

    public var resolvedSettings: [String: String] {
        ["eval_steps": "unused by objective=\(config.objective) (no SDE is integrated)"]
    }

    public var trainingSummary: String {
        String(format: "fitted a diagonal Gaussian in %d iterations (%ld gradient evaluations) in %.1f s", iteration, budget.gradient, seconds)
    }

    public func checkpointNode() -> Node {
        var n = Node()
        n.put("parameters", .float(shape: [model.parameters.values.count], values: model.parameters.values))
        RunFile.put(optimizer, prefix: "network", into: &n)
        n.set("gradient_evaluations", .int(Int64(gradientEvaluations)))
        CheckpointFields.put(rng, into: &n)
        return n
    }

    public func restore(_ cp: CheckpointFields, stored: RunConfig) throws {
        let restored = try cp.generator()
        let values = try cp.floats("parameters", count: model.parameters.values.count)
        model.parameters.values = values
        try RunFile.load(&optimizer, prefix: "network", from: cp,
                         resetRate: config.learningRate == stored.learningRate ? nil : config.learningRate)
        rng = restored
        iteration = try cp.count("iteration", limit: config.iterations)
        gradientEvaluations = try cp.count("gradient_evaluations")
        seconds = try cp.number("seconds", fallback: 0)
    }
}

import Foundation
import Numerics
import Densities
import NeuralSDE
import Objectives
import Training
import Evaluation
import RunStore

/// iDEM (`objective=idem`) as the job sees it: one iteration is one outer epoch of `EnergyMatchingTrainer`
/// (generate into the buffer, then `idem_inner` regression steps); the evaluation scores `eval_paths` samples of the
/// reverse SDE (from the weight average with `idem_ema`).
public final class EnergyMatchingLearner: Learner {
    public let config: RunConfig
    /// The target in its own coordinates.
    public let target: any Target
    /// The trainer, in the coordinates it samples in (`scaling`).
    public let trainer: EnergyMatchingTrainer
    /// The sampler's view of the target when the spec's `idem: scale` is not 1 (gmm40 trains at scale 50).
    public let scaling: ScaledTarget?
    /// The target given in place of the catalog's `target=` (nil: the catalog's).
    public let customTarget: (any Target)?
    /// The comparison set of every evaluation, drawn once.
    let comparison = ComparisonCache()
    public var history: [TrainingPoint] = []
    public var monitored: [TrainingPoint] = []
    public let unit = "epoch"
    public var logEvery: Int { 1 }

    /// A fresh learner: an EGNN for particle systems, a time-conditioned MLP otherwise. Pass `target` to train on
    /// your own `Target` (the spec defaults of `idem:` then do not apply). Sets one BLAS thread: the matrices are
    /// small, and idle OpenBLAS threads cost more than they save.
    /// - Throws: `ConfigError` for sizes over the limits, `EnergyMatchingError` for inconsistent settings.
    public init(config: RunConfig, target custom: (any Target)? = nil) throws {
        BLAS.setThreads(1)
        let config = config.training(on: custom)
        self.config = config
        let setup = try Self.setup(config, target: custom)
        (target, scaling, customTarget) = (setup.original, setup.scaling, custom)
        var rng = Xoshiro256(seed: config.seed, stream: 1 << 43)
        let sampled = setup.scaling ?? setup.original
        let network: any ScoreNetwork
        if let p = sampled.particleStructure {
            network = EGNN(particles: p.count, spatialDimension: p.spatialDimension, hidden: config.hidden,
                           layers: config.idem.layers, coordinateRange: config.idem.coordinateRange, rng: &rng)
        } else {
            network = TimeConditionedMLP(dimension: sampled.dimension, hidden: config.hidden, depth: config.idem.layers, rng: &rng)
        }
        trainer = EnergyMatchingTrainer(target: sampled, network: network, settings: setup.settings, seed: config.seed)
    }

    /// The target in its own coordinates, its scaled view (nil at scale 1) and the iDEM settings: the given
    /// settings, then the target spec's `idem:` defaults, then iDEM's code.
    /// - Throws: `ConfigError` for sizes over the limits, `EnergyMatchingError` for inconsistent settings.
    public static func setup(_ config: RunConfig, target custom: (any Target)? = nil) throws
        -> (original: any Target, scaling: ScaledTarget?, settings: EnergyMatchingSettings) {
        let original = try custom ?? TargetCatalog.resolve(config.target)
        try requireGradient(of: original, for: "objective=\(config.objective)")
        let defaults = custom == nil ? try TargetCatalog.spec(config.target)?.idemDefaults ?? [:] : [:]
        func value(_ given: Float?, _ key: String, _ fallback: Float) -> Float { given ?? defaults[key].map(Float.init) ?? fallback }
        let o = config.idem
        let samples = o.samples ?? defaults["samples"].map { Int($0) } ?? 500
        try config.checkSizes(dimension: original.dimension, idemSamples: samples)
        let sigmaMin = value(o.sigmaMin, "sigma_min", 1e-5), sigmaMax = value(o.sigmaMax, "sigma_max", 1)
        guard sigmaMin < sigmaMax else {
            throw EnergyMatchingError("idem_sigma_min (\(sigmaMin)) must be below idem_sigma_max (\(sigmaMax))")
        }
        let clip = value(o.scoreClip, "score_clip", 0)
        var settings = EnergyMatchingSettings(
            schedule: GeometricNoiseSchedule(sigmaMin: sigmaMin, sigmaMax: sigmaMax),
            estimator: MonteCarloScore(samples: samples, maxNorm: clip > 0 ? clip : nil, conditional: o.conditionalTargets))
        settings.diffusionScale = value(o.diffusionScale, "diffusion_scale", 1)
        settings.integrationSteps = o.integrationSteps
        settings.samplesPerEpoch = o.samplesPerEpoch
        settings.threads = config.threads
        settings.innerSteps = o.innerSteps
        (settings.refinementSweeps, settings.refinementStepSize) = (o.refinementSweeps, config.lsStep)
        settings.refinementKernel = config.mcmcKernel
        settings.batchSize = config.batchSize
        settings.bufferCapacity = o.bufferCapacity
        settings.optimizer = config.optimizerSettings
        // grad_clip=0 (the default) takes the target's iDEM value: iDEM's trainer clips at 0.5, and without it
        // DW4 training diverged for some initialisations.
        if config.gradClip == 0 { settings.optimizer.gradientClip = Float(defaults["grad_clip"] ?? 0) }
        settings.varianceWeighting = (defaults["variance_weighting"] ?? 0) != 0
        let scale = Float(defaults["scale"] ?? 1)
        return (original, scale == 1 ? nil : ScaledTarget(original, scale: scale), settings)
    }

    /// Rows in the sampler's coordinates seen in the target's own.
    public func toTarget(_ m: Matrix) -> Matrix { scaling?.toBase(m) ?? m }
    /// Rows in the target's own coordinates seen in the sampler's.
    public func fromTarget(_ m: Matrix) -> Matrix { scaling?.fromBase(m) ?? m }

    public var iteration: Int { trainer.epoch }
    public var seconds: Double { trainer.seconds }
    public var budget: EvaluationBudget { EvaluationBudget(energy: trainer.energyEvaluations, gradient: trainer.gradientEvaluations) }
    public func checkpointInterval(_ every: Int) -> Int { max(1, every / 100) }

    public func advance() throws -> [String: Double] {
        // The rate this epoch runs at: the current rate (cut on plateaus) times the schedule's factor for it.
        let rate = trainer.learningRate * trainer.settings.optimizer.factor(iteration: trainer.epoch)
        let loss = try trainer.trainEpoch()
        guard loss.isFinite else { throw TrainingError.nonFiniteLoss(iteration: trainer.epoch, target: config.target) }
        var values = ["loss": loss, "lr": Double(rate)]
        if let acceptance = trainer.refinementAcceptance { values["buffer_acceptance"] = acceptance }
        return values
    }

    /// `eval_paths` samples with `eval_steps` reverse-SDE steps (default `idem_steps`), from the weight average when
    /// `idem_ema` > 0, in the target's coordinates.
    public func evaluationSamples() -> Matrix {
        toTarget(trainer.generate(count: config.evaluation.paths, stream: 1 << 40, steps: config.evaluation.steps, averaged: true))
    }

    public func evaluate() throws -> EvaluationReport {
        try Comparison.report(samples: evaluationSamples(), target: target, comparison: try comparison.get {
            try Comparison.set(for: target, config: config, catalog: customTarget == nil)
        })
    }

    /// The sample metrics of a full evaluation (iDEM has no cheaper estimate: generation is the cost).
    public func monitor() throws -> [String: Double] { RunFile.numbers(try evaluate()) }

    public var resolvedSettings: [String: String] {
        var values = Self.resolved(trainer.settings)
        values["eval_steps"] = "\(config.evaluation.steps ?? trainer.settings.integrationSteps)"
        return values
    }

    /// The values an iDEM or MCMC run uses for its "default" settings (from the target spec's `idem:` line or iDEM's code).
    static func resolved(_ s: EnergyMatchingSettings) -> [String: String] {
        ["idem_sigma_min": "\(s.schedule.sigmaMin)", "idem_sigma_max": "\(s.schedule.sigmaMax)",
         "idem_samples": "\(s.estimator.samples)", "idem_score_clip": "\(s.estimator.maxNorm ?? 0)",
         "idem_diffusion_scale": "\(s.diffusionScale)", "grad_clip": "\(s.optimizer.gradientClip)",
         "sigma2": "unused by iDEM and MALA (the noise schedule is idem_sigma_min, idem_sigma_max)"]
    }

    public var trainingSummary: String {
        String(format: "trained %d epochs in %.1f s (%ld gradient and %ld energy evaluations; %d generated samples "
               + "discarded as non-finite)", trainer.epoch, trainer.seconds, trainer.gradientEvaluations,
               trainer.energyEvaluations, trainer.discardedSamples)
    }
}

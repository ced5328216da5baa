import Foundation
import Numerics
import Densities
import NeuralSDE
import Objectives
import Evaluation
import RunStore

/// What an iDEM run is scored by: samples from the reverse SDE against exact or reference samples.
public struct EnergyMatchingReport: Sendable {
    /// Generated samples in the target's own coordinates.
    public var samples: Matrix
    /// The set they were compared with, e.g. "2000 exact samples" or "test split of …/dw4.h5 (2000 rows)".
    public var reference: String
    /// Exact W₂ (Euclidean, not squared) between samples and the reference set.
    public var w2: Double
    /// W₂ between two independent exact sample sets of the same size: the finite-sample floor of `w2` (targets with
    /// an exact sampler only).
    public var w2Floor: Double?
    /// Energy and interatomic-distance metrics (particle systems only).
    public var particles: ParticleMetrics?
    /// Mode coverage (mixtures only).
    public var coverage: ModeCoverage?
}

/// One `objective=idem` run from settings to a run file: train epoch by epoch (checkpointing the file every
/// `checkpointEvery` epochs), generate and score samples, write. Same file layout as other runs, with epochs as
/// the iterations of `/train`.
public struct EnergyMatchingJob {
    /// The run's settings.
    public var config: RunConfig
    /// Where the run file is written.
    public var outputPath: String
    /// Epochs between intermediate writes of the run file (0 = only at the end).
    public var checkpointEvery = 10
    /// The `/train` curve: one entry per epoch.
    typealias History = [(epoch: Int, loss: Double, seconds: Double, evaluations: Int)]

    /// A job writing `outputPath`.
    public init(config: RunConfig, outputPath: String) {
        self.config = config
        self.outputPath = outputPath
    }

    /// The target in the sampler's coordinates, the target itself, and the resolved iDEM settings.
    public func resolve() throws -> (sampled: any Target, original: any Target, settings: EnergyMatchingSettings, scale: Float) {
        let original = try TargetCatalog.resolve(config.target)
        let defaults = try TargetCatalog.spec(config.target)?.idemDefaults ?? [:]
        func value(_ given: Float?, _ key: String, _ fallback: Float) -> Float { given ?? defaults[key].map(Float.init) ?? fallback }
        let o = config.idem
        let samples = o.samples ?? defaults["samples"].map { Int($0) } ?? 500
        try config.checkSizes(dimension: original.dimension, idemSamples: samples)
        let sigmaMin = value(o.sigmaMin, "sigma_min", 1e-5), sigmaMax = value(o.sigmaMax, "sigma_max", 1)
        guard sigmaMin < sigmaMax else {
            throw EnergyMatchingError("idem_sigma_min (\(sigmaMin)) must be below idem_sigma_max (\(sigmaMax))")
        }
        guard config.learningRateSchedule == .constant else {
            throw EnergyMatchingError("lr_schedule=\(config.learningRateSchedule.rawValue) applies to the path-space "
                + "objectives; iDEM cuts its rate on plateaus instead (idem_lr_patience, idem_lr_factor)")
        }
        let clip = value(o.scoreClip, "score_clip", 0)
        var settings = EnergyMatchingSettings(
            schedule: GeometricNoiseSchedule(sigmaMin: sigmaMin, sigmaMax: sigmaMax),
            estimator: MonteCarloScore(samples: samples, maxNorm: clip > 0 ? clip : nil,
                                      conditional: o.conditionalTargets))
        settings.diffusionScale = value(o.diffusionScale, "diffusion_scale", 1)
        settings.integrationSteps = o.steps
        settings.samplesPerEpoch = o.generate
        settings.threads = config.threads
        settings.innerSteps = o.inner
        (settings.refinementSweeps, settings.refinementStepSize) = (o.bufferMALA, config.lsStep)
        settings.refinementKernel = KernelChoice(name: config.lsKernel, leapfrogSteps: config.hmcLeapfrog)
        settings.batchSize = config.batchSize
        settings.bufferCapacity = o.buffer
        settings.learningRate = config.learningRate
        (settings.plateauPatience, settings.plateauFactor) = (o.lrPatience, o.lrFactor)
        settings.averageDecay = o.averageDecay
        // grad_clip=0 (the default) takes the target's iDEM value: iDEM's trainer clips at 0.5, and without it
        // DW4 training diverged for some initialisations.
        settings.gradientClip = config.gradClip > 0 ? config.gradClip : Float(defaults["grad_clip"] ?? 0)
        settings.varianceWeighting = (defaults["variance_weighting"] ?? 0) != 0
        let scale = Float(defaults["scale"] ?? 1)
        return (scale == 1 ? original : ScaledTarget(original, scale: scale), original, settings, scale)
    }

    /// A fresh trainer: an EGNN for particle systems, a time-conditioned MLP otherwise. Sets one BLAS thread:
    /// the matrices are small, and idle OpenBLAS threads cost more than they save.
    public func makeTrainer() throws -> EnergyMatchingTrainer {
        BLAS.setThreads(1)
        let (sampled, _, settings, _) = try resolve()
        var rng = Xoshiro256(seed: config.seed, stream: 1 << 43)
        let network: any ScoreNetwork
        if let p = sampled.particleStructure {
            network = EGNN(particles: p.count, spatialDimension: p.spatialDimension, hidden: config.hidden,
                           layers: config.idem.layers, coordinateRange: config.idem.coordinateRange, rng: &rng)
        } else {
            network = TimeConditionedMLP(dimension: sampled.dimension, hidden: config.hidden, depth: config.idem.layers, rng: &rng)
        }
        return EnergyMatchingTrainer(target: sampled, network: network, settings: settings, seed: config.seed)
    }

    /// Trains (from the file's checkpoint with `resume`), evaluates and writes the run file.
    public func run(_ mode: RunOutput.Mode = .new, onEpoch: (EnergyMatchingTrainer, Double) -> Void = { _, _ in }) throws
        -> (trainer: EnergyMatchingTrainer, report: EnergyMatchingReport) {
        let output = try RunOutput(path: outputPath, mode: mode)
        defer { output.release() }
        var provenance = Provenance(seed: config.seed, threads: config.threads)
        let trainer = try makeTrainer()
        var history: History = []
        if mode == .resume, output.existed {
            let root = try HDF5.read(outputPath)
            let stored = try RunFile.config(of: root, path: outputPath)
            guard config.continues(stored) else { throw RunFileError(message: RunFileError.otherSettings(outputPath)) }
            try Self.restore(trainer, history: &history, from: root, path: outputPath)
            // A learning-rate step replaces the rate the checkpoint carries, which a plateau may have cut.
            if config.learningRate != stored.learningRate { trainer.learningRate = config.learningRate }
            provenance = Provenance(seed: config.seed, threads: config.threads, resuming: root, at: trainer.epoch)
        }
        func node(_ status: String, error: String? = nil, report: EnergyMatchingReport? = nil) -> Node {
            Self.node(trainer, config: config, provenance: provenance, history: history, status: status, error: error, report: report)
        }
        do {
            while trainer.epoch < config.iterations {
                let loss = try trainer.trainEpoch()
                guard loss.isFinite else { throw TrainingError.nonFiniteLoss(iteration: trainer.epoch, target: config.target) }
                history.append((trainer.epoch, loss, trainer.seconds, trainer.gradientEvaluations))
                onEpoch(trainer, loss)
                try Interruption.check(iteration: trainer.epoch)
                if checkpointEvery > 0, trainer.epoch % checkpointEvery == 0, trainer.epoch < config.iterations {
                    try output.write(node("running"))
                }
            }
            let report = try evaluate(trainer)
            provenance.endTime = Date()
            try output.write(node("complete", report: report))
            return (trainer, report)
        } catch let stop as Interrupted {
            provenance.endTime = Date()
            try output.writeInterrupted(node("interrupted", error: "\(stop)"))
            throw stop
        } catch {
            provenance.endTime = Date()
            throw output.writeFailure(node("failed", error: "\(error)"), error: error)
        }
    }

    /// Generates `eval_paths` samples with `eval_steps` reverse-SDE steps (default `idem_steps`) and the weight
    /// average when `idem_ema` > 0, and scores them.
    public func evaluate(_ trainer: EnergyMatchingTrainer) throws -> EnergyMatchingReport {
        var samples = trainer.generate(count: config.evalPaths, stream: 1 << 40, steps: config.evalSteps, averaged: true)
        let scale = try resolve().scale
        for k in samples.storage.indices { samples.storage[k] *= scale }
        return try score(samples: samples)
    }

    /// `rows` configurations to compare a model with, in the target's own coordinates: exact samples (drawn from
    /// `rng`) or the first rows of the reference set's test split, centred for particle targets; and what they are.
    public func comparisonSet(rows: Int, rng: inout Xoshiro256) throws -> (rows: Matrix, description: String) {
        let original = try resolve().original
        var reference: Matrix, description: String
        if let exact = original.exactSamples(count: rows, rng: &rng) {
            (reference, description) = (exact, "\(rows) exact samples")
        } else if let (path, test) = try TargetCatalog.referenceTest(config.target, rows: rows) {
            (reference, description) = (test, "test split of \(path) (first \(test.rows) rows)")
        } else {
            throw EnergyMatchingError("target \(config.target) has neither an exact sampler nor a reference set to evaluate against")
        }
        if let p = original.particleStructure {  // compare in the centre-of-mass-free frame the sampler lives in
            removeCentreOfMass(&reference.storage, particles: p)
            description += ", centred"
        }
        return (reference, description)
    }

    /// Compares `samples` (in the target's own coordinates) with exact samples or the reference set's test split;
    /// with an exact sampler, a second exact set gives the W₂ floor.
    public func score(samples: Matrix) throws -> EnergyMatchingReport {
        let original = try resolve().original
        var rng = Xoshiro256(seed: config.seed, stream: 1 << 42)
        let (reference, description) = try comparisonSet(rows: config.evalPaths, rng: &rng)
        let floor = original.exactSamples(count: config.evalPaths, rng: &rng).map {
            Wasserstein.evaluationW2($0.storage, reference.storage, dimension: original.dimension)
        }
        let w2 = Wasserstein.evaluationW2(samples.storage, reference.storage, dimension: original.dimension)
        var report = EnergyMatchingReport(samples: samples, reference: description, w2: w2, w2Floor: floor, particles: nil,
                                          coverage: nil)
        if let p = original.particleStructure {
            report.particles = try ParticleMetrics(target: original, particles: p, model: samples, reference: reference)
        }
        if let centres = original.modeCentres {
            report.coverage = ModeCoverage(samples: samples.storage, dimension: original.dimension, centres: centres,
                                           weights: original.modeWeights)
        }
        return report
    }
}

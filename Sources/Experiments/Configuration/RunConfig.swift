import Foundation
import RunStore
import Numerics
import Densities
import Training

/// Every setting of one training run, with defaults from Sendera et al. (2024).
///
/// Settings are given as `key=value` pairs (Hydra style); `RunConfig.keys` is the single table of names,
/// meanings and parsers, so unknown keys and bad values are rejected with the valid choices.
public struct RunConfig: Sendable, Equatable {
    /// Target density (`target=`): a catalog name, `manywell-D`, `plugin:PATH.so` or a spec file.
    public var target = "gmm25"
    /// Training method (`objective=`), one of `Method.names`.
    public var objective = "tb"
    /// Training iterations (epochs for `objective=idem`).
    public var iterations = 25_000
    /// Paths per training iteration (regression points per step for iDEM).
    public var batchSize = 300
    /// Time steps T of the training grid.
    public var steps = 100
    /// Training grid: `uniform`, or a fresh `random` / `shifted` grid of `steps` steps every iteration.
    public var grid = TrainingGrid.uniform
    /// SDE noise variance; nil means the target's default.
    public var sigma2: Float?
    /// Exploration standard deviation ε added to the sampling noise (0 = on-policy).
    public var exploration: Float = 0
    /// Whether ε decays linearly to 0 over training.
    public var explorationAnneal = true
    /// Adam learning rate of the drift (or score) network.
    public var learningRate: Float = 1e-3
    /// Adam learning rate of the learned log Z (TB).
    public var logZLearningRate: Float = 1e-1
    /// Learning rate of the log-flow head (DB, SubTB, FL-SubTB).
    public var flowLearningRate: Float = 1e-2
    /// How the learning rates change over the iterations (epochs for iDEM).
    public var learningRateSchedule = LearningRateSchedule.constant
    /// `lr_schedule=plateau`: epochs without a lower epoch loss before the rates are multiplied by `lrFactor`.
    public var lrPatience = 10
    /// `lr_schedule=plateau`: what the rates are multiplied by after `lrPatience` epochs.
    public var lrFactor: Float = 0.1
    /// Decay of the moving average of the network's weights that generates the evaluation samples (0 = none).
    public var averageDecay: Float = 0
    /// Sub-trajectory weight base λ of SubTB and FL-SubTB (weights ∝ λ^length).
    public var subtbLambda: Float = 2
    /// Hidden width of the drift or score network.
    public var hidden = 64
    /// Langevin parametrisation of the drift, μ = NN₁ + NN₂(t)·∇log R.
    public var langevin = false
    /// Whether the policy also outputs a per-coordinate, per-step variance factor.
    public var learnedVariance = false
    /// Gradient-norm clip of the network (0 = off).
    public var gradClip: Float = 0
    /// Off-policy training from a replay buffer with MALA local search (alternating on-policy and buffer steps).
    public var localSearch = false
    /// Adaptive-teacher exploration: a Teacher network trained toward the student's high-loss regions supplies the
    /// student's paths every other iteration (`teacher`), with weight `teacherAlpha` of log R in its reward.
    public var teacher = false, teacherAlpha: Float = 0.5
    /// Iterations between local-search cycles.
    public var lsEvery = 100
    /// MALA sweeps per local-search cycle.
    public var lsSweeps = 200
    /// MALA sweeps of step-size adaptation per cycle (their states are not kept).
    public var lsBurnIn = 100
    /// Initial step size of the MCMC chains (local search, iDEM's buffer refinement and `objective=mala`).
    public var lsStep: Float = 0.01
    /// The MCMC kernel of local search, iDEM's buffer refinement and `objective=mala`: `mala` or `hmc`.
    public var lsKernel = "mala"
    /// Leapfrog steps per HMC proposal (`ls_kernel=hmc`).
    public var hmcLeapfrog = 5
    /// Replay-buffer capacity; the highest-reward states are kept.
    public var bufferSize = 600_000
    /// Rank-priority weight k of the replay buffer: P(rank r) ∝ 1/(k·N + r).
    public var rankWeight: Float = 0.01
    /// Random seed; the same seed and thread count give the same numbers.
    public var seed: UInt64 = 0
    /// Worker threads (and BLAS threads).
    public var threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// How runs are evaluated (`eval_paths`, `eval_steps`, `eval_every`).
    public var evaluation = EvaluationSettings()
    /// Iterations between logged training points.
    public var logEvery = 100
    /// Data of `objective=mle`: `exact` (the target's exact sampler) or `FILE.h5[:DATASET]` (default dataset `samples`).
    public var data = "exact"
    /// `objective=rtb`: the run file of the prior diffusion.
    public var prior = ""
    /// `objective=rtb`: the target whose log-density is log r.
    public var reward = ""
    /// `objective=rtb`: the reward exponent β (posterior ∝ prior·r^β).
    public var beta: Float = 1
    /// Gradient evaluations of `objective=mala` (the matched-budget MCMC baseline), spread over `eval_paths` chains.
    public var malaBudget = 10_000_000
    /// Settings of `objective=idem`; nil fields take the target spec's `idem:` defaults.
    public var idem = EnergyMatchingOverrides()
    /// Settings of `objective=smc` and `objective=ais`.
    public var annealing = AnnealingSettings()
    /// `objective=mfvi`: the initial Gaussian's standard deviation (`mfvi_std`), the benchmark's per-task "init".
    public var mfviStd: Float = 1
    /// The path-space methods' reference process (`reference`, `prior_std`, `max_diffusion`, `noise_scale`).
    public var reference = ReferenceSettings()

    /// iDEM settings as given on the command line (nil = the target's default, then the iDEM code's).
    public struct EnergyMatchingOverrides: Sendable, Equatable {
        /// Noise schedule ends σ_min, σ_max, score-norm clip and reverse-SDE noise factor.
        public var sigmaMin: Float?, sigmaMax: Float?, scoreClip: Float?, diffusionScale: Float?
        /// Monte-Carlo samples K per score estimate.
        public var samples: Int?
        /// Reverse-SDE steps (`idem_steps`), samples generated per epoch (`idem_generate`), regression steps per epoch
        /// (`idem_inner`), FIFO capacity (`idem_buffer`): `EnergyMatchingSettings`' fields of the same names.
        public var integrationSteps = 1000, samplesPerEpoch = 1000, innerSteps = 100, bufferCapacity = 10_000
        /// MCMC sweeps on the target from each generated sample before it enters the buffer (`idem_buffer_mala`; 0 = none).
        public var refinementSweeps = 0
        /// Message-passing layers of the EGNN or hidden layers of the MLP (`idem_layers`).
        public var layers = 3
        /// The EGNN's bound r on the summed moves of one pair over all layers (particle targets).
        public var coordinateRange: Float = 15
        /// Whether the regression targets also weigh the clean buffer configuration (`MonteCarloScore.conditional`).
        public var conditionalTargets = false
    }

    /// How a run is evaluated, at the end and while it trains.
    public struct EvaluationSettings: Sendable, Equatable {
        /// Paths, samples or chains scored, and exact samples compared with, K (`eval_paths`).
        public var paths = 2000
        /// Steps of the uniform evaluation grid, or of iDEM's evaluation reverse SDE (`eval_steps`); nil: the
        /// training's (`steps`, `idem_steps`).
        public var steps: Int?
        /// Iterations between evaluations during training, into `/train/eval` and the live log (`eval_every`; 0 = none).
        public var every = 0
    }

    /// The defaults.
    public init() {}

    /// The settings a resumed run (`--resume`) may change besides `iterations`: `lr` (a learning-rate step by
    /// hand), for iDEM how the buffer is refilled (`idem_steps`, `idem_generate`, `idem_buffer_mala`) and the
    /// regression target (`idem_score_clip`, `idem_target`), the `threads` of the machine the leg runs on, and how
    /// often it is evaluated while it trains (`eval_every`). None
    /// of them changes what the network or its checkpoint is; every leg's values are kept in /provenance/earlier_legs.
    /// Marked in the key table (`Key.resumable`), in its order.
    public static let resumable = keys.filter(\.resumable).map(\.name)

    /// The `resumable` settings that mean something for `method` (the `idem_` ones only for iDEM).
    public static func resumable(for method: Method?) -> [String] {
        resumable.filter { method?.family == .energyMatching || !$0.hasPrefix("idem_") }
    }

    /// Whether a run file written with `stored` may be continued under these settings (`--resume`): the same
    /// settings, except that `iterations` may be raised to train a finished run further and the `resumable`
    /// settings may change. Schedules that depend on `iterations` (`exploration_anneal`, `lr_schedule`) then
    /// follow the new length from where the run stands.
    public func continues(_ stored: RunConfig) -> Bool {
        var extended = stored
        extended.iterations = iterations
        for key in Self.keys where Self.resumable.contains(key.name) {
            // A value this config printed parses back to itself.
            try? key.set(&extended, key.get(self))
        }
        return extended == self && iterations >= stored.iterations
    }

    /// The settings that keep `continues(stored)` from holding, as "key: stored → given" (iterations when lowered).
    public func differences(from stored: RunConfig) -> [String] {
        let given = entries, old = stored.entries
        var out = zip(given, old).filter { $0.0.0 != "iterations" && $0.0.1 != $0.1.1 && !Self.resumable.contains($0.0.0) }
            .map { "\($0.0.0): \($0.1.1) → \($0.0.1)" }
        if iterations < stored.iterations { out.insert("iterations: \(stored.iterations) → \(iterations), lowered", at: 0) }
        return out
    }

    /// One accepted key.
    public struct Key: Sendable {
        /// Name as written on the command line.
        public let name: String
        /// What it sets.
        public let help: String
        let set: @Sendable (inout RunConfig, String) throws -> Void
        let get: @Sendable (RunConfig) -> String
        /// Whether `--resume` may change it (see `RunConfig.resumable`).
        public var resumable = false
    }

    /// All accepted keys, in the order they are listed and stored.
    public static let keys: [Key] = [
        Key(name: "target", help: "target density: a name from `dsampler targets`, manywell-D (D even), plugin:PATH.so, "
                + "python:FILE.py:FUNC or a spec file PATH.yaml",
            set: { c, v in
                try TargetCatalog.validate(v)
                c.target = absoluteTarget(v)
            }, get: { $0.target }),
        Key(name: "objective", help: "training method: " + Method.all.map { "\($0.name) (\($0.summary))" }.joined(separator: ", "),
            set: { c, v in c.objective = try choice("objective", v, Method.names) }, get: { $0.objective }),
        Key(name: "iterations", help: "training iterations", set: { c, v in c.iterations = try integer("iterations", v, min: 0, max: 1_000_000_000) },
            get: { "\($0.iterations)" }),
        Key(name: "batch_size", help: "paths per iteration", set: { c, v in c.batchSize = try integer("batch_size", v, min: 1, max: 1_000_000) },
            get: { "\($0.batchSize)" }),
        Key(name: "steps", help: "time steps T of the uniform grid", set: { c, v in c.steps = try integer("steps", v, min: 1, max: 100_000) },
            get: { "\($0.steps)" }),
        Key(name: "grid", help: "training time grid: " + TrainingGrid.names.joined(separator: ", ") + " (random/shifted: new each iteration)",
            set: { c, v in c.grid = TrainingGrid(rawValue: try choice("grid", v, TrainingGrid.names))! }, get: { $0.grid.rawValue }),
        Key(name: "eval_steps", help: "steps of the uniform evaluation grid (default: steps); for idem, of the evaluation reverse SDE (default: idem_steps)",
            set: { c, v in c.evaluation.steps = v == "default" ? nil : try integer("eval_steps", v, min: 1, max: 100_000) },
            get: { $0.evaluation.steps.map { "\($0)" } ?? "default" }),
        Key(name: "sigma2", help: "noise variance σ² of the Brownian reference (default: the target's)",
            set: { c, v in c.sigma2 = v == "default" ? nil : try positive("sigma2", v) }, get: { $0.sigma2.map { "\($0)" } ?? "default" }),
        Key(name: "exploration", help: "exploration std ε added to the sampling noise (0 = on-policy)",
            set: { c, v in c.exploration = try nonNegative("exploration", v) }, get: { "\($0.exploration)" }),
        Key(name: "exploration_anneal", help: "decay ε linearly to 0 over training (true/false)",
            set: { c, v in c.explorationAnneal = try boolean("exploration_anneal", v) }, get: { "\($0.explorationAnneal)" }),
        Key(name: "lr", help: "Adam learning rate of the drift network",
            set: { c, v in c.learningRate = try positive("lr", v) }, get: { "\($0.learningRate)" }, resumable: true),
        Key(name: "lr_log_z", help: "Adam learning rate of the learned log Z (TB)",
            set: { c, v in c.logZLearningRate = try positive("lr_log_z", v) }, get: { "\($0.logZLearningRate)" }),
        Key(name: "lr_flow", help: "Adam learning rate of the log-flow head (db, subtb, fl-subtb)",
            set: { c, v in c.flowLearningRate = try positive("lr_flow", v) }, get: { "\($0.flowLearningRate)" }),
        Key(name: "lr_schedule", help: "learning-rate schedule of lr, lr_log_z and lr_flow: constant, cosine (half a cosine to 0 over "
                + "the iterations) or plateau (cut by lr_factor after lr_patience epochs without a lower loss)",
            set: { c, v in c.learningRateSchedule = LearningRateSchedule(rawValue: try choice("lr_schedule", v, LearningRateSchedule.allCases.map(\.rawValue)))! },
            get: { $0.learningRateSchedule.rawValue }),
        Key(name: "lr_patience", help: "lr_schedule=plateau: epochs without a lower epoch loss before the rates are cut (an epoch: "
                + "log_every iterations of a path-space method, one epoch of iDEM)",
            set: { c, v in c.lrPatience = try integer("lr_patience", v, min: 1, max: 1_000_000_000) }, get: { "\($0.lrPatience)" }),
        Key(name: "lr_factor", help: "lr_schedule=plateau: what the rates are multiplied by after lr_patience epochs (0 < f < 1)",
            set: { c, v in c.lrFactor = try fraction("lr_factor", v) }, get: { "\($0.lrFactor)" }),
        Key(name: "ema", help: "decay of the moving average of the network's weights after every step; the average generates the "
                + "evaluation samples (0 = none; e.g. 0.999)",
            set: { c, v in c.averageDecay = decimal(v) == 0 ? 0 : try decay(v) }, get: { "\($0.averageDecay)" }),
        Key(name: "subtb_lambda", help: "SubTB sub-trajectory weight base λ (weight ∝ λ^length)",
            set: { c, v in c.subtbLambda = try positive("subtb_lambda", v) }, get: { "\($0.subtbLambda)" }),
        Key(name: "hidden", help: "hidden width of the drift network", set: { c, v in c.hidden = try integer("hidden", v, min: 1, max: 4096) },
            get: { "\($0.hidden)" }),
        Key(name: "langevin", help: "Langevin parametrisation μ = NN₁ + NN₂(t)·∇log R (true/false)",
            set: { c, v in c.langevin = try boolean("langevin", v) }, get: { "\($0.langevin)" }),
        Key(name: "learned_variance", help: "learn a per-coordinate step variance σ²Δt·exp(4·tanh(o)) (true/false)",
            set: { c, v in c.learnedVariance = try boolean("learned_variance", v) }, get: { "\($0.learnedVariance)" }),
        Key(name: "grad_clip", help: "clip the network gradient norm to this value (0 = off)",
            set: { c, v in c.gradClip = try nonNegative("grad_clip", v) }, get: { "\($0.gradClip)" }),
        Key(name: "local_search", help: "alternate on-policy steps with backward paths from a replay buffer fed by "
                + "local search with the ls_kernel kernel (true/false)",
            set: { c, v in c.localSearch = try boolean("local_search", v) }, get: { "\($0.localSearch)" }),
        Key(name: "teacher", help: "adaptive-teacher exploration (Kim et al. 2025): every other iteration trains on backward "
                + "paths from a Teacher network's samples, replayed by the student's loss there (true/false)",
            set: { c, v in c.teacher = try boolean("teacher", v) }, get: { "\($0.teacher)" }),
        Key(name: "teacher_alpha", help: "teacher=true: weight α of log R in the Teacher's reward log log(1.001 + w·ℓ) + α·log R",
            set: { c, v in
                c.teacherAlpha = try nonNegative("teacher_alpha", v)
                guard c.teacherAlpha <= 100 else { throw ConfigError.badValue(key: "teacher_alpha", value: v, expected: "a number from 0 to 100") }
            }, get: { "\($0.teacherAlpha)" }),
        Key(name: "ls_every", help: "iterations between local-search cycles",
            set: { c, v in c.lsEvery = try integer("ls_every", v, min: 1, max: 1_000_000_000) }, get: { "\($0.lsEvery)" }),
        Key(name: "ls_sweeps", help: "kernel sweeps per local-search cycle",
            set: { c, v in c.lsSweeps = try integer("ls_sweeps", v, min: 1, max: 10_000_000) }, get: { "\($0.lsSweeps)" }),
        Key(name: "ls_burn_in", help: "sweeps of step-size adaptation per local-search cycle (states not kept)",
            set: { c, v in c.lsBurnIn = try integer("ls_burn_in", v, min: 0, max: 10_000_000) }, get: { "\($0.lsBurnIn)" }),
        Key(name: "ls_step", help: "initial MCMC step size (local search, idem_buffer_mala, objective=mala)",
            set: { c, v in c.lsStep = try positive("ls_step", v) }, get: { "\($0.lsStep)" }),
        Key(name: "ls_kernel", help: "MCMC kernel of local search, idem_buffer_mala and objective=mala: mala, or hmc (hmc_leapfrog gradient evaluations per step)",
            set: { c, v in c.lsKernel = try choice("ls_kernel", v, KernelChoice.names) }, get: { $0.lsKernel }),
        Key(name: "hmc_leapfrog", help: "leapfrog steps L per HMC proposal (ls_kernel=hmc)",
            set: { c, v in c.hmcLeapfrog = try integer("hmc_leapfrog", v, min: 1, max: 1000) }, get: { "\($0.hmcLeapfrog)" }),
        Key(name: "buffer_size", help: "replay buffer capacity (highest rewards kept)",
            set: { c, v in c.bufferSize = try integer("buffer_size", v, min: 1, max: 100_000_000) }, get: { "\($0.bufferSize)" }),
        Key(name: "rank_weight", help: "rank-priority weight k: P(rank r) ∝ 1/(k·N + r)",
            set: { c, v in c.rankWeight = try positive("rank_weight", v) }, get: { "\($0.rankWeight)" }),
        Key(name: "idem_sigma_min", help: "iDEM: σ_min of the geometric noise schedule (default: the target's)",
            set: { c, v in c.idem.sigmaMin = v == "default" ? nil : try positive("idem_sigma_min", v) }, get: { $0.idem.sigmaMin.map { "\($0)" } ?? "default" }),
        Key(name: "idem_sigma_max", help: "iDEM: σ_max of the noise schedule (default: the target's)",
            set: { c, v in c.idem.sigmaMax = v == "default" ? nil : try positive("idem_sigma_max", v) }, get: { $0.idem.sigmaMax.map { "\($0)" } ?? "default" }),
        Key(name: "idem_samples", help: "iDEM: Monte-Carlo samples K per score estimate (default: the target's)",
            set: { c, v in c.idem.samples = v == "default" ? nil : try integer("idem_samples", v, min: 1, max: 100_000) }, get: { $0.idem.samples.map { "\($0)" } ?? "default" }),
        Key(name: "idem_score_clip", help: "iDEM: norm clip of score estimates, per particle on particle systems (default: the target's)",
            set: { c, v in c.idem.scoreClip = v == "default" ? nil : try positive("idem_score_clip", v) }, get: { $0.idem.scoreClip.map { "\($0)" } ?? "default" }, resumable: true),
        Key(name: "idem_diffusion_scale", help: "iDEM: noise factor of the reverse SDE when generating (default: the target's)",
            set: { c, v in c.idem.diffusionScale = v == "default" ? nil : try positive("idem_diffusion_scale", v) }, get: { $0.idem.diffusionScale.map { "\($0)" } ?? "default" }),
        Key(name: "idem_steps", help: "iDEM: Euler–Maruyama steps of the reverse SDE",
            set: { c, v in c.idem.integrationSteps = try integer("idem_steps", v, min: 1, max: 100_000) }, get: { "\($0.idem.integrationSteps)" }, resumable: true),
        Key(name: "idem_generate", help: "iDEM: samples generated into the buffer per epoch (iterations = epochs)",
            set: { c, v in c.idem.samplesPerEpoch = try integer("idem_generate", v, min: 1, max: 10_000_000) }, get: { "\($0.idem.samplesPerEpoch)" }, resumable: true),
        Key(name: "idem_inner", help: "iDEM: regression steps per epoch (batch_size points each)",
            set: { c, v in c.idem.innerSteps = try integer("idem_inner", v, min: 1, max: 10_000_000) }, get: { "\($0.idem.innerSteps)" }),
        Key(name: "idem_buffer", help: "iDEM: capacity of the FIFO buffer",
            set: { c, v in c.idem.bufferCapacity = try integer("idem_buffer", v, min: 1, max: 100_000_000) }, get: { "\($0.idem.bufferCapacity)" }),
        Key(name: "idem_layers", help: "iDEM: message-passing layers of the EGNN (particle targets) or hidden layers of the MLP",
            set: { c, v in c.idem.layers = try integer("idem_layers", v, min: 1, max: 64) }, get: { "\($0.idem.layers)" }),
        Key(name: "idem_buffer_mala", help: "iDEM: MCMC sweeps (ls_kernel) on the target from each generated sample before it enters the buffer (0 = none; initial step ls_step)",
            set: { c, v in c.idem.refinementSweeps = try integer("idem_buffer_mala", v, min: 0, max: 10_000_000) }, get: { "\($0.idem.refinementSweeps)" }, resumable: true),
        Key(name: "idem_target", help: "iDEM: regression target, mc (iDEM's K-sample estimate) or conditional (also weighs the clean buffer row the point was noised from)",
            set: { c, v in c.idem.conditionalTargets = try choice("idem_target", v, ["mc", "conditional"]) == "conditional" },
            get: { $0.idem.conditionalTargets ? "conditional" : "mc" }, resumable: true),
        Key(name: "idem_coord_range", help: "iDEM: the EGNN's bound on one particle pair's summed coordinate moves (15 in iDEM's code)",
            set: { c, v in c.idem.coordinateRange = try positive("idem_coord_range", v) }, get: { "\($0.idem.coordinateRange)" }),
        Key(name: "data", help: "objective=mle: exact (the target's exact sampler) or FILE.h5[:DATASET] (default dataset samples)",
            set: { c, v in c.data = v == "exact" || v.isEmpty ? v : absolutePath(v) }, get: { $0.data }),
        Key(name: "prior", help: "objective=rtb: run file of the prior diffusion (e.g. an mle run)",
            set: { c, v in c.prior = v.isEmpty ? v : absolutePath(v) }, get: { $0.prior }),
        Key(name: "reward", help: "objective=rtb: target whose log-density is log r (the posterior is prior·r^beta)",
            set: { c, v in c.reward = v.isEmpty ? v : absoluteTarget(v) }, get: { $0.reward }),
        Key(name: "beta", help: "objective=rtb: reward exponent β", set: { c, v in c.beta = try positive("beta", v) },
            get: { "\($0.beta)" }),
        Key(name: "mala_budget", help: "objective=mala: gradient evaluations in total (eval_paths chains; ls_step is the initial step)",
            set: { c, v in c.malaBudget = try integer("mala_budget", v, min: 2, max: 1_000_000_000_000) }, get: { "\($0.malaBudget)" }),
        Key(name: "seed", help: "random seed", set: { c, v in
            guard let s = UInt64(v) else { throw ConfigError.badValue(key: "seed", value: v, expected: "a non-negative integer") }
            c.seed = s
        }, get: { "\($0.seed)" }),
        Key(name: "threads", help: "worker threads", set: { c, v in c.threads = try integer("threads", v, min: 1, max: 256) },
            get: { "\($0.threads)" }, resumable: true),
        Key(name: "eval_paths", help: "paths (and exact samples) used by the final evaluation",
            set: { c, v in c.evaluation.paths = try integer("eval_paths", v, min: 2, max: 1_000_000) }, get: { "\($0.evaluation.paths)" }),
        Key(name: "eval_every", help: "iterations between evaluations during training, into /train/eval and RUN.jsonl (0 = none): "
                + "ELBO, log Z_IS, ESS for path-space methods (eval_paths paths), the sample metrics for iDEM and MCMC",
            set: { c, v in c.evaluation.every = try integer("eval_every", v, min: 0, max: 1_000_000_000) }, get: { "\($0.evaluation.every)" }, resumable: true),
        Key(name: "log_every", help: "iterations between logged training points",
            set: { c, v in c.logEvery = try integer("log_every", v, min: 1, max: 1_000_000_000) }, get: { "\($0.logEvery)" }),
    ] + referenceKeys + baselineKeys

    /// Settings of earlier versions, read from their run files (and accepted on the command line) as today's:
    /// iDEM's plateau schedule and weight average became `lr_schedule=plateau`, `lr_patience`, `lr_factor` and
    /// `ema` for every method. A patience of 0 meant no plateau schedule.
    static let renamed: [String: @Sendable (inout RunConfig, String) throws -> Void] = [
        "idem_lr_patience": { c, v in
            if v != "0" { try c.set("lr_schedule", "plateau"); try c.set("lr_patience", v) }
        },
        "idem_lr_factor": { c, v in try c.set("lr_factor", v) },
        "idem_ema": { c, v in try c.set("ema", v) },
    ]

    /// The defaults with `assignments` (`key=value` strings) applied in order.
    public static func parse(_ assignments: [String]) throws -> RunConfig {
        var config = RunConfig()
        for a in assignments {
            guard let eq = a.firstIndex(of: "="), eq != a.startIndex else { throw ConfigError.notAssignment(a) }
            let (key, value) = (String(a[..<eq]), String(a[a.index(after: eq)...]))
            if let old = renamed[key] { try old(&config, value) } else { try config.set(key, value) }
        }
        try config.checkCombinations()
        return config
    }

    /// Rules between keys, checked once all are set.
    /// - Throws: `ConfigError.badValue` naming the key and the valid range.
    func checkCombinations() throws {
        if localSearch && lsBurnIn >= lsSweeps {
            throw ConfigError.badValue(key: "ls_burn_in", value: "\(lsBurnIn)",
                                       expected: "fewer than ls_sweeps (\(lsSweeps)) sweeps, so that some states are kept")
        }
        if batchSize < method.minimumBatchSize {
            throw ConfigError.badValue(key: "batch_size", value: "\(batchSize)",
                                       expected: "at least \(method.minimumBatchSize) for objective=\(objective) (a variance over the batch)")
        }
        let perStep = lsKernel == "hmc" ? hmcLeapfrog : 1
        if method.family == .mcmc && malaBudget < evaluation.paths * (1 + 2 * perStep) {
            throw ConfigError.badValue(key: "mala_budget", value: "\(malaBudget)",
                                       expected: "at least eval_paths × (1 + 2 × \(perStep)) = \(evaluation.paths * (1 + 2 * perStep)): each of the "
                                           + "eval_paths chains is evaluated at its start and needs 2 sweeps of \(perStep) gradient evaluations")
        }
    }

    /// Sets one key from its string form.
    public mutating func set(_ name: String, _ value: String) throws {
        guard let key = Self.keys.first(where: { $0.name == name }) else {
            throw ConfigError.unknownKey(name, valid: Self.keys.map(\.name))
        }
        try key.set(&self, value)
    }

    /// The resolved settings as `(key, value)` pairs, in table order.
    public var entries: [(String, String)] { Self.keys.map { ($0.name, $0.get(self)) } }

    /// The settings whose values differ from the defaults, except the `ignoring` keys, in table order: what names a
    /// run's file and its method in reports.
    public func changedEntries(ignoring: Set<String> = []) -> [(String, String)] {
        let defaults = RunConfig().entries
        return entries.enumerated().filter { !ignoring.contains($0.element.0) && defaults[$0.offset].1 != $0.element.1 }.map(\.element)
    }

    /// The resolved settings as a YAML mapping (`key: value` lines).
    public var yaml: String { entries.map { "\($0.0): \($0.1)" }.joined(separator: "\n") + "\n" }
}

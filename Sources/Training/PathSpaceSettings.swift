import Numerics
import NeuralSDE

/// The training time grid (`grid=`): fixed, or drawn afresh every iteration.
public enum TrainingGrid: String, CaseIterable, Sendable {
    /// `steps` equal steps.
    case uniform
    /// `steps` steps between sorted uniform points, new every iteration.
    case random
    /// The uniform grid shifted by a random fraction of a step, new every iteration.
    case shifted

    /// The names `grid=` accepts.
    public static var names: [String] { allCases.map(\.rawValue) }

    /// The grid of iteration `iteration` (0-based) of a run with seed `seed`.
    public func grid(steps: Int, seed: UInt64, iteration: Int) -> TimeGrid {
        guard self != .uniform else { return .uniform(steps: steps) }
        var rng = Xoshiro256(seed: seed, stream: 1 << 45, UInt64(iteration))
        return self == .random ? .random(steps: steps, rng: &rng) : .shifted(steps: steps, rng: &rng)
    }
}

/// Which reference process a path-space method's kernels come from (`reference=`).
public enum ReferenceKind: String, CaseIterable, Sendable {
    /// Brownian motion from x₀ = 0 with noise variance σ² (`sigma2`): PIS, TB and the GFlowNet family.
    case brownian
    /// The variance-preserving (Ornstein–Uhlenbeck) process of DIS, Euler–Maruyama, cosine β up to `max_diffusion`/2.
    case vp
    /// The variance-preserving process of DDS with the exponential integrator and cos⁴ steps scaled by `noise_scale`.
    case vpExponential = "vp-exponential"

    /// The names `reference=` accepts.
    public static var names: [String] { allCases.map(\.rawValue) }
}

/// The reference process's settings: its kind (nil: the method's) and the parameters of the variance-preserving ones.
public struct ReferenceSettings: Sendable, Equatable {
    /// `reference`; nil takes `Method.reference`.
    public var kind: ReferenceKind?
    /// Standard deviation s of the variance-preserving references' initial and stationary law (`prior_std`).
    public var priorStd: Float = 1
    /// `max_diffusion`: the cosine β schedule of `vp` runs from 0.005 at the target to `max_diffusion`/2 at the prior;
    /// nil: 10 (the benchmark's DIS; the annealed Langevin methods default to 1).
    public var maxDiffusion: Float?
    /// `noise_scale` of `vp-exponential`.
    public var noiseScale: Float = 6

    /// Default settings (the method's reference; s = 1, the benchmark's DIS and DDS constants).
    public init() {}

    /// The reference for `method`, with Brownian noise variance `sigma2`.
    public func process(for method: Method, sigma2: Float) -> any ReferenceProcess {
        switch kind ?? method.reference {
        case .brownian: return BrownianReference(sigma2: sigma2)
        case .vp: return VariancePreservingReference(scale: priorStd, schedule: .cosine(minimum: 0.01, maximum: maxDiffusion ?? 10))
        case .vpExponential: return ExponentialVPReference(scale: priorStd, noiseScale: noiseScale)
        }
    }
}

/// The settings of path-space training, resolved once from the run's keys (`RunConfig.pathSpaceSettings`): the
/// method, the sampler (grid, σ², exploration), the network, the optimiser, the loss and local search.
public struct PathSpaceSettings: Sendable {
    /// The method (`objective=`); its family is `.pathSpace`.
    public var method: Method
    /// Paths per iteration (`batch_size`).
    public var batchSize: Int
    /// Training iterations (`iterations`): the optimiser's, over which its schedule runs and exploration anneals.
    public var iterations: Int {
        get { optimizer.iterations }
        set { optimizer.iterations = newValue }
    }
    /// Steps T of the training grid (`steps`) and how it is drawn (`grid`).
    public var steps: Int, grid: TrainingGrid
    /// The SDE's noise variance σ² (`sigma2`) of the Brownian reference; nil takes the target's `defaultSigma2`.
    public var sigma2: Float?
    /// The reference process (`reference`, `prior_std`, `max_diffusion`, `noise_scale`).
    public var reference = ReferenceSettings()
    /// Exploration std ε added to the sampling noise (`exploration`), decayed linearly to 0 when annealed
    /// (`exploration_anneal`).
    public var exploration: Float, explorationAnneal: Bool
    /// The drift network: hidden width (`hidden`), Langevin parametrisation (`langevin`), learned variance
    /// (`learned_variance`).
    public var hidden: Int, langevin: Bool, learnedVariance: Bool
    /// The network's optimiser (`lr`, `grad_clip`, `lr_schedule`, `lr_patience`, `lr_factor`, `ema`).
    public var optimizer: OptimizerSettings
    /// Rates of the objective's learned log Z (`lr_log_z`) and of the log-flow head (`lr_flow`).
    public var logZLearningRate: Float, flowLearningRate: Float
    /// The loss's settings (`subtb_lambda`, `beta`).
    public var objective: ObjectiveSettings
    /// Adaptive-teacher exploration (`teacher=true`): the weight α of log R in the Teacher's reward (`teacher_alpha`),
    /// or nil without a Teacher.
    public var teacherAlpha: Double?
    /// Local search and its replay buffers (`local_search=true`), or nil.
    public var localSearch: LocalSearchSettings?
    /// Iterations per epoch of the plateau schedule, whose loss is their mean (`log_every`).
    public var plateauEpoch: Int
    /// Random seed (`seed`) and worker threads (`threads`).
    public var seed: UInt64, threads: Int

    /// The rate of the objective's learned scalars before the schedule: `lr_log_z`, or `lr` for a baseline.
    public var scalarLearningRate: Float { method.scalarRate == .network ? optimizer.learningRate : logZLearningRate }

    /// Settings for `method` with the defaults of Sendera et al. (2024).
    public init(method: Method) {
        self.method = method
        (batchSize, steps, grid, sigma2) = (300, 100, .uniform, nil)
        (exploration, explorationAnneal, hidden, langevin, learnedVariance) = (0, true, 64, false, false)
        (optimizer, logZLearningRate, flowLearningRate) = (OptimizerSettings(), 1e-1, 1e-2)
        (objective, localSearch, plateauEpoch, seed, threads) = (ObjectiveSettings(), nil, 100, 0, 1)
        iterations = 25_000
    }
}

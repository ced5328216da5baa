import Objectives

/// One training method (`objective=NAME`) and what it needs from the rest of the toolkit. The trainer, sampler
/// set-up, budget accounting, run files and command line read these declarations; no code outside `Method.all`
/// compares objective names (in the style of torchgfn, where a loss declares the estimators it needs). It lives
/// with the trainers; the settings layer (`RunConfig.method`) only looks methods up by name.
public struct Method: Sendable {
    /// How a method trains, which decides the job's loop, its network and its evaluation.
    public enum Family: Sendable, Equatable {
        /// A drift network trained on simulated or replayed paths; scored by log Z estimates and samples.
        case pathSpace
        /// A score network trained by iterated denoising energy matching (iDEM); scored by its samples.
        case energyMatching
        /// No network: MCMC chains at a matched budget of gradient evaluations; scored by their final states.
        case mcmc
        /// No network: particles annealed from a Gaussian to the target (SMC, AIS); scored by their log Z estimate
        /// and their weighted samples.
        case annealing
        /// A variational family fitted by its reparameterised ELBO (MFVI); scored by log Z estimates and its draws.
        case variational
        /// Langevin kernels on a learned annealing path (ULA, MCD, CMCD; `AnnealedLangevin`); scored by log Z
        /// estimates and the terminal states of fresh paths.
        case annealedLangevin
    }

    /// How the gradient of a path-space loss reaches the network.
    public enum Gradient: Sendable, Equatable {
        /// States are data (on-policy, replayed or bridged): the loss's cotangents of log p_F (and log F) are
        /// back-propagated through the network's outputs only, so any path source and exploration work.
        case teacherForced
        /// Through the reparameterised on-policy path (PIS, DIS, DDS): needs ∇log R at x_T, no replay or learned
        /// variance; a Langevin term's score is held constant in the derivative (stop-gradient, as the benchmark code).
        case pathwise
    }

    /// Where a path-space method's paths come from.
    public enum Paths: Sendable, Equatable {
        /// Forward paths of the policy (with exploration; local search may add replayed backward paths).
        case onPolicy
        /// Brownian bridges back from data (`data=`): maximum likelihood.
        case data
    }

    /// Which rate the objective's learned scalars use.
    public enum ScalarRate: Sendable, Equatable {
        /// `lr_log_z` (TB's log Z, RTB's).
        case logZ
        /// `lr`, the network's: the scalar is one more parameter of the model (a baseline).
        case network
    }

    /// The `objective=` name.
    public let name: String
    /// One line for help texts: the method and its source.
    public let summary: String
    /// How it trains.
    public let family: Family
    /// Path-space methods: whether the network needs a log-flow head (DB, SubTB).
    public var flowHead = false
    /// Path-space methods: whether flows are forward-looking, log F = log F̃ + log R at intermediate states (FL-SubTB).
    public var forwardLooking = false
    /// Path-space methods: how the gradient reaches the network.
    public var gradient = Gradient.teacherForced
    /// Path-space methods: where paths come from.
    public var paths = Paths.onPolicy
    /// Path-space methods: whether paths are also scored by a frozen prior's log p_F (RTB: `prior=`, `reward=`).
    public var prior = false
    /// Path-space methods: the smallest batch the loss is defined for (a variance needs 2).
    public var minimumBatchSize = 1
    /// Path-space methods: the reference process whose kernels the policy's paths are scored under (`reference=`
    /// overrides it).
    public var reference = ReferenceKind.brownian
    /// Path-space methods: the rate of the objective's learned scalars.
    public var scalarRate = ScalarRate.logZ
    /// Annealed Langevin methods: where the control network enters and the loss.
    public var langevin: (control: AnnealedLangevin.Control, loss: AnnealedLangevin.Loss)?
    /// Path-space methods: the loss, built from its settings (nil for other families).
    public var objective: (@Sendable (ObjectiveSettings) -> any Objective)?

    /// Whether the method trains a model whose checkpoint can be re-evaluated (not the MCMC, SMC and AIS baselines).
    public var hasModel: Bool { family != .mcmc && family != .annealing }

    /// Every method, in the order help texts list them. Adding a method is one entry here and, for a new loss,
    /// one file in Objectives.
    public static let all: [Method] = [
        Method(name: "tb", summary: "trajectory balance (Malkin et al. 2022)", family: .pathSpace,
               objective: { _ in TrajectoryBalance() }),
        Method(name: "vargrad", summary: "log-variance loss with the batch mean as baseline (Richter et al. 2020)",
               family: .pathSpace, minimumBatchSize: 2, objective: { _ in VarGrad() }),
        Method(name: "lv-baseline", summary: "log-variance loss with a learned baseline scalar at the network's rate (Richter et al. 2020)",
               family: .pathSpace, scalarRate: .network, objective: { _ in LogVarianceBaseline() }),
        Method(name: "db", summary: "detailed balance with learned flows (Bengio et al. 2023)", family: .pathSpace,
               flowHead: true, objective: { c in SubTrajectoryBalance.detailedBalance().threaded(c.threads) }),
        Method(name: "subtb", summary: "sub-trajectory balance (Madan et al. 2023)", family: .pathSpace, flowHead: true,
               objective: { c in SubTrajectoryBalance.subTrajectoryBalance(lambda: c.subtbLambda).threaded(c.threads) }),
        Method(name: "fl-subtb", summary: "SubTB with forward-looking flows (Pan et al. 2023)", family: .pathSpace,
               flowHead: true, forwardLooking: true,
               objective: { c in SubTrajectoryBalance.subTrajectoryBalance(lambda: c.subtbLambda, forwardLooking: true).threaded(c.threads) }),
        Method(name: "pis", summary: "path integral sampler, reverse KL through the path (Zhang & Chen 2022)", family: .pathSpace,
               gradient: .pathwise, objective: { _ in ReverseKL() }),
        Method(name: "dis", summary: "time-reversed diffusion sampler: reverse KL through the path, variance-preserving "
                + "reference (Berner et al. 2024)", family: .pathSpace, gradient: .pathwise, reference: .vp,
               objective: { _ in ReverseKL() }),
        Method(name: "dds", summary: "denoising diffusion sampler: reverse KL through the path, exponential integrator of "
                + "the variance-preserving reference (Vargas et al. 2023)", family: .pathSpace, gradient: .pathwise,
               reference: .vpExponential, objective: { _ in ReverseKL() }),
        Method(name: "mle", summary: "maximum likelihood of data by bridge paths (Venkatraman et al. 2024)", family: .pathSpace,
               paths: .data, objective: { _ in MaximumLikelihood() }),
        Method(name: "rtb", summary: "relative trajectory balance against a prior diffusion (Venkatraman et al. 2024)",
               family: .pathSpace, prior: true, objective: { c in RelativeTrajectoryBalance(beta: c.beta) }),
        Method(name: "idem", summary: "iterated denoising energy matching (Akhound-Sadegh et al. 2024)", family: .energyMatching),
        Method(name: "mala", summary: "MCMC chains (ls_kernel) at a matched budget of gradient evaluations", family: .mcmc),
        Method(name: "smc", summary: "sequential Monte Carlo on the geometric path with HMC moves (Del Moral et al. 2006)",
               family: .annealing),
        Method(name: "ais", summary: "annealed importance sampling on the geometric path with HMC moves (Neal 2001)",
               family: .annealing),
        Method(name: "ula", summary: "uncorrected Langevin annealing with a learned schedule, reverse KL (Thin et al. 2021)",
               family: .annealedLangevin, langevin: (.none, .kl)),
        Method(name: "mcd", summary: "Monte Carlo diffusion: ULA with a learned backward correction, reverse KL (Doucet et al. 2022)",
               family: .annealedLangevin, langevin: (.backward, .kl)),
        Method(name: "cmcd-kl", summary: "controlled Monte Carlo diffusion, reverse KL (Vargas et al. 2024)",
               family: .annealedLangevin, langevin: (.both, .kl)),
        Method(name: "cmcd-lv", summary: "controlled Monte Carlo diffusion, log-variance loss (Vargas et al. 2024)",
               family: .annealedLangevin, minimumBatchSize: 2, langevin: (.both, .logVariance)),
        Method(name: "mfvi", summary: "mean-field (diagonal) Gaussian fitted by the reparameterised ELBO (Kingma & Welling 2014)",
               family: .variational),
    ]

    /// The names `objective=` accepts.
    public static var names: [String] { all.map(\.name) }

    /// The method called `name`, or nil.
    public static func find(_ name: String) -> Method? { all.first { $0.name == name } }

    /// The method called `name`; `name` must be one of `names` (the settings parser checks it).
    public static func named(_ name: String) -> Method {
        guard let m = find(name) else { preconditionFailure("unknown method \(name)") }
        return m
    }
}

/// The settings a loss is built from (`subtb_lambda`, `beta`).
public struct ObjectiveSettings: Sendable, Equatable {
    /// Sub-trajectory weight base λ of SubTB and FL-SubTB (weights ∝ λ^length).
    public var subtbLambda: Double
    /// RTB's reward exponent β (posterior ∝ prior·r^β).
    public var beta: Double
    /// Worker threads of objectives that split the batch's paths (SubTB and DB); their numbers do not depend on it.
    public var threads: Int

    /// Settings with the given values.
    public init(subtbLambda: Double = 2, beta: Double = 1, threads: Int = 1) {
        (self.subtbLambda, self.beta, self.threads) = (subtbLambda, beta, threads)
    }
}

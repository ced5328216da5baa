import Numerics
import NeuralSDE

/// What an objective returns for one trajectory batch.
public struct ObjectiveOutput: Sendable {
    /// The loss value.
    public var loss: Double
    /// ∂loss/∂log p_F for every transition (T·B entries, step-major, as in `TrajectoryBatch`).
    public var logForwardCotangent: [Float]
    /// The objective's current estimate of log Z.
    public var logZEstimate: Double
    /// For pathwise objectives (PIS): ∂loss/∂log p_B per transition and ∂loss/∂log R(x_T) per path, to be
    /// differentiated through the reparameterised states; nil for objectives that treat states as data.
    public var pathwise: (logBackwardCotangent: [Float], logRewardCotangent: [Float])?
    /// ∂loss/∂log F(x_i) for the batch's learned log-flows (T·B entries), or nil for objectives without flows.
    public var logFlowCotangent: [Float]?

    /// An output; `pathwise` is nil for off-policy objectives, `logFlowCotangent` for objectives without flows.
    public init(loss: Double, logForwardCotangent: [Float], logZEstimate: Double,
                pathwise: (logBackwardCotangent: [Float], logRewardCotangent: [Float])? = nil,
                logFlowCotangent: [Float]? = nil) {
        self.loss = loss
        self.logForwardCotangent = logForwardCotangent
        self.logZEstimate = logZEstimate
        self.pathwise = pathwise
        self.logFlowCotangent = logFlowCotangent
    }
}

/// A training objective: a function from a trajectory batch to a loss and its cotangents.
///
/// Objectives never see the network. Learned scalars (log Z, flows) live in the objective's own
/// `parameters`, whose gradients `evaluate` accumulates; the trainer steps them with their own optimiser.
public protocol Objective: Sendable {
    /// The loss's name (the `objective=` name, or the loss several methods share, as `reverse-kl`).
    var name: String { get }
    /// Learned scalars of the objective (may be empty).
    var parameters: ParameterStore { get set }
    /// Computes the loss and cotangents for `batch`, adding the gradients of learned scalars to `parameters`.
    mutating func evaluate(_ batch: TrajectoryBatch) -> ObjectiveOutput
}

extension TrajectoryBatch {
    /// S_F − S_B − log R(x_T) per path: the negative log importance weight that every balance loss compares.
    var logRatio: [Double] { logWeights.map { -$0 } }

    /// Broadcasts a per-path cotangent of S_F to every transition of that path.
    func perStep(_ perPath: [Double]) -> [Float] {
        var out = [Float](repeating: 0, count: steps * batchSize)
        for i in 0..<steps { for b in 0..<batchSize { out[i * batchSize + b] = Float(perPath[b]) } }
        return out
    }
}

/// Trajectory balance (Malkin et al. 2022): mean over paths of (log Z_θ + S_F − S_B − log R)².
public struct TrajectoryBalance: Objective {
    public let name = "tb"
    public var parameters: ParameterStore
    let logZ: ParameterSlot

    /// TB with the learned log Z starting at `initialLogZ`.
    public init(initialLogZ: Float = 0) {
        var p = ParameterStore()
        logZ = p.add("log_z", Matrix(scalar: initialLogZ))
        parameters = p
    }

    public mutating func evaluate(_ batch: TrajectoryBatch) -> ObjectiveOutput {
        Self.balance(batch.logRatio, batch: batch, logZ: logZ, parameters: &parameters)
    }

    /// mean_b (log Z + ρ_b)² for per-path residuals ρ_b that hold S_F once (TB, RTB): the loss, its per-step
    /// cotangents, and ∂/∂log Z added to `parameters`.
    static func balance(_ residuals: [Double], batch: TrajectoryBatch, logZ: ParameterSlot,
                        parameters: inout ParameterStore) -> ObjectiveOutput {
        let z = Double(parameters.value(logZ).scalar)
        let delta = residuals.map { z + $0 }
        let n = Double(batch.batchSize)
        parameters.accumulateGradient(logZ, Matrix(scalar: Float(delta.reduce(0, +) * 2 / n)))
        return ObjectiveOutput(loss: delta.reduce(0) { $0 + $1 * $1 } / n,
                               logForwardCotangent: batch.perStep(delta.map { 2 * $0 / n }), logZEstimate: z)
    }
}

/// VarGrad / log-variance loss (Richter et al. 2020): the batch variance of S_F − S_B − log R, which replaces
/// the learned log Z of TB by the batch mean.
public struct VarGrad: Objective {
    public let name = "vargrad"
    public var parameters = ParameterStore()

    /// The VarGrad objective (no learned scalars).
    public init() {}

    public mutating func evaluate(_ batch: TrajectoryBatch) -> ObjectiveOutput {
        let ratio = batch.logRatio
        let n = Double(batch.batchSize)
        let mean = ratio.reduce(0, +) / n
        let centred = ratio.map { $0 - mean }
        let loss = centred.reduce(0) { $0 + $1 * $1 } / n
        return ObjectiveOutput(loss: loss, logForwardCotangent: batch.perStep(centred.map { 2 * $0 / n }),
                               logZEstimate: -mean)
    }
}

/// The reverse KL mean(S_F − S_B − log R) of on-policy paths (S_F including log p₀(x₀) for a random start), minimised
/// by differentiating through the reparameterised path (`pathwise`); −loss is the ELBO. The loss of PIS (Zhang &
/// Chen 2022, Brownian reference), DIS (Berner et al. 2024) and DDS (Vargas et al. 2023, variance-preserving).
public struct ReverseKL: Objective {
    public let name = "reverse-kl"
    public var parameters = ParameterStore()

    /// The reverse-KL objective (no learned scalars).
    public init() {}

    public mutating func evaluate(_ batch: TrajectoryBatch) -> ObjectiveOutput {
        let ratio = batch.logRatio
        let n = Double(batch.batchSize)
        let loss = ratio.reduce(0, +) / n
        let weight = Float(1 / n)
        let perStep = [Float](repeating: weight, count: batch.steps * batch.batchSize)
        return ObjectiveOutput(loss: loss, logForwardCotangent: perStep, logZEstimate: -loss,
                               pathwise: (perStep.map { -$0 }, [Float](repeating: -weight, count: batch.batchSize)))
    }
}

/// Maximum likelihood on data: paths are Brownian bridges back from data samples and the loss is −mean(S_F), the
/// negative log-likelihood bound of the data under the forward policy (Venkatraman et al. 2024 train their prior
/// this way). The log Z estimate is mean(log R + S_B − S_F), the EUBO when the data are target samples.
public struct MaximumLikelihood: Objective {
    public let name = "mle"
    public var parameters = ParameterStore()

    /// The MLE objective (no learned scalars).
    public init() {}

    public mutating func evaluate(_ batch: TrajectoryBatch) -> ObjectiveOutput {
        let n = Double(batch.batchSize)
        let loss = -batch.sumLogForward.reduce(0, +) / n
        return ObjectiveOutput(loss: loss, logForwardCotangent: [Float](repeating: Float(-1 / n), count: batch.steps * batch.batchSize),
                               logZEstimate: batch.logWeights.reduce(0, +) / n)
    }
}

/// Relative trajectory balance (Venkatraman et al. 2024): mean over paths of
/// (log Z_θ + S_F − S_F^prior − β·log r(x_T))², where S_F^prior scores the same transitions under a frozen prior
/// diffusion (`TrajectoryBatch.priorLogForward`) and log r is the batch's log-reward. At the optimum the policy
/// samples p_prior·r^β / Z.
public struct RelativeTrajectoryBalance: Objective {
    public let name = "rtb"
    public var parameters: ParameterStore
    let logZ: ParameterSlot
    /// Inverse temperature β of the reward.
    public let beta: Double

    /// RTB with reward exponent `beta` and the learned log Z starting at 0.
    public init(beta: Double = 1) {
        var p = ParameterStore()
        logZ = p.add("log_z", Matrix(scalar: 0))
        parameters = p
        self.beta = beta
    }

    public mutating func evaluate(_ batch: TrajectoryBatch) -> ObjectiveOutput {
        precondition(batch.priorLogForward.count == batch.steps * batch.batchSize, "rtb needs the prior's log p_F")
        let forward = batch.sumLogForward
        let prior = TrajectoryBatch.sumOverSteps(batch.priorLogForward, batchSize: batch.batchSize)
        let residuals = (0..<batch.batchSize).map { forward[$0] - prior[$0] - beta * batch.logReward[$0] }
        return TrajectoryBalance.balance(residuals, batch: batch, logZ: logZ, parameters: &parameters)
    }
}

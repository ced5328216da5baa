import Foundation
import Numerics
import Densities
import NeuralSDE
import Objectives

/// Adaptive-teacher exploration (Kim et al. 2025, "Adaptive teachers for amortized samplers", ICLR): a second drift
/// network, the Teacher, is trained by trajectory balance toward the regions where the student's loss is high, and
/// the student trains every other iteration on backward paths from Teacher samples, replayed from a buffer ranked
/// by that loss. For a student path with residual δ = log R + S_B − S_F − log Z and loss ℓ = ½δ², the Teacher's
/// log-reward at its end x is
///
///     log R_T(x) = log log(1.001 + w·ℓ) + α·log R(x),   w = 20 where δ > 0 (the student under-samples x), 1 elsewhere,
///
/// as in the authors' diffusion-sampler code (its fixed reward floor for low-reward states is not used). The Teacher
/// trains on backward paths from the student's latest terminal states, at 5× the network rate with its gradient
/// norm clipped at 0.1, and shares the student's reference process; it has no Langevin term.
public struct AdaptiveTeacher {
    /// The Teacher's drift network.
    public internal(set) var network: DriftNetwork
    /// Its TB objective (the Teacher's own learned log Z).
    public internal(set) var objective: TrajectoryBalance
    var networkOptimizer: OptimizerChain, objectiveOptimizer: OptimizerChain
    let sampler: PathSampler
    /// Teacher samples ranked by the student's loss there, log(1.001 + w·ℓ).
    public internal(set) var buffer: ReplayBuffer
    /// Weight α of log R in the Teacher's reward.
    public let alpha: Double
    /// Weight w of an under-sampled state's loss.
    static let underSampledWeight = 20.0

    /// A Teacher on `sampler`'s target and process, with a network of `hidden` units, a buffer of `capacity` states.
    public init(sampler: PathSampler, hidden: Int, learningRate: Float, alpha: Double, capacity: Int, rankWeight: Double,
                rng: inout Xoshiro256) {
        self.sampler = PathSampler(target: sampler.target, process: sampler.process, threads: sampler.threads)
        network = DriftNetwork(dimension: sampler.target.dimension, hidden: hidden, rng: &rng)
        objective = TrajectoryBalance()
        networkOptimizer = OptimizerChain(store: network.parameters, learningRate: 5 * learningRate, clipNorm: 0.1)
        objectiveOptimizer = OptimizerChain(store: objective.parameters, learningRate: 5 * learningRate)
        buffer = ReplayBuffer(capacity: capacity, dimension: sampler.target.dimension, rankWeight: rankWeight)
        self.alpha = alpha
    }

    /// log(1.001 + w·½δ²) for the student's residuals δ: the priority of a state in the buffer.
    public static func studentLoss(residuals: [Double]) -> [Double] {
        residuals.map { log(1.001 + ($0 > 0 ? underSampledWeight : 1) * 0.5 * $0 * $0) }
    }

    /// One TB step of the Teacher toward log R_T on its backward paths from `terminal` (the student's batch ends, with
    /// their log R and the student's residuals there).
    /// - Throws: what the target throws, `NonFiniteDensityError`.
    /// - Throws: what the target throws, `NonFiniteDensityError`, and `TrainingError.diverged` when the Teacher's loss or
    ///   gradient is not finite or beyond 10¹⁵ (a `teacher_alpha` too large for the target's log R).
    public mutating func train(terminal: Matrix, logReward: [Double], residuals: [Double], process: DiffusionProcess,
                               factor: Float, iteration: Int, seed: UInt64, stream: UInt64, context: String) throws {
        follow(process)
        let paths = try sampler.sampleBackward(network, terminal: terminal, seed: seed, stream: stream, context: context)
        let reward = zip(Self.studentLoss(residuals: residuals), logReward).map { log($0) + alpha * $1 }
        let out = objective.evaluate(paths.scored(logReward: reward))
        network.parameters.zeroGradients()
        sampler.accumulateGradients(&network, batch: paths, logForwardCotangent: out.logForwardCotangent)
        guard out.loss.isFinite, PathSpaceTrainer.bounded(network.parameters.gradients),
              PathSpaceTrainer.bounded(objective.parameters.gradients) else {
            throw TrainingError.diverged(iteration: iteration, target: sampler.target.name,
                                         what: "Teacher's loss or gradient (teacher_alpha = \(alpha) too large for this target's log R?)")
        }
        networkOptimizer.step(&network.parameters, factor: factor)
        objectiveOptimizer.step(&objective.parameters, factor: factor)
        objective.parameters.zeroGradients()
    }

    /// `count` fresh Teacher samples (the ends of its forward paths).
    public func propose(count: Int, seed: UInt64, stream: UInt64, context: String) throws -> Matrix {
        try sampler.sampleForward(network, batchSize: count, seed: seed, stream: stream, context: context).terminalStates
    }

    /// Everything a checkpoint keeps of the Teacher.
    public struct Snapshot: Sendable, Equatable {
        public var network: ParameterStore, networkOptimizer: OptimizerChain
        public var objective: ParameterStore, objectiveOptimizer: OptimizerChain
        public var buffer: ReplayBuffer
    }

    /// The Teacher's parameters, optimiser states and buffer.
    public var snapshot: Snapshot {
        Snapshot(network: network.parameters, networkOptimizer: networkOptimizer, objective: objective.parameters,
                 objectiveOptimizer: objectiveOptimizer, buffer: buffer)
    }

    /// Restores a snapshot of a Teacher of the same shape.
    /// - Throws: `TrainingError.incompatibleCheckpoint` for other shapes.
    public mutating func restore(_ s: Snapshot) throws {
        guard s.network.values.count == network.parameters.values.count, s.objective.values.count == objective.parameters.values.count,
              s.buffer.dimension == buffer.dimension else { throw TrainingError.incompatibleCheckpoint }
        (network.parameters.values, networkOptimizer) = (s.network.values, s.networkOptimizer)
        (objective.parameters.values, objectiveOptimizer, buffer) = (s.objective.values, s.objectiveOptimizer, s.buffer)
    }

    /// Sets the grid the Teacher's paths use (the student's, which may be drawn afresh every iteration).
    public func follow(_ process: DiffusionProcess) { sampler.process = process }
}

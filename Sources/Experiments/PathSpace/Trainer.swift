import Foundation
import Numerics
import Densities
import NeuralSDE
import Objectives
import Training

/// Everything needed to resume training or re-evaluate: parameters, optimiser states, counters.
public struct Checkpoint: Sendable, Equatable {
    /// Drift-network parameters.
    public var network: ParameterStore
    /// Optimiser chain of the network (Adam state, rates, weight average).
    public var networkOptimizer: OptimizerChain
    /// The objective's learned scalars (log Z, flows).
    public var objective: ParameterStore
    /// Optimiser chain of the objective's scalars.
    public var objectiveOptimizer: OptimizerChain
    /// Progress of `lr_schedule=plateau`.
    public var plateau: PlateauState
    /// Iterations completed.
    public var iteration: Int
    /// Energy and gradient evaluations so far.
    public var budget: EvaluationBudget
    /// Training seconds so far.
    public var seconds: Double
    /// Local-search runs: the replay buffer of on-policy terminal states.
    public var buffer: ReplayBuffer?
    /// Local-search runs: the buffer of states local search accepted (replayed by backward iterations).
    public var localSearchBuffer: ReplayBuffer?
}

/// Trains a drift network on a target with one objective, iteration by iteration.
public final class Trainer {
    /// The resolved settings.
    public let config: RunConfig
    /// The density the sampler trains toward (for RTB the reward r; otherwise the target).
    public let target: any Target
    /// The density the final evaluation compares with (`target=`; for RTB the posterior, when known).
    public let evaluationTarget: any Target
    /// For RTB: the frozen prior and a sampler that scores posterior paths under it.
    var prior: (network: DriftNetwork, sampler: PathSampler)?
    /// For MLE from a file: the data rows.
    var dataSet: Matrix?
    /// The target given in place of the catalog's `target=` (nil: the catalog's).
    public let customTarget: (any Target)?
    /// The comparison set of every evaluation, drawn once.
    let comparison = ComparisonCache()
    /// The path simulator (target, σ², grid, threads).
    public let sampler: PathSampler
    /// The drift network being trained.
    public private(set) var network: DriftNetwork
    /// The objective, with its learned scalars.
    public private(set) var objective: any Objective
    private var networkOptimizer: OptimizerChain
    private var objectiveOptimizer: OptimizerChain
    private var plateau = PlateauState()
    /// Iterations completed.
    public private(set) var iteration = 0
    /// Target evaluations so far.
    public private(set) var budget = EvaluationBudget()
    /// Training seconds so far.
    public private(set) var seconds = 0.0
    /// On-policy terminal states of local-search training (nil without `local_search`): where local search starts.
    public private(set) var buffer: ReplayBuffer?
    /// States accepted by local search (nil without `local_search`): what the backward iterations replay.
    public private(set) var localSearchBuffer: ReplayBuffer?
    /// The logged training curve.
    public var history: [TrainingPoint] = []
    /// The `eval_every` curve.
    public var monitored: [TrainingPoint] = []

    /// A fresh run for `config`. BLAS is pinned to one thread: the trainer parallelises over rows itself.
    /// Pass `target` to train on your own `Target` instead of the built-in one named in `config`
    /// (`config.target` is then set to its name).
    public init(config: RunConfig, target custom: (any Target)? = nil) throws {
        BLAS.setThreads(1)
        let config = config.training(on: custom)
        self.config = config
        let method = config.method
        guard let makeObjective = method.objective else {
            throw TrainingError.unsupportedSettings("objective=\(config.objective) does not train on paths")
        }
        evaluationTarget = try custom ?? TargetCatalog.resolve(config.target)
        customTarget = custom
        if method.prior {
            guard !config.reward.isEmpty, !config.prior.isEmpty else {
                throw TrainingError.unsupportedSettings("objective=rtb needs prior=RUN.h5 (a trained diffusion) and reward=TARGET (log r)")
            }
            target = try TargetCatalog.resolve(config.reward)
        } else {
            target = evaluationTarget
        }
        if target.particleStructure != nil {
            throw TrainingError.unsupportedTarget(target.name, reason: "the path-space methods have no "
                + "centre-of-mass-free sampler or equivariant network; use objective=idem (or objective=mala)")
        }
        try config.checkSizes(dimension: target.dimension)
        let process = DiffusionProcess(sigma2: config.sigma2 ?? target.defaultSigma2, grid: .uniform(steps: config.steps))
        sampler = PathSampler(target: target, process: process, threads: config.threads)
        var rng = Xoshiro256(seed: config.seed, stream: 1 << 43)
        network = DriftNetwork(dimension: target.dimension, hidden: config.hidden, langevin: config.langevin,
                               flow: method.flowHead, learnedVariance: config.learnedVariance, rng: &rng)
        sampler.forwardLooking = method.forwardLooking
        if method.gradient == .pathwise {
            guard !config.langevin else {
                throw TrainingError.unsupportedSettings("objective=\(config.objective) with langevin=true needs "
                    + "Hessian-vector products of log R, which are not implemented; use langevin=false")
            }
            guard !config.learnedVariance else {
                throw TrainingError.unsupportedSettings("objective=\(config.objective) with learned_variance=true is not implemented "
                    + "(the noise scale would join the reparameterised path); use an off-policy objective")
            }
        }
        objective = makeObjective(config.objectiveSettings)
        if config.localSearch {
            guard method.gradient == .teacherForced else {
                throw TrainingError.unsupportedSettings("local search trains on backward paths, which "
                    + "a pathwise objective (\(config.objective)) cannot use; choose tb or vargrad")
            }
            let ls = config.localSearchSettings
            buffer = ReplayBuffer(capacity: ls.bufferSize, dimension: target.dimension, rankWeight: ls.rankWeight)
            localSearchBuffer = buffer
        }
        networkOptimizer = OptimizerChain(store: network.parameters, learningRate: config.learningRate, clipNorm: config.gradClip,
                                          slotRates: network.flowSlots.map { ($0, config.flowLearningRate) },
                                          averageDecay: config.averageDecay)
        objectiveOptimizer = OptimizerChain(store: objective.parameters, learningRate: Self.scalarLearningRate(config))
        if method.prior { try attachPrior() }
        if method.paths == .data { dataSet = try loadData() }
    }

    /// The rate of the objective's learned scalars before the schedule: `lr_log_z`, or `lr` for a baseline.
    static func scalarLearningRate(_ config: RunConfig) -> Float {
        config.method.scalarRate == .network ? config.learningRate : config.logZLearningRate
    }

    /// A sampler on the uniform evaluation grid of `eval_steps` steps (the training grid may be coarser or random).
    public func evaluationSampler() -> PathSampler {
        PathSampler(target: evaluationTarget, process: DiffusionProcess(sigma2: sampler.process.sigma2,
                                                              grid: .uniform(steps: config.evalSteps ?? config.steps)),
                    threads: config.threads)
    }

    /// `lr_schedule=plateau` for paths: an epoch is `log_every` iterations, its loss their mean; after `lr_patience`
    /// epochs without a lower one every rate is multiplied by `lr_factor`.
    private func updatePlateau(_ loss: Double) {
        plateau.epochLossSum += loss
        plateau.epochLossCount += 1
        guard iteration % config.logEvery == 0 else { return }
        let mean = plateau.epochLossSum / Double(plateau.epochLossCount)
        (plateau.epochLossSum, plateau.epochLossCount) = (0, 0)
        if plateau.endEpoch(loss: mean, patience: config.lrPatience) {
            networkOptimizer.cut(by: config.lrFactor)
            objectiveOptimizer.cut(by: config.lrFactor)
        }
    }

    /// The network that generates evaluation samples: the weight average with `ema` > 0, else the trained weights.
    public var evaluationNetwork: DriftNetwork {
        guard let average = networkOptimizer.average else { return network }
        var averaged = network
        averaged.parameters.values = average
        return averaged
    }

    /// Exploration std at the current iteration (linear decay to 0 over the run when annealed).
    public var currentExploration: Float {
        guard config.explorationAnneal, config.iterations > 0 else { return config.exploration }
        return config.exploration * max(0, 1 - Float(iteration) / Float(config.iterations))
    }

    /// One iteration: sample paths, evaluate the objective, back-propagate, step both optimisers. Does not check
    /// for divergence or log the point (`advance` and `train` do).
    @discardableResult
    public func step() throws -> ObjectiveOutput {
        let start = DispatchTime.now().uptimeNanoseconds
        let context = "iteration \(iteration + 1)"
        if config.grid != "uniform" {
            var rng = Xoshiro256(seed: config.seed, stream: 1 << 45, UInt64(iteration))
            sampler.process.grid = config.grid == "random" ? .random(steps: config.steps, rng: &rng)
                                                             : .shifted(steps: config.steps, rng: &rng)
        }
        let batch = try sampleBatch(context: context)
        let out = objective.evaluate(batch)
        guard out.loss.isFinite else { throw TrainingError.nonFiniteLoss(iteration: iteration + 1, target: target.name) }
        network.parameters.zeroGradients()
        if let pathwise = out.pathwise {
            try sampler.accumulatePathwiseGradients(&network, batch: batch, logForwardCotangent: out.logForwardCotangent,
                                                    logBackwardCotangent: pathwise.logBackwardCotangent,
                                                    logRewardCotangent: pathwise.logRewardCotangent)
        } else {
            sampler.accumulateGradients(&network, batch: batch, logForwardCotangent: out.logForwardCotangent,
                                        logFlowCotangent: out.logFlowCotangent)
        }
        let factor = config.learningRateSchedule.factor(iteration: iteration, of: config.iterations)
        networkOptimizer.step(&network.parameters, factor: factor)
        objectiveOptimizer.step(&objective.parameters, factor: factor)
        objective.parameters.zeroGradients()
        iteration += 1
        if config.learningRateSchedule == .plateau { updatePlateau(out.loss) }
        // log R(x_T) for every path, and at x_1…x_{T−1} for forward-looking flows without the Langevin term;
        // ∇log R at every step with the Langevin term, and at x_T for pathwise losses.
        budget.energy += config.batchSize * (sampler.forwardLooking && !network.langevin ? config.steps : 1)
        budget.gradient += config.batchSize * ((network.langevin ? config.steps : 0) + (out.pathwise == nil ? 0 : 1))
        seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return out
    }

    /// The paths of this iteration: on-policy (with exploration), or — every other iteration with local search —
    /// Brownian-bridge paths back from states that local search accepted (Sendera et al. 2024). On-policy terminal
    /// states feed one buffer; every `ls_every` iterations a MALA cycle starts from states replayed from it and
    /// puts the states it accepts into the second buffer, which the backward iterations replay.
    private func sampleBatch(context: String) throws -> TrajectoryBatch {
        let stream = UInt64(iteration)
        if config.method.paths == .data { return try dataBatch(stream: stream, context: context) }
        guard var onPolicy = buffer, var searched = localSearchBuffer else {
            var batch = try sampler.sampleForward(network, batchSize: config.batchSize, exploration: currentExploration,
                                                  seed: config.seed, stream: stream, context: context)
            if let prior {
                prior.sampler.process = sampler.process  // same (possibly random) grid
                batch.priorLogForward = try prior.sampler.teacherForced(prior.network, states: batch, context: context).logForward
                budget.energy += config.batchSize
            }
            return batch
        }
        defer { buffer = onPolicy; localSearchBuffer = searched }
        var rng = Xoshiro256(seed: config.seed, stream: 1 << 46, stream)
        let ls = config.localSearchSettings
        if iteration > 0 && iteration % ls.every == 0 && onPolicy.count > 0 {
            let search = LocalSearch(ls)
            let found = try search.run(from: onPolicy.sample(config.batchSize, rng: &rng), target: target, rng: &rng)
            searched.add(found.states, logRewards: found.logRewards)
            budget.gradient += found.gradientEvaluations
        }
        if iteration % 2 == 1 {
            let replay = searched.count > 0 ? searched : onPolicy
            return try sampler.sampleBackward(network, terminal: replay.sample(config.batchSize, rng: &rng), seed: config.seed,
                                              stream: stream | 1 << 48, context: context)
        }
        let batch = try sampler.sampleForward(network, batchSize: config.batchSize, exploration: currentExploration,
                                              seed: config.seed, stream: stream, context: context)
        onPolicy.add(batch.terminalStates, logRewards: batch.logReward)
        return batch
    }

    /// Replaces the policy's parameters (RTB starts from its prior).
    func restorePolicy(_ values: [Float]) { network.parameters.values = values }

    /// Stops on divergence: a non-finite loss, log Z estimate or parameter.
    func checkFinite(_ out: ObjectiveOutput) throws {
        let what = !out.loss.isFinite ? "loss \(out.loss)" : !out.logZEstimate.isFinite ? "log Z estimate \(out.logZEstimate)"
            : !network.parameters.values.allSatisfy({ abs($0) <= Self.parameterBound }) ? "network parameters"
            : !objective.parameters.values.allSatisfy({ abs($0) <= Self.parameterBound }) ? "objective parameters (log Z or flows)" : nil
        if let what { throw TrainingError.diverged(iteration: iteration, target: config.target, what: what) }
    }

    /// Largest parameter magnitude a run may reach before it counts as diverged (lr = 1e30 makes weights of 10³⁰
    /// that are finite but meaningless; a log Z of 10⁸, from energies with a large constant, stays well below).
    static let parameterBound: Float = 1e15

    /// Parameters, optimiser states and counters.
    public var checkpoint: Checkpoint {
        Checkpoint(network: network.parameters, networkOptimizer: networkOptimizer, objective: objective.parameters,
                   objectiveOptimizer: objectiveOptimizer, plateau: plateau, iteration: iteration, budget: budget,
                   seconds: seconds, buffer: buffer, localSearchBuffer: localSearchBuffer)
    }

    /// Restores a checkpoint of a run with the same configuration.
    public func restore(_ c: Checkpoint) throws {
        guard c.network.values.count == network.parameters.values.count,
              c.objective.values.count == objective.parameters.values.count else {
            throw TrainingError.incompatibleCheckpoint
        }
        network.parameters.values = c.network.values
        networkOptimizer = c.networkOptimizer
        objective.parameters.values = c.objective.values
        objectiveOptimizer = c.objectiveOptimizer
        plateau = c.plateau
        iteration = c.iteration
        budget = c.budget
        if let restored = c.buffer { buffer = restored }
        if let restored = c.localSearchBuffer { localSearchBuffer = restored }
        seconds = c.seconds
    }
}

/// Training failures that stop a run (the run file written so far stays readable).
public enum TrainingError: Error, CustomStringConvertible {
    case nonFiniteLoss(iteration: Int, target: String)
    case diverged(iteration: Int, target: String, what: String)
    case incompatibleCheckpoint
    case unsupportedTarget(String, reason: String)
    case unsupportedSettings(String)

    public var description: String {
        switch self {
        case .nonFiniteLoss(let i, let t):
            return "the loss became non-finite at iteration \(i) on target \(t); lower lr or set grad_clip"
        case .diverged(let i, let t, let what):
            return "training diverged at iteration \(i) on target \(t): the \(what) became non-finite or exceeded 1e15; lower lr or set grad_clip"
        case .incompatibleCheckpoint:
            return "the checkpoint's parameter shapes do not match this configuration (target, hidden, langevin, learned_variance, objective)"
        case .unsupportedSettings(let reason):
            return "these settings cannot be combined: \(reason)"
        case .unsupportedTarget(let name, let reason):
            return "target \(name) cannot be trained yet: \(reason)"
        }
    }
}

import Foundation
import Numerics
import Densities
import NeuralSDE
import Objectives

/// Trains a drift network on a target with one path-space objective, iteration by iteration: sample paths
/// (on-policy with exploration, replayed from local search, or bridged back from data), evaluate the loss,
/// back-propagate its cotangents, step the optimisers. Everything it needs is given: the settings, the density, a
/// frozen prior (RTB) and data rows (MLE); reading run files and catalogs is the job's.
public final class PathSpaceTrainer {
    /// Everything needed to resume training or re-evaluate: parameters, optimiser states, counters.
    public struct State: Sendable, Equatable {
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
        /// Runs with an adaptive teacher: its parameters, optimisers and buffer.
        public var teacher: AdaptiveTeacher.Snapshot?
    }

    /// A frozen diffusion that scores the policy's paths by its log p_F (RTB's prior), with the reference it was trained on.
    public struct Prior: Sendable {
        /// The prior's drift network.
        public var network: DriftNetwork
        /// Its reference process; the posterior trains on the same.
        public var reference: any ReferenceProcess

        /// A prior with its network and reference.
        public init(network: DriftNetwork, reference: any ReferenceProcess) { (self.network, self.reference) = (network, reference) }
    }

    /// The resolved settings.
    public let settings: PathSpaceSettings
    /// The density the sampler trains toward (for RTB the reward r; otherwise the target).
    public let target: any Target
    /// For RTB: the frozen prior and a sampler that scores paths under it.
    let prior: (network: DriftNetwork, sampler: PathSampler)?
    /// Adaptive-teacher runs: the Teacher.
    public private(set) var teacher: AdaptiveTeacher?
    /// For MLE from a file: the data rows (nil: fresh exact samples of the target).
    let data: Matrix?
    /// The path simulator (target, σ², grid, threads).
    public let sampler: PathSampler
    /// The drift network being trained.
    public private(set) var network: DriftNetwork
    /// The objective, with its learned scalars.
    public private(set) var objective: any Objective
    private var networkOptimizer: OptimizerChain
    private var objectiveOptimizer: OptimizerChain
    private var plateau = PlateauState()
    /// Whether the trainer was built to train (with its prior and data) rather than only to be evaluated.
    public let canTrain: Bool
    /// Iterations completed.
    public private(set) var iteration = 0
    /// Target evaluations so far.
    public private(set) var budget = EvaluationBudget()
    /// Training seconds so far.
    public private(set) var seconds = 0.0
    /// On-policy terminal states of local-search training (nil without local search): where local search starts.
    public private(set) var buffer: ReplayBuffer?
    /// States accepted by local search (nil without local search): what the backward iterations replay.
    public private(set) var localSearchBuffer: ReplayBuffer?

    /// A fresh run of `settings.method` on `target`. `prior` is required by methods that declare one (RTB), which
    /// start the policy from it; `data` gives the rows of a data-driven method (MLE), nil drawing exact samples.
    /// With `training` false the trainer only holds a network to be restored and evaluated: it needs neither, and
    /// `step` refuses.
    /// - Throws: `TrainingError` naming the settings or target that cannot be combined.
    public init(settings: PathSpaceSettings, target: any Target, prior: Prior? = nil, data: Matrix? = nil,
                training: Bool = true) throws {
        self.settings = settings
        self.target = target
        canTrain = training
        let method = settings.method, name = method.name
        guard let makeObjective = method.objective else {
            throw TrainingError.unsupportedSettings("objective=\(name) does not train on paths")
        }
        if target.particleStructure != nil {
            throw TrainingError.unsupportedTarget(target.name, reason: "the path-space methods have no "
                + "centre-of-mass-free sampler or equivariant network; use objective=idem (or objective=mala)")
        }
        let process = DiffusionProcess(reference: try Self.reference(settings, target: target), grid: .uniform(steps: settings.steps))
        sampler = PathSampler(target: target, process: process, threads: settings.threads)
        var rng = Xoshiro256(seed: settings.seed, stream: 1 << 43)
        network = DriftNetwork(dimension: target.dimension, hidden: settings.hidden, langevin: settings.langevin,
                               flow: method.flowHead, learnedVariance: settings.learnedVariance, rng: &rng)
        sampler.forwardLooking = method.forwardLooking
        sampler.scoresTerminal = method.gradient == .pathwise
        if method.gradient == .pathwise {
            guard !settings.learnedVariance else {
                throw TrainingError.unsupportedSettings("objective=\(name) with learned_variance=true is not implemented "
                    + "(the noise scale would join the reparameterised path); use an off-policy objective")
            }
        }
        objective = makeObjective(settings.objective)
        if let ls = settings.localSearch {
            guard method.gradient == .teacherForced else {
                throw TrainingError.unsupportedSettings("local search trains on backward paths, which "
                    + "a pathwise objective (\(name)) cannot use; choose tb or vargrad")
            }
            buffer = ReplayBuffer(capacity: ls.bufferSize, dimension: target.dimension, rankWeight: ls.rankWeight)
            localSearchBuffer = buffer
        }
        if method.prior {
            guard settings.localSearch == nil else {
                throw TrainingError.unsupportedSettings("objective=\(name) scores on-policy paths under its prior; local search "
                    + "replays backward paths the prior does not score; use local_search=false")
            }
            guard !settings.langevin else {
                throw TrainingError.unsupportedSettings("objective=\(name) with langevin=true would steer by the reward's score "
                    + "during training but by the posterior's in evaluation; use langevin=false")
            }
        }
        if let alpha = settings.teacherAlpha {
            guard method.gradient == .teacherForced, method.paths == .onPolicy, !method.prior, settings.localSearch == nil else {
                throw TrainingError.unsupportedSettings("teacher=true trains objective=\(name) every other iteration on backward "
                    + "paths from the Teacher's samples: it needs an off-policy objective on its own paths (tb, vargrad, lv-baseline, "
                    + "db, subtb, fl-subtb) "
                    + "and no local search")
            }
            var rng = Xoshiro256(seed: settings.seed, stream: 1 << 55)
            teacher = AdaptiveTeacher(sampler: sampler, hidden: settings.hidden, learningRate: settings.optimizer.learningRate,
                                      alpha: alpha, capacity: min(100 * settings.batchSize, 100_000), rankWeight: 0.01, rng: &rng)
        }
        self.prior = try Self.attach(prior, to: network, sampler: sampler, needed: method.prior && training)
        // RTB fine-tunes the prior: the policy, and so a weight average, starts from its weights.
        if let prior { network.parameters.values = prior.network.parameters.values }
        networkOptimizer = settings.optimizer.networkChain(for: network.parameters,
                                                           slotRates: network.flowSlots.map { ($0, settings.flowLearningRate) })
        objectiveOptimizer = OptimizerChain(store: objective.parameters, learningRate: settings.scalarLearningRate)
        self.data = try Self.check(data, for: target, needed: method.paths == .data && training)
    }

    /// The prior's network and a sampler that scores paths under it, after checking that it matches the policy.
    private static func attach(_ prior: Prior?, to network: DriftNetwork, sampler: PathSampler, needed: Bool) throws
        -> (network: DriftNetwork, sampler: PathSampler)? {
        guard needed else { return nil }
        guard let prior else { throw TrainingError.unsupportedSettings("objective=rtb needs prior=RUN.h5 (a trained diffusion) and reward=TARGET (log r)") }
        let p = prior.network
        let differences = [("dimension", p.dimension, network.dimension), ("hidden", p.hidden, network.hidden),
                           ("langevin", p.langevin ? 1 : 0, network.langevin ? 1 : 0),
                           ("parameters (a flow head or learned variance)", p.parameters.values.count, network.parameters.values.count)]
            .filter { $0.1 != $0.2 }
        if let (what, prior, policy) = differences.first {
            throw TrainingError.unsupportedSettings("the prior's network differs from this run's in \(what) (\(prior) against "
                + "\(policy)); train the prior with the same hidden, langevin and learned_variance and a method without a flow "
                + "head (mle, tb)")
        }
        guard prior.reference.description == sampler.process.reference.description else {
            throw TrainingError.unsupportedSettings("the prior was trained on the reference \(prior.reference), this run uses "
                + "\(sampler.process.reference); set reference, sigma2, prior_std, max_diffusion and noise_scale to match")
        }
        return (p, PathSampler(target: sampler.target, process: sampler.process, threads: sampler.threads))
    }

    /// The data rows of a data-driven method, checked against the target; nil needs the target's exact sampler.
    private static func check(_ data: Matrix?, for target: any Target, needed: Bool) throws -> Matrix? {
        guard needed else { return nil }
        guard let data else {
            guard target.hasExactSampler else {
                throw TrainingError.unsupportedSettings("objective=mle with data=exact needs a target with an exact sampler; "
                    + "give data=FILE.h5[:DATASET]")
            }
            return nil
        }
        guard data.cols == target.dimension, data.rows > 0 else {
            throw TrainingError.unsupportedSettings("the data have \(data.rows) rows of \(data.cols) coordinates; "
                + "the target \(target.name) needs rows of \(target.dimension)")
        }
        return data
    }

    /// `lr_schedule=plateau` for paths: an epoch is `log_every` iterations, its loss their mean; after `lr_patience`
    /// epochs without a lower one every rate is multiplied by `lr_factor`.
    private func updatePlateau(_ loss: Double) {
        plateau.epochLossSum += loss
        plateau.epochLossCount += 1
        guard iteration % settings.plateauEpoch == 0 else { return }
        let mean = plateau.epochLossSum / Double(plateau.epochLossCount)
        (plateau.epochLossSum, plateau.epochLossCount) = (0, 0)
        if plateau.endEpoch(loss: mean, patience: settings.optimizer.plateauPatience) {
            networkOptimizer.cut(by: settings.optimizer.plateauFactor)
            objectiveOptimizer.cut(by: settings.optimizer.plateauFactor)
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
        guard settings.explorationAnneal, settings.iterations > 0 else { return settings.exploration }
        return settings.exploration * max(0, 1 - Float(iteration) / Float(settings.iterations))
    }

    /// One iteration: sample paths, evaluate the objective, back-propagate, step both optimisers. Does not check
    /// for divergence or log the point (`advance` and `train` do).
    @discardableResult
    public func step() throws -> ObjectiveOutput {
        guard canTrain else { throw TrainingError.unsupportedSettings("this trainer was restored for evaluation; restore it for training") }
        let start = DispatchTime.now().uptimeNanoseconds
        let context = "iteration \(iteration + 1)"
        if settings.grid != .uniform {
            sampler.process.grid = settings.grid.grid(steps: settings.steps, seed: settings.seed, iteration: iteration)
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
        // Gradients beyond 10¹⁵ overflow Adam's float32 second moment (g² > 3.4·10³⁸) into a checkpoint that cannot
        // be evaluated or resumed: stop here, with the run file as it was.
        guard Self.bounded(network.parameters.gradients) && Self.bounded(objective.parameters.gradients) else {
            throw TrainingError.diverged(iteration: iteration + 1, target: target.name, what: "gradient")
        }
        let factor = settings.optimizer.factor(iteration: iteration)
        networkOptimizer.step(&network.parameters, factor: factor)
        objectiveOptimizer.step(&objective.parameters, factor: factor)
        objective.parameters.zeroGradients()
        if teacher != nil {
            let logZ = out.logZEstimate
            try teacher!.train(terminal: batch.terminalStates, logReward: batch.logReward, residuals: batch.logWeights.map { $0 - logZ },
                               process: sampler.process, factor: factor, iteration: iteration + 1, seed: settings.seed,
                               stream: UInt64(iteration) | 1 << 50, context: context + " (teacher)")
            budget.energy += settings.batchSize  // log R at the ends of the Teacher's backward paths
        }
        iteration += 1
        if settings.optimizer.schedule == .plateau { updatePlateau(out.loss) }
        // log R(x_T) for every path (with ∇log R for pathwise losses: one call), and at x_1…x_{T−1} for forward-looking
        // flows without the Langevin term; ∇log R at every step with the Langevin term.
        budget.energy += settings.batchSize * ((sampler.forwardLooking && !network.langevin ? settings.steps : 1) - (out.pathwise == nil ? 0 : 1))
        budget.gradient += settings.batchSize * ((network.langevin ? settings.steps : 0) + (out.pathwise == nil ? 0 : 1))
        seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return out
    }

    /// The paths of this iteration: on-policy (with exploration), or — every other iteration with local search —
    /// Brownian-bridge paths back from states that local search accepted (Sendera et al. 2024). On-policy terminal
    /// states feed one buffer; every `ls_every` iterations a MALA cycle starts from states replayed from it and
    /// puts the states it accepts into the second buffer, which the backward iterations replay.
    private func sampleBatch(context: String) throws -> TrajectoryBatch {
        let stream = UInt64(iteration)
        if settings.method.paths == .data { return try dataBatch(stream: stream, context: context) }
        if teacher != nil && iteration % 2 == 1 { return try teacherBatch(stream: stream, context: context) }
        guard var onPolicy = buffer, var searched = localSearchBuffer, let ls = settings.localSearch else {
            var batch = try sampler.sampleForward(network, batchSize: settings.batchSize, exploration: currentExploration,
                                                  seed: settings.seed, stream: stream, context: context)
            if let prior {
                prior.sampler.process = sampler.process  // same (possibly random) grid
                batch.priorLogForward = try prior.sampler.teacherForced(prior.network, states: batch, context: context).logForward
                budget.energy += settings.batchSize
            }
            return batch
        }
        defer { buffer = onPolicy; localSearchBuffer = searched }
        var rng = Xoshiro256(seed: settings.seed, stream: 1 << 46, stream)
        if iteration > 0 && iteration % ls.every == 0 && onPolicy.count > 0 {
            let search = LocalSearch(ls)
            let found = try search.run(from: onPolicy.sample(settings.batchSize, rng: &rng), target: target, rng: &rng)
            searched.add(found.states, logRewards: found.logRewards)
            budget.gradient += found.gradientEvaluations
        }
        if iteration % 2 == 1 {
            let replay = searched.count > 0 ? searched : onPolicy
            return try sampler.sampleBackward(network, terminal: replay.sample(settings.batchSize, rng: &rng), seed: settings.seed,
                                              stream: stream | 1 << 48, context: context)
        }
        let batch = try sampler.sampleForward(network, batchSize: settings.batchSize, exploration: currentExploration,
                                              seed: settings.seed, stream: stream, context: context)
        onPolicy.add(batch.terminalStates, logRewards: batch.logReward)
        return batch
    }

    /// Bridge paths back from a batch of data: fresh exact samples, or rows drawn with replacement from `data`.
    private func dataBatch(stream: UInt64, context: String) throws -> TrajectoryBatch {
        var rng = Xoshiro256(seed: settings.seed, stream: 1 << 47, stream)
        let terminal: Matrix
        if let data {
            var rows = Matrix(rows: settings.batchSize, cols: data.cols)
            for r in 0..<settings.batchSize {
                let source = Int(rng.next() % UInt64(data.rows))
                for c in 0..<data.cols { rows[r, c] = data[source, c] }
            }
            terminal = rows
        } else {
            terminal = target.exactSamples(count: settings.batchSize, rng: &rng)!
        }
        return try sampler.sampleBackward(network, terminal: terminal, seed: settings.seed, stream: stream | 1 << 48, context: context)
    }

    /// The student's backward paths from Teacher samples replayed by the student's loss there; every fourth iteration
    /// (and while the buffer is empty) the Teacher first proposes a fresh batch, scored by the student.
    private func teacherBatch(stream: UInt64, context: String) throws -> TrajectoryBatch {
        teacher!.follow(sampler.process)
        if iteration % 4 == 1 || teacher!.buffer.count == 0 {
            let proposals = try teacher!.propose(count: settings.batchSize, seed: settings.seed, stream: stream | 1 << 51, context: context)
            let scored = try sampler.sampleBackward(network, terminal: proposals, seed: settings.seed, stream: stream | 1 << 52, context: context)
            var probe = objective  // the student's log Z now, without touching its gradients
            let logZ = probe.evaluate(scored).logZEstimate
            teacher!.buffer.add(proposals, logRewards: AdaptiveTeacher.studentLoss(residuals: scored.logWeights.map { $0 - logZ }))
            budget.energy += 2 * settings.batchSize
        }
        var rng = Xoshiro256(seed: settings.seed, stream: 1 << 53, stream)
        return try sampler.sampleBackward(network, terminal: teacher!.buffer.sample(settings.batchSize, rng: &rng),
                                          seed: settings.seed, stream: stream | 1 << 54, context: context)
    }

    /// Stops on divergence: a non-finite loss, log Z estimate or parameter.
    /// - Throws: `TrainingError.diverged` naming what diverged.
    public func checkFinite(_ out: ObjectiveOutput) throws {
        let what = !out.loss.isFinite ? "loss \(out.loss)" : !out.logZEstimate.isFinite ? "log Z estimate \(out.logZEstimate)"
            : !Self.bounded(network.parameters.values) ? "network parameters"
            : !Self.bounded(objective.parameters.values) ? "objective parameters (log Z or flows)" : nil
        if let what { throw TrainingError.diverged(iteration: iteration, target: target.name, what: what) }
    }

    /// Largest parameter magnitude a run may reach before it counts as diverged (lr = 1e30 makes weights of 10³⁰
    /// that are finite but meaningless; a log Z of 10⁸, from energies with a large constant, stays well below).
    static let parameterBound: Float = 1e15

    /// Whether every value is finite and at most `parameterBound` in magnitude.
    public static func bounded(_ values: [Float]) -> Bool { values.allSatisfy { abs($0) <= parameterBound } }

    /// Parameters, optimiser states and counters.
    public var state: State {
        State(network: network.parameters, networkOptimizer: networkOptimizer, objective: objective.parameters,
                   objectiveOptimizer: objectiveOptimizer, plateau: plateau, iteration: iteration, budget: budget,
                   seconds: seconds, buffer: buffer, localSearchBuffer: localSearchBuffer, teacher: teacher?.snapshot)
    }

    /// Restores a checkpoint of a run with the same configuration.
    public func restore(_ c: State) throws {
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
        if let restored = c.teacher { try teacher?.restore(restored) }
        seconds = c.seconds
    }
}

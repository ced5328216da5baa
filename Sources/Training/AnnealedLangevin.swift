import Foundation
import Numerics
import Densities
import NeuralSDE

/// Annealed Langevin samplers on a learned geometric path π_k ∝ p₀^{1−β_k}·R^{β_k}, p₀ = N(0, s²I), k = 0 … K:
/// ULA (Thin et al. 2021), MCD (Doucet et al. 2022) and CMCD (Vargas et al. 2024), as in the Beyond-ELBOs benchmark
/// (Blessing et al. 2024, BENCHMARK-TASKS.md §2.3). With G_k = ∇log π_k and a control network u(x, t):
///
/// - forward  F_k(x_{k+1} | x_k) = N(x_k + δ_k·(G_k(x_k) + a_F·u(x_k, t_k)), 2δ_k·I),
/// - backward B_k(x_k | x_{k+1}) = N(x_{k+1} + δ_k·(G_{k+1}(x_{k+1}) − a_B·u(x_{k+1}, t_{k+1})), 2δ_k·I),
///
/// with (a_F, a_B) = (0, 0) for ULA, (0, 1) for MCD (a learned backward correction) and (1, 1) for CMCD. The log weight
/// log w = log R(x_K) + Σ log B_k − log p₀(x₀) − Σ log F_k has mean the ELBO. Learned: the schedule β (K softplus
/// increments, normalised; linear at initialisation), the step sizes δ_k = Δt·(softplus(c)·g(t_k))² with g the
/// cosine schedule (`maxDiffusion`, largest at the prior) and one learned coefficient c (softplus(c) = 1 at
/// initialisation), and u (a SiLU MLP on [x, time features] whose output layer starts at zero).
///
/// Losses: the reverse KL −mean(log w) through the reparameterised paths (`kl`), whose path derivative needs the
/// target's Hessian-vector products (by central differences of its gradient, `Tape.targetScore`), or the
/// log-variance loss Var(log w) on paths held fixed (`logVariance`, no second derivatives).
public struct AnnealedLangevin: Sendable {
    /// Where the control network enters.
    public enum Control: Sendable, Equatable {
        /// No network (ULA).
        case none
        /// The backward kernel only (MCD).
        case backward
        /// Both kernels, with opposite signs (CMCD).
        case both
    }

    /// The training loss.
    public enum Loss: Sendable, Equatable {
        /// Reverse KL through the reparameterised path.
        case kl
        /// Log-variance of log w over the batch, paths held fixed.
        case logVariance
    }

    public let control: Control
    /// The target's score enters the Langevin drifts clipped elementwise at ±10³ (the benchmark code's clipping of
    /// ∇log γ): a step past explicit Euler's stability limit (δ·‖∇²log R‖ > 2) then gives poor weights the optimiser
    /// can correct, not an overflow. The ELBO's log R(x_K) keeps its exact gradient.
    public static let scoreClip: Float = 1e3
    /// Temperatures K (Langevin steps).
    public let steps: Int
    /// s of p₀ = N(0, s²I).
    public let priorStd: Float
    /// The shape g of the step sizes (before the learned coefficient).
    public let schedule: NoiseSchedule
    /// The schedule logits (1 × K) and the step coefficient c (1 × 1).
    public var parameters = ParameterStore()
    let betaLogits: ParameterSlot, coefficient: ParameterSlot
    /// The control u(x, t) (nil for ULA).
    public var network: TimeConditionedMLP?

    /// A sampler with `steps` temperatures from N(0, `priorStd`²I), the cosine step shape up to `maxDiffusion`/2 and,
    /// unless `control` is `.none`, a network of two hidden layers of `hidden` units.
    public init(control: Control, dimension: Int, steps: Int, priorStd: Float, maxDiffusion: Float, hidden: Int,
                rng: inout Xoshiro256) {
        precondition(steps >= 1 && priorStd > 0 && maxDiffusion > 0, "AnnealedLangevin: steps, priorStd and maxDiffusion must be positive")
        (self.control, self.steps, self.priorStd) = (control, steps, priorStd)
        schedule = .cosine(minimum: 0.01, maximum: maxDiffusion)
        betaLogits = parameters.add("beta_logits", Matrix(rows: 1, cols: steps))
        coefficient = parameters.add("step_coefficient", Matrix(scalar: Float(log(M_E - 1))))
        if control != .none {
            var net = TimeConditionedMLP(dimension: dimension, hidden: hidden, depth: 2, rng: &rng)
            net.zeroOutputLayer()
            network = net
        }
    }

    /// The shape factor Δt·g(t_k)² of step k: the cosine schedule at the step's start, largest (max_diffusion/2) at
    /// the prior and falling toward its floor 0.005 at the target, as the benchmark arranges it for every method; the
    /// Langevin steps shrink where the target's curvature is largest (explicit Euler is unstable for δ·‖∇²log R‖ > 2).
    func stepFactor(_ k: Int) -> Float {
        let g = schedule.value(at: Float(k) / Float(steps))
        return g * g / Float(steps)
    }

    /// The current schedule β₀ … β_K and step sizes δ₀ … δ_{K−1}.
    public func currentSchedule() -> (beta: [Float], stepSizes: [Float]) {
        let tape = Tape(differentiable: false)
        let beta = tape.value(tape.annealingSchedule(tape.parameter(parameters, betaLogits))).storage
        let c = tape.parameter(parameters, coefficient)
        return (beta, (0..<steps).map { tape.value(tape.stepSize(c, factor: stepFactor($0))).scalar })
    }

    /// Simulated paths: their log weights (double), states x₀ … x_K, and the log weights recorded on the tape.
    public struct Paths {
        public var logWeights: [Double]
        public var states: [Matrix]
        var logWeight: Tape.Variable
        /// The terminal states x_K.
        public var samples: Matrix { states[states.count - 1] }
    }

    /// Simulates `count` forward paths on `tape`, drawing x₀ and the noise from `rng`, or scores the `given` states
    /// (K + 1 matrices of `count` rows). With `pathwise`, simulated states stay functions of the parameters (the KL
    /// loss); otherwise each state is recorded as a constant (log-variance loss, evaluation, given states).
    /// - Throws: `NonFiniteDensityError` for a non-finite log R or score, `TargetFailure` for what the target throws.
    public func simulate(_ target: any Target, count B: Int, rng: inout Xoshiro256, tape: Tape, pathwise: Bool,
                         given: [Matrix]? = nil, context: String = "evaluation",
                         failure: UnsafeMutablePointer<(any Error)?>) throws -> Paths {
        let d = target.dimension, K = steps, s2 = priorStd * priorStd
        precondition(given.map { $0.count == K + 1 && $0.allSatisfy { $0.rows == B && $0.cols == d } } ?? true,
                     "AnnealedLangevin.simulate: given states must be K + 1 matrices of B × d")
        let pathwise = pathwise && given == nil
        let beta = tape.annealingSchedule(tape.parameter(parameters, betaLogits))
        let c = tape.parameter(parameters, coefficient)
        var x0 = given?[0] ?? rng.gaussianMatrix(rows: B, cols: d)
        var logPrior = [Double](repeating: 0, count: B)
        for r in 0..<B {
            var squared = 0.0
            for k in 0..<d {
                if given == nil { x0[r, k] *= priorStd }
                squared += Double(x0[r, k]) * Double(x0[r, k])
            }
            logPrior[r] = -0.5 * squared / Double(s2) - Double(d) * (log(Double(priorStd)) + 0.5 * log(2 * Double.pi))
        }
        var logRatio = [Double](repeating: 0, count: B)  // Σ log B_k − log F_k
        var lastLogDensity = [Double](), lastGradient = Matrix(rows: 0, cols: 0)
        // G_k and u_k at state k (one target gradient and one network pass per state; none of the target at β₀ = 0).
        func stateTerms(_ k: Int, _ x: Tape.Variable) throws -> (drift: Tape.Variable, control: Tape.Variable?) {
            var score = tape.constant(Matrix(rows: B, cols: d))
            if k > 0 {
                let (logR, gradient) = try target.logDensityAndGradient(tape.value(x))
                if let r = (0..<B).first(where: { r in !logR[r].isFinite || (0..<d).contains { !gradient[r, $0].isFinite } }) {
                    throw NonFiniteDensityError(target: target.name, context: "\(context), annealed Langevin step \(k) (steps too "
                        + "large for the target? lower max_diffusion or prior_std)", row: r)
                }
                var clipped = gradient
                for k in clipped.storage.indices { clipped.storage[k] = min(max(clipped.storage[k], -Self.scoreClip), Self.scoreClip) }
                score = pathwise ? tape.targetScore(x, gradient: clipped, clip: Self.scoreClip, target: target, failure: failure)
                    : tape.constant(clipped)
                (lastLogDensity, lastGradient) = (logR, gradient)
            }
            let drift = tape.annealedScore(x, score: score, beta: tape.element(beta, k), priorVariance: s2)
            return (drift, network.map { $0.forward(tape, input: x, t: [Float](repeating: Float(k) / Float(K), count: B)) })
        }
        var x = tape.constant(x0), states = [x0]
        var here = try stateTerms(0, x)
        // −log p₀(x₀) per row, less its batch mean (a constant, as the offset of log R below: Float keeps the spread).
        let priorMean = logPrior.reduce(0, +) / Double(B)
        var logWeight = tape.constant(Matrix(rows: B, cols: 1, storage: logPrior.map { Float(priorMean - $0) }))
        for k in 0..<K {
            let delta = tape.stepSize(c, factor: stepFactor(k)), variance = tape.scale(delta, by: 2)
            let forwardDrift = control == .both ? tape.add(here.drift, here.control!) : here.drift
            let mean = tape.step(x, by: forwardDrift, size: delta)
            var next: Tape.Variable
            if let given {
                next = tape.constant(given[k + 1])
            } else {
                next = tape.addNoise(mean, rng.gaussianMatrix(rows: B, cols: d), size: delta)
                if !pathwise { next = tape.constant(tape.value(next)) }
            }
            states.append(tape.value(next))
            let logForward = tape.gaussianLogDensity(next, mean: mean, variance: variance)
            let there = try stateTerms(k + 1, next)
            let backwardDrift = control == .none ? there.drift : tape.subtract(there.drift, there.control!)
            let logBackward = tape.gaussianLogDensity(x, mean: tape.step(next, by: backwardDrift, size: delta), variance: variance)
            let f = tape.value(logForward).storage, b = tape.value(logBackward).storage
            for r in 0..<B { logRatio[r] += Double(b[r]) - Double(f[r]) }
            logWeight = tape.add(logWeight, tape.subtract(logBackward, logForward))
            (x, here) = (next, there)
        }
        let offset = lastLogDensity.reduce(0, +) / Double(B)
        logWeight = tape.add(logWeight, tape.targetLogDensity(x, logDensity: lastLogDensity, offset: offset, gradient: lastGradient))
        let logWeights = (0..<B).map { lastLogDensity[$0] + logRatio[$0] - logPrior[$0] }
        if let r = logWeights.firstIndex(where: { !$0.isFinite }) {
            throw NonFiniteDensityError(target: target.name, context: "\(context), annealed Langevin weights", row: r)
        }
        return Paths(logWeights: logWeights, states: states, logWeight: logWeight)
    }

    /// Sets the gradients of `parameters` and `network` to ∇loss on a fresh batch of `count` paths and returns the loss
    /// and the batch's log weights.
    public mutating func lossAndGradient(_ target: any Target, loss: Loss, count: Int, rng: inout Xoshiro256,
                                         context: String = "training") throws -> (loss: Double, logWeights: [Double]) {
        let tape = Tape()
        var failure: (any Error)?
        let paths = try simulate(target, count: count, rng: &rng, tape: tape, pathwise: loss == .kl, context: context, failure: &failure)
        let objective = loss == .kl ? tape.scale(tape.sum(paths.logWeight), by: -1 / Float(count)) : tape.batchVariance(paths.logWeight)
        tape.backward(from: objective)
        if let failure { throw failure }
        parameters.zeroGradients()
        network?.parameters.zeroGradients()
        for (slot, gradient) in tape.parameterGradients() {
            if slot == betaLogits || slot == coefficient { parameters.accumulateGradient(slot, gradient) } else { network!.parameters.accumulateGradient(slot, gradient) }
        }
        let value = loss == .kl ? -paths.logWeights.reduce(0, +) / Double(count) : Double(tape.value(objective).scalar)
        return (value, paths.logWeights)
    }

    /// `count` paths for evaluation (no gradients), simulated `chunk` rows at a time to bound the tape's memory.
    public func sample(_ target: any Target, count: Int, rng: inout Xoshiro256, chunk: Int = 256) throws -> (samples: Matrix, logWeights: [Double]) {
        var samples = Matrix(rows: count, cols: target.dimension), weights = [Double]()
        var failure: (any Error)?
        for start in stride(from: 0, to: count, by: chunk) {
            let n = min(chunk, count - start)
            let paths = try simulate(target, count: n, rng: &rng, tape: Tape(differentiable: false), pathwise: false, failure: &failure)
            samples.storage.replaceSubrange((start * target.dimension)..<((start + n) * target.dimension), with: paths.samples.storage)
            weights += paths.logWeights
        }
        return (samples, weights)
    }
}

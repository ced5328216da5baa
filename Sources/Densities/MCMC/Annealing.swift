import Foundation
import Numerics

/// One point of the geometric annealing path between p₀ = N(0, s²I) and a target γ:
/// log π_β(x) = (1 − β)·log p₀(x) + β·log γ(x), so that any MCMC kernel can move particles at an intermediate
/// temperature. p₀ is normalised, so π₀ = p₀ and π₁ = γ.
public struct AnnealedTarget: Target {
    /// The target γ at β = 1.
    public let base: any Target
    /// The inverse temperature β ∈ [0, 1].
    public let beta: Double
    /// The standard deviation s of p₀.
    public let initialStd: Double
    public var name: String { base.name }
    public var dimension: Int { base.dimension }
    public var particleStructure: ParticleStructure? { base.particleStructure }

    /// π_β between N(0, s²I) and `base`.
    public init(base: any Target, beta: Double, initialStd: Double) {
        (self.base, self.beta, self.initialStd) = (base, beta, initialStd)
    }

    /// log p₀(x) = −½‖x‖²/s² − d(log s + ½ log 2π) of row `r` of `x`.
    public static func logPrior(_ x: UnsafePointer<Float>, row r: Int, dimension d: Int, std s: Double) -> Double {
        var squared = 0.0
        for k in 0..<d { let v = Double(x[r * d + k]); squared += v * v }
        return -0.5 * squared / (s * s) - Double(d) * (log(s) + 0.5 * log(2 * Double.pi))
    }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) throws {
        let d = dimension
        try base.evaluate(x, count: count, logDensity: logDensity, gradient: gradient)
        let precision = Float(1 / (initialStd * initialStd)), b = Float(beta)
        for r in 0..<count {
            logDensity[r] = (1 - beta) * Self.logPrior(x, row: r, dimension: d, std: initialStd) + beta * logDensity[r]
            guard let gradient else { continue }
            for k in 0..<d { gradient[r * d + k] = (1 - b) * (-precision * x[r * d + k]) + b * gradient[r * d + k] }
        }
    }
}

/// Annealed importance sampling (Neal 2001) and sequential Monte Carlo samplers (Del Moral, Doucet & Jasra 2006) on
/// the geometric path π_β ∝ p₀^{1−β} γ^β with β_k = k/K, k = 0…K (or adaptive β_k, `conditionalESS`): particles start as exact draws from p₀ = N(0, s²I),
/// gain the incremental log weight (β_k − β_{k−1})·(log γ − log p₀) at each temperature and then take one HMC step
/// (`leapfrogSteps` leapfrog steps) that leaves π_{β_k} invariant. With a resampling threshold (SMC), particles are
/// resampled systematically when the normalised ESS falls below it and their weights reset; without (AIS), never.
///
/// log Ẑ = Σ_k log Σ_i W_i^{(k−1)}·exp(Δ_{k,i}) (normalised weights W): Ẑ is unbiased for Z on the linear schedule
/// without a mass matrix (the standard SMC estimator; for AIS, log mean exp of the final log weights), and
/// consistent when the schedule or the mass matrix is fitted to the particles. The HMC step size is ε₀ at β = 0,
/// ε_½ from β = ½ on, and linear in between (the Beyond-ELBOs convention). Cost: particles × (1 + K × moves × leapfrogSteps) gradient
/// evaluations.
public struct AnnealedImportanceSampler: Sendable {
    /// Temperatures K after β₀ = 0.
    public var temperatures: Int
    /// Standard deviation s of the initial Gaussian p₀.
    public var initialStd: Double
    /// HMC step size at β = 0 and from β = ½ on.
    public var stepSize: (start: Float, middle: Float)
    /// Leapfrog steps per HMC move, and HMC moves per temperature.
    public var leapfrogSteps: Int, moves = 1
    /// Whether HMC moves in coordinates scaled by the particles' weighted standard deviations (a diagonal mass
    /// matrix fitted at every temperature) or by the Cholesky factor of their weighted covariance (a full one), so
    /// that one step size suits coordinates of very different scales or strong correlations; each half of the
    /// particles moves with the matrix of the other half (`heldOutGroups`).
    public var preconditioning = HMCPreconditioning.none
    /// Normalised ESS below which SMC resamples; nil for AIS (no resampling).
    public var resamplingThreshold: Double?
    /// Adaptive tempering (Jasra et al. 2011; Zhou, Johansen & Aston 2016): the next β is the largest that keeps the
    /// conditional ESS of the incremental weights at this value, `temperatures` then bounding the count (the last one
    /// jumps to β = 1); nil for the linear schedule β_k = k/K.
    public var conditionalESS: Double?
    /// Whether the HMC step size adapts between temperatures toward acceptance 0.65 (log ε moves by the acceptance
    /// error of the previous move), instead of following the fixed ε₀ → ε_½ schedule.
    public var adaptStepSize = false

    /// A sampler with the given settings.
    /// - Precondition: K ≥ 1, s > 0, step sizes > 0, at least one leapfrog step, threshold in (0, 1].
    public init(temperatures: Int, initialStd: Double, stepSize: (start: Float, middle: Float), leapfrogSteps: Int,
                resamplingThreshold: Double?, conditionalESS: Double? = nil, adaptStepSize: Bool = false, moves: Int = 1,
                preconditioning: HMCPreconditioning = .none) {
        precondition(moves >= 1, "AnnealedImportanceSampler: at least one move per temperature")
        (self.moves, self.preconditioning) = (moves, preconditioning)
        precondition(conditionalESS.map { $0 > 0 && $0 < 1 } ?? true, "AnnealedImportanceSampler: conditional ESS in (0, 1)")
        (self.conditionalESS, self.adaptStepSize) = (conditionalESS, adaptStepSize)
        precondition(temperatures >= 1 && initialStd > 0 && stepSize.start > 0 && stepSize.middle > 0 && leapfrogSteps >= 1,
                     "AnnealedImportanceSampler: need K ≥ 1, s > 0, step sizes > 0 and a leapfrog step")
        precondition(resamplingThreshold.map { $0 > 0 && $0 <= 1 } ?? true, "AnnealedImportanceSampler: threshold in (0, 1]")
        (self.temperatures, self.initialStd, self.stepSize) = (temperatures, initialStd, stepSize)
        (self.leapfrogSteps, self.resamplingThreshold) = (leapfrogSteps, resamplingThreshold)
    }

    /// Particles part-way along the path.
    public struct State: Sendable {
        /// One particle per row, [n, d].
        public var positions: Matrix
        /// log γ(x) − log p₀(x) at each particle (double), [n]: the cached log density ratio the weights grow by.
        public var logRatio: [Double]
        /// ∇log γ(x) − ∇log p₀(x) at each particle, [n, d].
        public var ratioGradient: Matrix
        /// Log weights since the last resampling, [n].
        public var logWeights: [Double]
        /// log Ẑ of the temperatures done so far.
        public var logZ = 0.0
        /// Σ_k Σ_i W_i^{(k−1)}·Δ_{k,i}: the weighted incremental log weights, a lower bound on log Ẑ (Jensen per step).
        public var weightedIncrements = 0.0
        /// Temperatures done, k, and the current inverse temperature β_k.
        public var temperature = 0, beta = 0.0
        /// The HMC step size of the next move when it adapts (nil: the fixed schedule's).
        public var adaptedStepSize: Float?
        /// Whether β has reached 1.
        public var isDone: Bool { beta >= 1 }
        /// Resampling events so far, and HMC moves accepted / proposed.
        public var resamplings = 0, accepted = 0, proposed = 0
    }

    /// The inverse temperature after β in `state`: (k + 1)/K on the linear schedule; with adaptive tempering the
    /// largest β′ ≤ 1 whose incremental weights keep the conditional ESS (Σ W_i v_i)²/Σ W_i v_i², v_i = e^{(β′−β) r_i},
    /// at `conditionalESS` (bisection), and 1 at the last allowed temperature.
    public func nextBeta(_ state: State) -> Double {
        guard let target = conditionalESS else { return Double(state.temperature + 1) / Double(temperatures) }
        if state.temperature + 1 >= temperatures { return 1 }
        let top = state.logWeights.max()!, w = state.logWeights.map { exp($0 - top) }, total = w.reduce(0, +)
        let finite = state.logRatio.map { $0.isFinite ? $0 : -Double.infinity }
        func cess(_ delta: Double) -> Double {
            let r = finite.map { delta * $0 }, shift = r.max()!
            guard shift.isFinite else { return 0 }
            var first = 0.0, second = 0.0
            for i in w.indices { let v = exp(r[i] - shift); first += w[i] / total * v; second += w[i] / total * v * v }
            return first * first / second
        }
        var low = 0.0, high = 1 - state.beta
        if cess(high) >= target { return 1 }
        for _ in 0..<60 { let mid = (low + high) / 2; if cess(mid) >= target { low = mid } else { high = mid } }
        return min(1, state.beta + max(low, 1e-9))
    }

    /// The HMC step size at β.
    public func stepSize(at beta: Double) -> Float {
        beta >= 0.5 ? stepSize.middle : stepSize.start + Float(2 * beta) * (stepSize.middle - stepSize.start)
    }

    /// `count` particles drawn from p₀ with γ evaluated at them (count gradient evaluations).
    /// - Throws: what the target throws.
    public func start(target: any Target, count: Int, rng: inout Xoshiro256) throws -> State {
        var x = rng.gaussianMatrix(rows: count, cols: target.dimension)
        for k in x.storage.indices { x.storage[k] *= Float(initialStd) }
        let (logGamma, gradient) = try target.logDensityAndGradient(x)
        var state = State(positions: x, logRatio: logGamma, ratioGradient: gradient,
                          logWeights: [Double](repeating: 0, count: count))
        let d = target.dimension, precision = Float(1 / (initialStd * initialStd))
        x.storage.withUnsafeBufferPointer { X in
            for r in 0..<count {
                state.logRatio[r] -= AnnealedTarget.logPrior(X.baseAddress!, row: r, dimension: d, std: initialStd)
                for k in 0..<d { state.ratioGradient[r, k] += precision * x[r, k] }
            }
        }
        return state
    }

    /// Moves every particle from β_k to β_{k+1}: reweighting, resampling (SMC, when the ESS is low) and one HMC move.
    /// - Throws: `NonFiniteDensityError` when every weight is zero, what the target throws.
    public func advance(_ state: inout State, target: any Target, rng: inout Xoshiro256) throws {
        precondition(!state.isDone, "AnnealedImportanceSampler.advance: β is already 1")
        let n = state.positions.rows
        let next = nextBeta(state), delta = next - state.beta
        let before = LogSpace.sumExp(state.logWeights)
        for i in 0..<n {
            let increment = delta * state.logRatio[i]
            state.weightedIncrements += exp(state.logWeights[i] - before) * (increment.isFinite ? increment : 0)
            state.logWeights[i] += state.logRatio[i].isNaN ? -.infinity : increment
        }
        let after = LogSpace.sumExp(state.logWeights)
        guard after.isFinite else { throw NonFiniteDensityError(target: target.name, context: "annealing at β = \(next)", row: 0) }
        state.logZ += after - before
        // Not at β = 1: the final weights are the estimate's, and resampling them away would only add noise.
        if let threshold = resamplingThreshold, next < 1, LogSpace.effectiveSampleSize(state.logWeights) < threshold {
            let picks = Self.systematicResample(logWeights: state.logWeights, rng: &rng)
            state.positions = state.positions.rows(picks)
            state.ratioGradient = state.ratioGradient.rows(picks)
            state.logRatio = picks.map { state.logRatio[$0] }
            state.logWeights = [Double](repeating: 0, count: n)
            state.resamplings += 1
        }
        for _ in 0..<moves { try move(&state, target: target, beta: next, rng: &rng) }
        state.temperature += 1
        state.beta = next
    }

    /// One HMC step of every particle on π_β. Preconditioned, the particles move as two groups, one after the other,
    /// each in the coordinates fitted to the other group as it stands (`heldOutGroups`).
    private func move(_ state: inout State, target: any Target, beta: Double, rng: inout Xoshiro256) throws {
        let n = state.positions.rows
        let epsilon = adaptStepSize ? state.adaptedStepSize ?? stepSize.start : stepSize(at: beta)
        var accepted = 0
        for (rows, fitted) in preconditioning == .none ? [(0..<n, 0..<n)] : Self.heldOutGroups(state) {
            let map = preconditioning == .none ? nil
                : LinearPreconditioner(state.positions.rows(Array(fitted)), logWeights: Array(state.logWeights[fitted]),
                                       full: preconditioning == .full)
            accepted += try move(&state, rows: rows, map: map, target: target, beta: beta, stepSize: epsilon, rng: &rng)
        }
        if adaptStepSize { state.adaptedStepSize = epsilon * Float(exp(2 * (Double(accepted) / Double(n) - 0.65))) }
        state.accepted += accepted
        state.proposed += n
    }

    /// One HMC step on π_β of the particles in `rows`, in the coordinates of `map` (nil: x itself); returns how many
    /// were accepted. Accepted particles' cached ratio is recovered from π_β's fresh values.
    private func move(_ state: inout State, rows: Range<Int>, map: LinearPreconditioner?, target: any Target, beta: Double,
                      stepSize epsilon: Float, rng: inout Xoshiro256) throws -> Int {
        let m = rows.count, d = state.positions.cols, s = initialStd, b = Float(beta)
        let precision = Float(1 / (s * s))
        let x = state.positions.rows(Array(rows)), ratioGradient = state.ratioGradient.rows(Array(rows))
        var chains = ChainState(positions: x, logDensity: [Double](repeating: 0, count: m), gradient: ratioGradient)
        x.storage.withUnsafeBufferPointer { X in
            for i in 0..<m {
                let logPrior = AnnealedTarget.logPrior(X.baseAddress!, row: i, dimension: d, std: s)
                chains.logDensity[i] = logPrior + beta * state.logRatio[rows.lowerBound + i]
                for k in 0..<d { chains.gradient[i, k] = -precision * x[i, k] + b * ratioGradient[i, k] }
            }
        }
        let annealed = AnnealedTarget(base: target, beta: beta, initialStd: s)
        var transformed: LinearPreconditioner.Transformed?
        if let map {  // to z = L⁻¹(x − μ); ∇_z = Lᵀ∇_x
            chains.positions = map.latent(chains.positions)
            chains.gradient.storage.withUnsafeMutableBufferPointer { map.latentGradient($0.baseAddress!, count: m) }
            transformed = LinearPreconditioner.Transformed(base: annealed, map: map)
        }
        // In whitened coordinates every direction has the same frequency, so a fixed step makes every trajectory
        // turn by the same angle and the chains barely mix at some steps (HMC's periodicity; Neal 2011, §5.4.2.2):
        // each chain's step is drawn from ε·U(0.5, 1.5), independently of its state, which keeps π_β invariant.
        let steps = preconditioning == .full ? (0..<m).map { _ in epsilon * (0.5 + rng.nextUniform()) }
                                             : [Float](repeating: epsilon, count: m)
        var (moved, info) = try HMC(leapfrogSteps: leapfrogSteps).step(chains, target: transformed ?? annealed,
                                                                        stepSizes: steps, rng: &rng)
        if let transformed {  // the proposals in x, with the gradient π_β gave there (only accepted rows are read)
            moved.positions = Matrix(rows: m, cols: d, storage: transformed.last.positions)
            moved.gradient = Matrix(rows: m, cols: d, storage: transformed.last.gradient)
        }
        moved.positions.storage.withUnsafeBufferPointer { X in
            for i in 0..<m where info.accepted[i] {
                let r = rows.lowerBound + i
                let logPrior = AnnealedTarget.logPrior(X.baseAddress!, row: i, dimension: d, std: s)
                state.logRatio[r] = (moved.logDensity[i] - logPrior) / beta
                for k in 0..<d {
                    state.positions[r, k] = moved.positions[i, k]
                    state.ratioGradient[r, k] = (moved.gradient[i, k] + precision * moved.positions[i, k]) / b
                }
            }
        }
        return info.accepted.filter { $0 }.count
    }

    /// The groups a preconditioned move takes in turn, each with the rows its mass matrix is fitted to: the rows
    /// before a split near n/2, fitted to those after it, then the rows after it, fitted to the first group as just
    /// moved. Each half-move leaves π_β invariant given the other group, so the sweep does (a Gibbs scan). A matrix
    /// fitted to a cloud that holds the moving particle makes its move depend on its own position: log Ẑ read 0.2
    /// too high on Ionosphere with 2000 particles; two groups moved at once, each with the other's matrix from before
    /// the move, read 5 nats too high on a 35-D Gaussian with 60 (Results/README, "Issue 23, session 21").
    /// Systematic resampling leaves an ancestor's copies at adjacent rows, and the split falls between two distinct
    /// rows, so no particle's copy shapes its matrix right after resampling. With fewer than four particles, no
    /// such split, or a group without weight, one group of every row, fitted to all of them.
    static func heldOutGroups(_ state: State) -> [(rows: Range<Int>, fitted: Range<Int>)] {
        let n = state.positions.rows, d = state.positions.cols
        let whole = [(rows: 0..<n, fitted: 0..<n)]
        guard n >= 4 else { return whole }
        func distinct(_ h: Int) -> Bool { (0..<d).contains { state.positions[h - 1, $0] != state.positions[h, $0] } }
        var split: Int?
        for offset in 0..<(n / 2) where split == nil {  // n/2, n/2 − 1, n/2 + 1, …
            split = [n / 2 - offset, n / 2 + offset].first { $0 >= 2 && $0 <= n - 2 && distinct($0) }
        }
        guard let h = split else { return whole }
        let weighted = { (rows: Range<Int>) in state.logWeights[rows].contains { $0 > -.infinity } }
        guard weighted(0..<h), weighted(h..<n) else { return whole }
        return [(0..<h, h..<n), (h..<n, 0..<h)]
    }

    /// Systematic resampling (Kitagawa 1996): n indices with one uniform offset, each index i repeated about
    /// n·W_i times.
    public static func systematicResample(logWeights: [Double], rng: inout Xoshiro256) -> [Int] {
        let n = logWeights.count, top = logWeights.max()!
        let w = logWeights.map { exp($0 - top) }, total = w.reduce(0, +)
        let offset = Double(rng.nextUniform())
        var picks: [Int] = [], cumulative = 0.0, i = 0
        picks.reserveCapacity(n)
        for j in 0..<n {
            let u = (Double(j) + offset) / Double(n) * total
            while i < n - 1 && cumulative + w[i] < u { cumulative += w[i]; i += 1 }
            picks.append(i)
        }
        return picks
    }
}

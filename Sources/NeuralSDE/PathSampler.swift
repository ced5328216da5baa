import Foundation
import Numerics
import Densities

/// Simulates and scores paths of a `DriftNetwork` policy for one target, and back-propagates per-step
/// log-probability cotangents into the network.
///
/// Paths are split into contiguous row chunks, one per thread; every path has its own random stream
/// (seed, stream, row), so samples do not depend on the thread count. The most recent batch's network
/// activations stay cached for `accumulateGradients`.
public final class PathSampler {
    /// The density being sampled.
    public let target: any Target
    /// Noise and time grid. The grid may change between batches (random training grids) as long as the
    /// number of steps stays the same for `accumulateGradients` of the latest batch.
    public var process: DiffusionProcess
    /// Worker threads (BLAS itself should run single-threaded).
    public let threads: Int
    /// Whether log-flows are forward-looking (FL-SubTB): the head's output is added to the fixed baseline
    /// (1 − t)·log N(x; 0, σ²t) + t·log R(x) at every state after x₀, which costs one log R per state.
    public var forwardLooking = false
    /// Whether log R(x_T) is evaluated together with ∇log R(x_T), kept in the batch's `terminalScore`: pathwise
    /// gradients need it at the same points, and one call is cheaper than a value call then a gradient call (a Python
    /// or plug-in energy pays its overhead per call).
    public var scoresTerminal = false

    let cache = ActivationCache()
    /// Network outputs of the latest batch, `outputWidth` per row (drift, then variance outputs if learned).
    var outputs: [Float] = []
    var scores: [Float] = []
    var conditioning: TimeConditioning?
    let scratch = ScratchSpace()
    var cachedShape: (batch: Int, steps: Int)?

    /// A sampler for `target` under `process`, using `threads` worker threads.
    public init(target: any Target, process: DiffusionProcess, threads: Int = 1) {
        self.target = target
        self.process = process
        self.threads = max(1, threads)
    }

    /// Simulates `batchSize` forward paths from x₀ = 0. `exploration` ε adds ε² to every step's variance while
    /// sampling; log p_F is still scored under the policy's own variance (off-policy exploration).
    public func sampleForward(_ net: DriftNetwork, batchSize: Int, exploration: Float = 0, seed: UInt64,
                              stream: UInt64, context: String) throws -> TrajectoryBatch {
        var batch = TrajectoryBatch(batchSize: batchSize, steps: process.grid.steps, dimension: net.dimension, flows: net.hasFlow)
        let d = net.dimension, B = batchSize
        // One generator per path, advanced step by step; each thread touches only its own paths' generators.
        let generators = UnsafeMutablePointer<Xoshiro256>.allocate(capacity: B)
        defer { generators.deinitialize(count: B); generators.deallocate() }
        for b in 0..<B { (generators + b).initialize(to: Xoshiro256(seed: seed, stream: stream, UInt64(b))) }
        let ow = net.outputWidth, learned = net.learnedVariance
        let kernels = process.kernels(), initialStd = process.initialVariance.squareRoot()
        if initialStd > 0 {  // x₀ ~ N(0, s²·I), the first draws of each path's stream
            batch.states.withUnsafeMutableBufferPointer { S in
                for b in 0..<B {
                    generators[b].fillGaussian(S.baseAddress! + b * d, count: d)
                    for c in 0..<d { S[b * d + c] *= initialStd }
                }
            }
        }
        try run(net, &batch, context: context) { i, rows, S, output in
            let k = kernels[i], variance = k.forwardVariance
            // A Dirac step stays deterministic: exploration noise there would move states its log p_F does not score.
            let explorationVariance = variance > 0 ? exploration * exploration : 0
            // Without a learned variance the step's standard deviation is one number: its square root is taken once.
            let std = (variance + explorationVariance).squareRoot()
            // The noise first, each path's from its own generator (eight paths in the lanes of a vector), then the step.
            Xoshiro256.fillGaussianRows(generators + rows.lowerBound, rows: rows.count, count: d,
                                        into: S + ((i + 1) * B + rows.lowerBound) * d, stride: d)
            for b in rows {
                // Per-row pointers: indexing from the batch's start inside the loop would check every sum for
                // overflow and keep the loop scalar.
                let x = UnsafePointer(S + (i * B + b) * d), next = S + ((i + 1) * B + b) * d, mu = output + (i * B + b) * ow
                if learned {
                    for c in 0..<d {
                        let v = variance * DriftNetwork.varianceScale(mu[d + c])
                        next[c] = k.decay * x[c] + k.driftScale * mu[c] + (v + explorationVariance).squareRoot() * next[c]
                    }
                } else {
                    for c in 0..<d { next[c] = k.decay * x[c] + k.driftScale * mu[c] + std * next[c] }
                }
            }
        }
        return batch
    }

    /// Simulates the reference's backward kernels from the given terminal states (rows of `terminal`) to x₀ (Brownian
    /// bridges to x₀ = 0 for Brownian motion) and scores the paths under both kernels (for EUBO and off-policy
    /// training from data or a replay buffer).
    public func sampleBackward(_ net: DriftNetwork, terminal: Matrix, seed: UInt64, stream: UInt64,
                               context: String) throws -> TrajectoryBatch {
        precondition(terminal.cols == net.dimension, "sampleBackward: terminal states have \(terminal.cols) coordinates")
        let B = terminal.rows, d = net.dimension, T = process.grid.steps
        var batch = TrajectoryBatch(batchSize: B, steps: T, dimension: d, flows: net.hasFlow)
        batch.states.replaceSubrange((T * B * d)..<((T + 1) * B * d), with: terminal.storage)
        let kernels = process.kernels()
        for b in 0..<B {
            var rng = Xoshiro256(seed: seed, stream: stream, UInt64(b))
            var noise = [Float](repeating: 0, count: d)
            for i in stride(from: T - 1, through: 0, by: -1) {
                let ratio = kernels[i].backwardRatio, std = kernels[i].backwardVariance.squareRoot()
                if std > 0 {
                    noise.withUnsafeMutableBufferPointer { rng.fillGaussian($0.baseAddress!, count: d) }
                } else if i == 0 && ratio == 0 {
                    break  // the bridge's Dirac at x₀ = 0, where the states already are
                } else {
                    for c in 0..<d { noise[c] = 0 }
                }
                let from = ((i + 1) * B + b) * d, to = (i * B + b) * d
                for c in 0..<d { batch.states[to + c] = batch.states[from + c] * ratio + std * noise[c] }
            }
        }
        try run(net, &batch, context: context, advance: nil)
        return batch
    }

    /// The transitions of `batch` (its states, e.g. sampled by another policy) scored under `net`: a copy of the batch
    /// with log p_F, log p_B and log R recomputed (RTB scores posterior paths under the prior this way).
    public func teacherForced(_ net: DriftNetwork, states batch: TrajectoryBatch, context: String) throws -> TrajectoryBatch {
        var copy = TrajectoryBatch(batchSize: batch.batchSize, steps: batch.steps, dimension: batch.dimension, flows: net.hasFlow)
        copy.states = batch.states
        try run(net, &copy, context: context, advance: nil)
        return copy
    }

    /// Evaluates drifts and log-probabilities step by step. With `advance`, state i+1 is generated from state i
    /// and the drift (forward sampling); without, all states are given (teacher forcing).
    private func run(_ net: DriftNetwork, _ batch: inout TrajectoryBatch, context: String,
                     advance: ((Int, Range<Int>, UnsafeMutablePointer<Float>, UnsafePointer<Float>) -> Void)?) throws {
        let B = batch.batchSize, T = batch.steps, d = batch.dimension, H = net.hidden, ow = net.outputWidth
        prepare(net, batch: B, steps: T)
        let tc = conditioning!
        let stepBias = tc.stepBiasValues.storage, scales = tc.langevinScaleValues
        var failures = [Int?](repeating: nil, count: threads)
        var thrown = [(any Error)?](repeating: nil, count: threads)
        let target = self.target, process = self.process, forwardLooking = forwardLooking && net.hasFlow
        let kernels = process.kernels(), brownianSigma2 = (process.reference as? BrownianReference)?.sigma2
        precondition(!forwardLooking || brownianSigma2 != nil, "forward-looking flows need the Brownian reference")
        net.parameters.values.withUnsafeBufferPointer { P in
        stepBias.withUnsafeBufferPointer { SB in
        batch.states.withUnsafeMutableBufferPointer { S in
        batch.logForward.withUnsafeMutableBufferPointer { LF in
        batch.logBackward.withUnsafeMutableBufferPointer { LB in
        batch.logFlow.withUnsafeMutableBufferPointer { FL in
        outputs.withUnsafeMutableBufferPointer { D in
        scores.withUnsafeMutableBufferPointer { G in
        failures.withUnsafeMutableBufferPointer { F in
        thrown.withUnsafeMutableBufferPointer { E in
            parallelChunks(B, parts: threads) { chunk, rows in
                let n = rows.count
                var logR = [Double](repeating: 0, count: n)
                for i in 0..<T {
                    let row = i * B + rows.lowerBound
                    let x = UnsafePointer(S.baseAddress! + row * d), mu = D.baseAddress! + row * ow
                    if scales != nil {
                        let g = G.baseAddress! + row * d
                        do { try target.evaluate(x, count: n, logDensity: &logR, gradient: g) } catch { E[chunk] = error; return }
                        for k in 0..<(n * d) where !g[k].isFinite { F[chunk] = F[chunk] ?? (rows.lowerBound + k / d) }
                        if F[chunk] != nil { return }
                        for k in 0..<(n * d) { g[k] = min(max(g[k], -DriftNetwork.scoreClip), DriftNetwork.scoreClip) }
                    } else if forwardLooking && i > 0 {
                        do { try target.evaluate(x, count: n, logDensity: &logR, gradient: nil) } catch { E[chunk] = error; return }
                    }
                    let flow = FL.baseAddress.map { $0 + row }
                    net.forwardBlock(parameters: P.baseAddress!, x: x, rows: n, stepBias: SB.baseAddress! + i * H,
                                     cache: self.cache, cacheRow: row, out: mu, flowOut: flow)
                    if forwardLooking && i > 0, let flow {
                        if let k = logR.firstIndex(where: { !$0.isFinite }) { F[chunk] = rows.lowerBound + k; return }
                        Self.addForwardLookingBaseline(flow, states: x, logReward: logR, rows: n, dimension: d,
                                                       time: process.grid.times[i], sigma2: brownianSigma2!)
                    }
                    // μ + NN₂(t)·clip(∇log R) with the Langevin term, μ + 0 without (which keeps −0 → +0 as before),
                    // clipped; one loop per case so that neither tests the case per value.
                    let clip = DriftNetwork.outputClip
                    if let s = scales?[i] {
                        for r in 0..<n {
                            let m = mu + r * ow, g = G.baseAddress! + (row + r) * d
                            for c in 0..<d { m[c] = min(max(m[c] + s * g[c], -clip), clip) }
                        }
                    } else {
                        for r in 0..<n {
                            let m = mu + r * ow
                            for c in 0..<d { m[c] = min(max(m[c] + 0, -clip), clip) }
                        }
                    }
                    advance?(i, rows, S.baseAddress!, UnsafePointer(D.baseAddress!))
                    Self.scoreStep(i, rows: rows, batch: B, dimension: d, kernel: kernels[i],
                                   initialVariance: i == 0 ? process.initialVariance : 0, network: net,
                                   states: S.baseAddress!, outputs: D.baseAddress!, logForward: LF.baseAddress!,
                                   logBackward: LB.baseAddress!)
                }
            }
        }}}}}}}}}}
        if let error = thrown.compactMap({ $0 }).first {
            throw TargetFailure(target: target.name, context: context, underlying: error)
        }
        if let row = failures.compactMap({ $0 }).first {
            throw NonFiniteDensityError(target: target.name, context: context, row: row)
        }
        do {
            if scoresTerminal {
                (batch.logReward, batch.terminalScore) = try target.logDensityAndGradient(batch.terminalStates)
            } else {
                batch.logReward = try target.logDensity(batch.terminalStates)
            }
        } catch {
            throw TargetFailure(target: target.name, context: context, underlying: error)
        }
        if let row = batch.logReward.firstIndex(where: { !$0.isFinite }) {
            throw NonFiniteDensityError(target: target.name, context: context, row: row)
        }
    }

    /// Adds (1 − t)·log N(x; 0, σ²t·I) + t·log R(x) to the log-flows of `rows` states at time t > 0.
    private static func addForwardLookingBaseline(_ flow: UnsafeMutablePointer<Float>, states x: UnsafePointer<Float>,
                                                  logReward: [Double], rows n: Int, dimension d: Int, time t: Float,
                                                  sigma2: Float) {
        for k in 0..<n {
            var squared: Float = 0
            for c in 0..<d { squared += x[k * d + c] * x[k * d + c] }
            let prior = DiffusionProcess.gaussianLogDensity(squaredDistance: squared, variance: sigma2 * t, dimension: d)
            flow[k] += Float(Double((1 - t) * prior) + Double(t) * logReward[k])
        }
    }

    /// log p_F(x_{i+1} | x_i) and log p_B(x_i | x_{i+1}) for the given rows of step i; `outputs` holds the
    /// network's `outputWidth` values per row (drift, then log-variance outputs when learned). With
    /// `initialVariance` s² > 0 (step 0 of a reference with a Gaussian start), log N(x₀; 0, s²) joins log p_F.
    private static func scoreStep(_ i: Int, rows: Range<Int>, batch B: Int, dimension d: Int, kernel k: GaussianStep,
                                  initialVariance: Float, network: DriftNetwork, states S: UnsafePointer<Float>,
                                  outputs D: UnsafePointer<Float>, logForward LF: UnsafeMutablePointer<Float>,
                                  logBackward LB: UnsafeMutablePointer<Float>) {
        let ow = network.outputWidth, fv = k.forwardVariance, bv = k.backwardVariance, learned = network.learnedVariance
        let forwardNormaliser = DiffusionProcess.gaussianLogNormaliser(variance: fv, dimension: d)
        let backwardNormaliser = DiffusionProcess.gaussianLogNormaliser(variance: bv, dimension: d)
        for b in rows {
            let x = S + (i * B + b) * d, next = S + ((i + 1) * B + b) * d, mu = D + (i * B + b) * ow
            // The sums run in coordinate order; the forward and backward ones share a loop, so that two
            // independent additions overlap instead of each waiting for the previous one.
            var fwd: Float = 0, bwd: Float = 0, logScale: Float = 0
            if learned {
                for c in 0..<d {
                    let r = next[c] - k.decay * x[c] - k.driftScale * mu[c]
                    let s = DriftNetwork.logVarianceScale(mu[d + c])
                    fwd += r * r * expf(-s)
                    logScale += s
                    let q = x[c] - k.backwardRatio * next[c]
                    bwd += q * q
                }
            } else {
                for c in 0..<d {
                    let r = next[c] - k.decay * x[c] - k.driftScale * mu[c]
                    fwd += r * r
                    let q = x[c] - k.backwardRatio * next[c]
                    bwd += q * q
                }
            }
            LF[i * B + b] = fv == 0 ? 0
                : DiffusionProcess.gaussianLogDensity(squaredDistance: fwd, variance: fv, logNormaliser: forwardNormaliser) - 0.5 * logScale
            if initialVariance > 0 {
                var start: Float = 0
                for c in 0..<d { start += x[c] * x[c] }
                LF[i * B + b] += DiffusionProcess.gaussianLogDensity(squaredDistance: start, variance: initialVariance, dimension: d)
            }
            LB[i * B + b] = bv == 0 ? 0
                : DiffusionProcess.gaussianLogDensity(squaredDistance: bwd, variance: bv, logNormaliser: backwardNormaliser)
        }
    }

    private func prepare(_ net: DriftNetwork, batch B: Int, steps T: Int) {
        conditioning = net.timeConditioning(process.grid)
        cache.reserve(rows: B * T, width: net.hidden)
        let size = B * T * net.dimension
        if outputs.count != B * T * net.outputWidth { outputs = [Float](repeating: 0, count: B * T * net.outputWidth) }
        if scores.count != (net.langevin ? size : 0) { scores = [Float](repeating: 0, count: net.langevin ? size : 0) }
        cachedShape = (B, T)
    }
}

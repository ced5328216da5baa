import Foundation
import Numerics

extension PathSampler {
    /// Adds the `blocks` equal consecutive blocks of `partial` (one per worker thread) to `total`, in block order,
    /// so the reduction is reproducible for a fixed thread count.
    static func addBlocks(_ partial: [Float], blocks: Int, into total: inout [Float]) {
        let n = total.count
        for k in 0..<blocks { for j in 0..<n { total[j] += partial[k * n + j] } }
    }

    /// Rows back-propagated together: large enough for efficient GEMMs, small enough to stay in L2.
    public static let tileRows = 600

    /// Adds ∂L/∂θ to `net.parameters.gradients`, given ∂L/∂log p_F(x_{i+1} | x_i) for every transition of
    /// the most recent batch this sampler produced (`logForwardCotangent`, T·B entries, step-major), and
    /// ∂L/∂log F(x_i) for its log-flows (`logFlowCotangent`, same layout) when the network has a flow head.
    ///
    /// States are treated as data (off-policy objectives): only the drift inside log p_F depends on θ, with
    /// ∂ log p_F/∂μ = c·(x_{i+1} − a·x_i − c·μ)/v for the step's kernel (a, c, v) (`GaussianStep`). Steps are split across threads; each thread back-propagates
    /// its steps in tiles of about `tileRows` rows, so the cotangent buffers stay in cache (the pass is
    /// memory-bound otherwise), and the per-thread gradients are summed in thread order.
    public func accumulateGradients(_ net: inout DriftNetwork, batch: TrajectoryBatch, logForwardCotangent: [Float],
                                    logFlowCotangent: [Float]? = nil) {
        let B = batch.batchSize, T = batch.steps, d = batch.dimension, H = net.hidden, ow = net.outputWidth
        precondition(cachedShape.map { $0 == (B, T) } ?? false, "accumulateGradients: batch is not the sampler's latest")
        precondition(logForwardCotangent.count == B * T, "accumulateGradients: need \(B * T) cotangents")
        precondition(logFlowCotangent.map { $0.count == B * T && net.hasFlow } ?? true,
                     "accumulateGradients: flow cotangents need a flow head and \(B * T) entries")
        let flowCotangent = logFlowCotangent ?? []
        let count = net.parameters.values.count
        let parts = min(threads, T)
        var partial = [Float](repeating: 0, count: parts * count)
        var dStepBias = Matrix(rows: T, cols: H)
        var dScale = [Float](repeating: 0, count: T)
        let kernels = process.kernels(), langevin = net.langevin, learned = net.learnedVariance
        let tileSteps = max(1, Self.tileRows / B)
        let work = (0..<parts).map { scratch.buffers(worker: $0, count: 3, size: tileSteps * B * max(H, ow)) }
        let network = net
        let transposed = network.parameters.values.withUnsafeBufferPointer { network.transposedStateWeights($0.baseAddress!) }
        network.parameters.values.withUnsafeBufferPointer { P in
        transposed.withUnsafeBufferPointer { PT in
        batch.states.withUnsafeBufferPointer { S in
        outputs.withUnsafeBufferPointer { D in
        scores.withUnsafeBufferPointer { G in
        logForwardCotangent.withUnsafeBufferPointer { C in
        flowCotangent.withUnsafeBufferPointer { CF in
        partial.withUnsafeMutableBufferPointer { grads in
        dStepBias.storage.withUnsafeMutableBufferPointer { DSB in
        dScale.withUnsafeMutableBufferPointer { DS in
            parallelChunks(T, parts: parts) { chunk, chunkSteps in
                let (dz0, spare, dmu) = (work[chunk][0], work[chunk][1], work[chunk][2])
                for tileStart in stride(from: chunkSteps.lowerBound, to: chunkSteps.upperBound, by: tileSteps) {
                    let steps = tileStart..<min(tileStart + tileSteps, chunkSteps.upperBound)
                    let first = steps.lowerBound * B, n = steps.count * B
                    for i in steps {
                        let k = kernels[i], variance = k.forwardVariance
                        // A Dirac step's log p_F is 0 whatever the drift.
                        let weight: Float = variance > 0 ? 1 : 0
                        var scaleCotangent: Float = 0
                        for b in 0..<B {
                            let row = i * B + b, local = (row - first) * ow
                            let x = S.baseAddress! + row * d, next = S.baseAddress! + ((i + 1) * B + b) * d
                            let output = D.baseAddress! + row * ow, cotangent = C[row]
                            if !learned {
                                // The common case: per-row pointers and a select, so the loop vectorises.
                                let g = dmu + local
                                if weight == 0 {
                                    g.update(repeating: 0, count: d)
                                } else {
                                    for c in 0..<d {
                                        let mu = output[c]
                                        let residual = next[c] - k.decay * x[c] - k.driftScale * mu
                                        g[c] = abs(mu) >= DriftNetwork.outputClip ? 0 : cotangent * residual * k.driftPrecision
                                    }
                                }
                                // The Langevin scale's cotangent Σ dμ·∇log R, one running sum over rows and coordinates
                                // in order, in its own loop so that the one above stays vector code (together they took
                                // 5.9 against 2.4 ms of a one-thread tb-manywell iteration, session 32).
                                if langevin {
                                    let score = G.baseAddress! + row * d
                                    for c in 0..<d { scaleCotangent += g[c] * score[c] }
                                }
                                continue
                            }
                            for c in 0..<d {
                                let mu = output[c]
                                let residual = next[c] - k.decay * x[c] - k.driftScale * mu
                                // ∂log p_F/∂μ = c·residual/(v·eˢ) (c the drift scale, v the variance; Δt/(σ²Δt) =
                                // 1/σ² for Brownian motion); with a learned variance, also
                                // ∂log p_F/∂o = (r²/(v·eˢ) − 1)/2 · ∂s/∂o.
                                var inverseScale: Float = 1
                                if learned {
                                    let o = output[d + c], th = tanhf(o)
                                    inverseScale = expf(-DriftNetwork.logVarianceRange * th)
                                    let ds = DriftNetwork.logVarianceRange * (1 - th * th)
                                    dmu[local + d + c] = weight == 0 ? 0 : cotangent * 0.5 * (residual * residual * inverseScale / variance - 1) * ds
                                }
                                let g = abs(mu) >= DriftNetwork.outputClip || weight == 0 ? 0
                                    : cotangent * residual * k.driftPrecision * inverseScale
                                dmu[local + c] = g
                                if langevin { scaleCotangent += g * G[row * d + c] }
                            }
                        }
                        DS[i] = scaleCotangent
                    }
                    network.backwardBlock(parameters: P.baseAddress!, transposed: PT.baseAddress!, gradients: grads.baseAddress! + chunk * count,
                                          x: S.baseAddress! + first * d, rows: n, cache: cache, cacheRow: first,
                                          dOut: dmu, work: (dz0, spare), dFlow: CF.baseAddress.map { $0 + first })
                    for i in steps {
                        PointwiseKernels.accumulateColumnSums(dz0 + (i * B - first) * H, rows: B, cols: H,
                                                              into: DSB.baseAddress! + i * H)
                    }
                }
            }
        }}}}}}}}}}
        Self.addBlocks(partial, blocks: parts, into: &net.parameters.gradients)
        conditioning!.backward(stepBiasCotangent: dStepBias, scaleCotangent: langevin ? dScale : nil,
                               into: &net.parameters)
    }
}

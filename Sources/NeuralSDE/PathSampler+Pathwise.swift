import Numerics

extension PathSampler {
    /// Adds ∂L/∂θ to `net.parameters.gradients` for a loss of the latest batch's per-step log p_F, per-step
    /// log p_B and terminal log R, differentiating through the reparameterised path (PIS): every state is a
    /// function of θ via x_{i+1} = x_i + Δt·μθ(x_i, t_i) + noise, with the noise held fixed.
    ///
    /// Back-propagation through time runs from the last step to the first; the rows of a batch are independent,
    /// so they are split across threads, each with its own gradient accumulators (summed in thread order).
    /// The Langevin term would need Hessian-vector products of log R and is not supported here, nor is a learned
    /// variance (the noise scale would join the reparameterisation).
    public func accumulatePathwiseGradients(_ net: inout DriftNetwork, batch: TrajectoryBatch, logForwardCotangent cF: [Float],
                                            logBackwardCotangent cB: [Float], logRewardCotangent cR: [Float]) throws {
        let B = batch.batchSize, T = batch.steps, d = batch.dimension, H = net.hidden
        precondition(!net.langevin, "pathwise gradients with the Langevin term are not supported")
        precondition(!net.learnedVariance, "pathwise gradients with a learned variance are not supported")
        precondition(cachedShape.map { $0 == (B, T) } ?? false, "accumulatePathwiseGradients: batch is not the sampler's latest")
        precondition(cF.count == B * T && cB.count == B * T && cR.count == B, "accumulatePathwiseGradients: cotangent sizes")
        // ∂ log R/∂x_T, the only place the target's gradient enters.
        let (_, scoreT) = try target.logDensityAndGradient(batch.terminalStates)
        let count = net.parameters.values.count
        let parts = min(threads, B)
        var partial = [Float](repeating: 0, count: parts * count)
        var stepBias = [Float](repeating: 0, count: parts * T * H)
        let invVar = (0..<T).map { 1 / process.forwardVariance($0) }
        let chunkRows = (B + parts - 1) / parts
        let work = (0..<parts).map { scratch.buffers(worker: $0, count: 5, size: chunkRows * max(H, d)) }
        let network = net
        network.parameters.values.withUnsafeBufferPointer { P in
        batch.states.withUnsafeBufferPointer { S in
        outputs.withUnsafeBufferPointer { D in
        partial.withUnsafeMutableBufferPointer { grads in
        stepBias.withUnsafeMutableBufferPointer { SB in
            parallelChunks(B, parts: parts) { chunk, rows in
                let n = rows.count
                let (dz0, spare, dmu, dx, carry) = (work[chunk][0], work[chunk][1], work[chunk][2], work[chunk][3], work[chunk][4])
                // carry: total cotangent of the current state x_{i+1}, rows × d; starts with ∂L/∂x_T from log R.
                for (k, b) in rows.enumerated() { for c in 0..<d { carry[k * d + c] = cR[b] * scoreT[b, c] } }
                for i in stride(from: T - 1, through: 0, by: -1) {
                    let dt = process.grid.delta(i)
                    let (ratio, bridgeVariance) = process.bridge(i)
                    for (k, b) in rows.enumerated() {
                        let from = (i * B + b) * d, to = ((i + 1) * B + b) * d, row = i * B + b
                        for c in 0..<d {
                            let mu = D[from + c]
                            let r = (S[to + c] - S[from + c] - dt * mu) * invVar[i]  // (residual)/variance
                            // log p_F: −r on x_{i+1}, +r on x_i, Δt·r on μ_i.
                            carry[k * d + c] -= cF[row] * r
                            var direct = cF[row] * r
                            if i > 0 {  // log p_B(x_i | x_{i+1}) = −‖x_i − ratio·x_{i+1}‖²/(2v)
                                let q = (S[from + c] - ratio * S[to + c]) / bridgeVariance
                                direct -= cB[row] * q
                                carry[k * d + c] += cB[row] * ratio * q
                            }
                            // x_{i+1} = x_i + Δt·μ_i + noise: μ_i receives Δt times the total cotangent of x_{i+1}.
                            let clipped = abs(mu) >= DriftNetwork.outputClip
                            dmu[k * d + c] = clipped ? 0 : dt * (carry[k * d + c] + cF[row] * r)
                            dx[k * d + c] = direct
                        }
                    }
                    let first = i * B + rows.lowerBound
                    // carry ← ∂L/∂x_i = carry (identity part) + direct terms + (∂μ/∂x_i)ᵀ·dμ.
                    for k in 0..<(n * d) { carry[k] += dx[k] }
                    network.backwardBlock(parameters: P.baseAddress!, gradients: grads.baseAddress! + chunk * count,
                                          x: S.baseAddress! + first * d, rows: n, cache: cache, cacheRow: first,
                                          dOut: dmu, work: (dz0, spare), dx: dx)
                    for k in 0..<(n * d) { carry[k] += dx[k] }
                    PointwiseKernels.accumulateColumnSums(dz0, rows: n, cols: H, into: SB.baseAddress! + (chunk * T + i) * H)
                }
            }
        }}}}}
        Self.addBlocks(partial, blocks: parts, into: &net.parameters.gradients)
        var dStepBias = Matrix(rows: T, cols: H)
        Self.addBlocks(stepBias, blocks: parts, into: &dStepBias.storage)
        conditioning!.backward(stepBiasCotangent: dStepBias, scaleCotangent: nil, into: &net.parameters)
    }
}

import Numerics

extension PathSampler {
    /// Adds ∂L/∂θ to `net.parameters.gradients` for a loss of the latest batch's per-step log p_F, per-step
    /// log p_B and terminal log R, differentiating through the reparameterised path (PIS): every state is a
    /// function of θ via x_{i+1} = a·x_i + c·μθ(x_i, t_i) + noise (the step's `GaussianStep`), with the noise held fixed;
    /// x₀ (fixed, or drawn from the reference's initial law) does not depend on θ.
    ///
    /// Back-propagation through time runs from the last step to the first; the rows of a batch are independent,
    /// so they are split across threads, each with its own gradient accumulators (summed in thread order).
    /// With the Langevin term μ = NN(x, t) + s(t)·∇log R(x), the score is held constant in the path derivative (a stop-
    /// gradient, as the Beyond-ELBOs code does for PIS, DIS and DDS: the exact derivative would need Hessian-vector
    /// products of log R); s(t) still receives its gradient. A learned variance is not supported (the noise scale would
    /// join the reparameterisation).
    public func accumulatePathwiseGradients(_ net: inout DriftNetwork, batch: TrajectoryBatch, logForwardCotangent cF: [Float],
                                            logBackwardCotangent cB: [Float], logRewardCotangent cR: [Float]) throws {
        let B = batch.batchSize, T = batch.steps, d = batch.dimension, H = net.hidden
        precondition(!net.learnedVariance, "pathwise gradients with a learned variance are not supported")
        precondition(cachedShape.map { $0 == (B, T) } ?? false, "accumulatePathwiseGradients: batch is not the sampler's latest")
        precondition(cF.count == B * T && cB.count == B * T && cR.count == B, "accumulatePathwiseGradients: cotangent sizes")
        // ∂ log R/∂x_T, the only place the target's gradient enters (evaluated with the batch when `scoresTerminal`).
        let scoreT = try batch.terminalScore ?? target.logDensityAndGradient(batch.terminalStates).gradient
        let count = net.parameters.values.count
        let parts = min(threads, B)
        var partial = [Float](repeating: 0, count: parts * count)
        var stepBias = [Float](repeating: 0, count: parts * T * H)
        var scaleCotangents = [Float](repeating: 0, count: net.langevin ? parts * T : 0)
        let kernels = process.kernels()
        let invVar = kernels.map { $0.forwardVariance > 0 ? 1 / $0.forwardVariance : 0 }  // a Dirac step's log p_F is 0
        let chunkRows = (B + parts - 1) / parts
        let work = (0..<parts).map { scratch.buffers(worker: $0, count: 5, size: chunkRows * max(H, d)) }
        let network = net, langevin = net.langevin
        let transposed = network.parameters.values.withUnsafeBufferPointer { network.transposedStateWeights($0.baseAddress!) }
        network.parameters.values.withUnsafeBufferPointer { P in
        transposed.withUnsafeBufferPointer { PT in
        batch.states.withUnsafeBufferPointer { S in
        outputs.withUnsafeBufferPointer { D in
        partial.withUnsafeMutableBufferPointer { grads in
        stepBias.withUnsafeMutableBufferPointer { SB in
        scores.withUnsafeBufferPointer { G in
        scaleCotangents.withUnsafeMutableBufferPointer { DS in
            parallelChunks(B, parts: parts) { chunk, rows in
                let n = rows.count
                let (dz0, spare, dmu, dx, carry) = (work[chunk][0], work[chunk][1], work[chunk][2], work[chunk][3], work[chunk][4])
                // carry: total cotangent of the current state x_{i+1}, rows × d; starts with ∂L/∂x_T from log R.
                for (k, b) in rows.enumerated() { for c in 0..<d { carry[k * d + c] = cR[b] * scoreT[b, c] } }
                for i in stride(from: T - 1, through: 0, by: -1) {
                    let k = kernels[i], (ratio, bridgeVariance) = (k.backwardRatio, k.backwardVariance)
                    let precision = invVar[i]  // 1/variance
                    for (j, b) in rows.enumerated() {
                        // Per-row pointers and the row's cotangents read once: indexing from the batch's start in
                        // the loop checked every sum and every array access and kept it scalar.
                        let row = i * B + b, forward = cF[row], backward = cB[row]
                        let x = S.baseAddress! + row * d, next = x + B * d, output = D.baseAddress! + row * d
                        let total = carry + j * d, dOutput = dmu + j * d, dState = dx + j * d
                        for c in 0..<d {
                            let mu = output[c]
                            let r = (next[c] - k.decay * x[c] - k.driftScale * mu) * precision  // residual/variance
                            // log p_F: −r on x_{i+1}, a·r on x_i, c·r on μ_i.
                            total[c] -= forward * r
                            var direct = k.decay * forward * r
                            if bridgeVariance > 0 {  // log p_B(x_i | x_{i+1}) = −‖x_i − ratio·x_{i+1}‖²/(2v)
                                let q = (x[c] - ratio * next[c]) / bridgeVariance
                                direct -= backward * q
                                total[c] += backward * ratio * q
                            }
                            // x_{i+1} = a·x_i + c·μ_i + noise: μ_i receives c times the total cotangent of x_{i+1}.
                            let clipped = abs(mu) >= DriftNetwork.outputClip
                            dOutput[c] = clipped ? 0 : k.driftScale * (total[c] + forward * r)
                            dState[c] = direct
                        }
                    }
                    if langevin {  // μ's score term s_i·∇log R(x_i): s_i receives Σ dμ·∇log R
                        var total: Float = 0
                        for (j, b) in rows.enumerated() { for c in 0..<d { total += dmu[j * d + c] * G[(i * B + b) * d + c] } }
                        DS[chunk * T + i] = total
                    }
                    let first = i * B + rows.lowerBound
                    // carry ← ∂L/∂x_i = a·carry (path part) + direct terms + (∂μ/∂x_i)ᵀ·dμ.
                    for m in 0..<(n * d) { carry[m] = k.decay * carry[m] + dx[m] }
                    network.backwardBlock(parameters: P.baseAddress!, transposed: PT.baseAddress!, gradients: grads.baseAddress! + chunk * count,
                                          x: S.baseAddress! + first * d, rows: n, cache: cache, cacheRow: first,
                                          dOut: dmu, work: (dz0, spare), dx: dx)
                    for m in 0..<(n * d) { carry[m] += dx[m] }
                    PointwiseKernels.accumulateColumnSums(dz0, rows: n, cols: H, into: SB.baseAddress! + (chunk * T + i) * H)
                }
            }
        }}}}}}}}
        Self.addBlocks(partial, blocks: parts, into: &net.parameters.gradients)
        var dStepBias = Matrix(rows: T, cols: H)
        Self.addBlocks(stepBias, blocks: parts, into: &dStepBias.storage)
        var dScale = [Float](repeating: 0, count: T)
        if langevin { Self.addBlocks(scaleCotangents, blocks: parts, into: &dScale) }
        conditioning!.backward(stepBiasCotangent: dStepBias, scaleCotangent: langevin ? dScale : nil, into: &net.parameters)
    }
}

import Numerics

/// Pre- and post-activations of the state network for a block of rows, kept from the forward pass so the
/// backward pass needs no recomputation. Rows are addressed by their index in the trajectory layout.
final class ActivationCache {
    private(set) var capacity = 0
    private(set) var width = 0
    /// f′(z₀), h₀, f′(z₁), h₁, f′(z₂), h₂, each `capacity × width`: activation derivatives are kept instead
    /// of pre-activations, so the backward pass needs no exponentials.
    private(set) var buffers: [UnsafeMutablePointer<Float>] = []

    func reserve(rows: Int, width: Int) {
        if rows <= capacity && width == self.width { return }
        release()
        capacity = rows
        self.width = width
        buffers = (0..<6).map { _ in Memory.allocateFloats(rows * width) }
    }

    func derivative(_ layer: Int, row: Int) -> UnsafeMutablePointer<Float> { buffers[2 * layer] + row * width }
    func post(_ layer: Int, row: Int) -> UnsafeMutablePointer<Float> { buffers[2 * layer + 1] + row * width }

    private func release() { buffers.forEach { $0.deallocate() }; buffers = [] }
    deinit { release() }
}

/// Forward and backward kernels of the state part of `DriftNetwork` on contiguous row blocks.
///
/// Every layer is one `sgemm` over the block plus one fused bias/activation pass; the backward pass forms
/// weight gradients as hᵀ·δ products over the whole block, so larger blocks mean fewer, larger BLAS calls.
extension DriftNetwork {
    private func weight(_ base: UnsafePointer<Float>, _ l: Int) -> UnsafePointer<Float> { base + layout.stateLayers[l].weight.offset }
    private func bias(_ base: UnsafePointer<Float>, _ l: Int) -> UnsafePointer<Float> { base + layout.stateLayers[l].bias.offset }

    /// The four state layers' weights transposed, W_lᵀ (outputs × inputs, row-major) one after the other, read by
    /// `backwardBlock`'s products δ·W_lᵀ: transposed once per backward pass rather than once per block and layer
    /// (libxsmm cannot transpose an operand, so `BLAS.gemm` copied each one transposed on every call).
    func transposedStateWeights(_ p: UnsafePointer<Float>) -> [Float] {
        var transposed = [Float](repeating: 0, count: layout.stateLayers.reduce(0) { $0 + $1.weight.count })
        var offset = 0
        for slot in layout.stateLayers.map(\.weight) {
            let w = p + slot.offset
            for o in 0..<slot.cols { for i in 0..<slot.rows { transposed[offset + o * slot.rows + i] = w[i * slot.cols + o] } }
            offset += slot.count
        }
        return transposed
    }

    /// W_lᵀ within `transposedStateWeights`' values.
    private func transposedWeight(_ base: UnsafePointer<Float>, _ l: Int) -> UnsafePointer<Float> {
        base + layout.stateLayers[..<l].reduce(0) { $0 + $1.weight.count }
    }

    /// out ← NN₁(x) for `rows` rows (`outputWidth` columns), with `stepBias` (H values: state bias plus time embedding) added to the
    /// first layer, and `flowOut` ← the log-flow head when the network has one. Activations are stored in
    /// `cache` from row `cacheRow` on.
    func forwardBlock(parameters p: UnsafePointer<Float>, x: UnsafePointer<Float>, rows n: Int,
                      stepBias: UnsafePointer<Float>, cache: ActivationCache, cacheRow: Int,
                      out: UnsafeMutablePointer<Float>, flowOut: UnsafeMutablePointer<Float>? = nil) {
        let h = hidden, d = dimension
        var input = x, inputWidth = d
        for l in 0..<3 {
            let z = cache.derivative(l, row: cacheRow)
            BLAS.gemm(m: n, n: h, k: inputWidth, a: input, lda: inputWidth, b: weight(p, l), ldb: h, c: z, ldc: h)
            PointwiseKernels.activateKeepingDerivative(z, rows: n, cols: h, bias: l == 0 ? stepBias : bias(p, l), activation: .gelu,
                                                       out: cache.post(l, row: cacheRow), derivative: z)
            input = UnsafePointer(cache.post(l, row: cacheRow))
            inputWidth = h
        }
        let w = outputWidth
        BLAS.gemm(m: n, n: w, k: h, a: input, lda: h, b: weight(p, 3), ldb: w, c: out, ldc: w)
        PointwiseKernels.broadcastBias(bias(p, 3), rows: n, cols: w, into: out, adding: true)
        if let flow = layout.flow, let flowOut {
            BLAS.gemm(m: n, n: 1, k: h, a: input, lda: h, b: p + flow.weight.offset, ldb: 1, c: flowOut, ldc: 1)
            PointwiseKernels.broadcastBias(p + flow.bias.offset, rows: n, cols: 1, into: flowOut, adding: true)
        }
    }

    /// Back-propagates `dOut` (rows × `outputWidth`) through the block stored at `cacheRow`, adding weight and bias
    /// gradients into `gradients` (laid out like `parameters.values`; the first layer's bias is left to the
    /// caller, which owns the per-step bias); `transposed` holds `transposedStateWeights(parameters)`. Returns the
    /// cotangent of the first pre-activation, rows × H, in `work[0]`; `work` holds two rows × H scratch buffers. When
    /// `dx` is given, it receives ∂/∂x; `dFlow` (rows values) is the cotangent of the log-flow head's output, if any.
    func backwardBlock(parameters p: UnsafePointer<Float>, transposed t: UnsafePointer<Float>, gradients g: UnsafeMutablePointer<Float>,
                       x: UnsafePointer<Float>, rows n: Int, cache: ActivationCache, cacheRow: Int,
                       dOut: UnsafePointer<Float>, work: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>),
                       dx: UnsafeMutablePointer<Float>? = nil, dFlow: UnsafePointer<Float>? = nil) {
        let h = hidden, d = dimension, w = outputWidth
        let out = layout.stateLayers[3]
        BLAS.gemm(transA: true, m: h, n: w, k: n, a: cache.post(2, row: cacheRow), lda: h, b: dOut, ldb: w,
                  beta: 1, c: g + out.weight.offset, ldc: w)
        PointwiseKernels.accumulateColumnSums(dOut, rows: n, cols: w, into: g + out.bias.offset)
        var delta = dOut, deltaWidth = w, upper = 3
        for l in stride(from: 2, through: 0, by: -1) {
            let target = l % 2 == 0 ? work.0 : work.1
            BLAS.gemm(m: n, n: h, k: deltaWidth, a: delta, lda: deltaWidth, b: transposedWeight(t, upper), ldb: h,
                      c: target, ldc: h)
            if l == 2, let flow = layout.flow, let dFlow {
                // The flow head reads the same last hidden layer: add its rank-1 contribution and its gradients.
                BLAS.gemm(m: n, n: h, k: 1, a: dFlow, lda: 1, b: p + flow.weight.offset, ldb: h, beta: 1, c: target, ldc: h)
                BLAS.gemm(transA: true, m: h, n: 1, k: n, a: cache.post(2, row: cacheRow), lda: h, b: dFlow, ldb: 1,
                          beta: 1, c: g + flow.weight.offset, ldc: 1)
                PointwiseKernels.accumulateColumnSums(dFlow, rows: n, cols: 1, into: g + flow.bias.offset)
            }
            let slot = layout.stateLayers[l]
            PointwiseKernels.multiplyAndSumColumns(target, by: cache.derivative(l, row: cacheRow), rows: n, cols: h,
                                                   out: target, into: l > 0 ? g + slot.bias.offset : nil)
            let input = l == 0 ? x : UnsafePointer(cache.post(l - 1, row: cacheRow))
            let inputWidth = l == 0 ? d : h
            BLAS.gemm(transA: true, m: inputWidth, n: h, k: n, a: input, lda: inputWidth, b: target, ldb: h,
                      beta: 1, c: g + slot.weight.offset, ldc: h)
            delta = UnsafePointer(target)
            deltaWidth = h
            upper = l
        }
        if let dx {
            BLAS.gemm(m: n, n: d, k: h, a: delta, lda: h, b: transposedWeight(t, 0), ldb: d, c: dx, ldc: d)
        }
    }
}

/// Reusable per-thread scratch buffers, grown on demand and never shrunk, so the hot loop does not allocate; each
/// starts on a cache line (`Memory.allocateFloats`), as the products that read them run fastest so.
final class ScratchSpace {
    private var buffers: [[UnsafeMutablePointer<Float>]] = []
    private var capacities: [Int] = []

    /// `count` buffers of at least `size` floats each for worker `worker`.
    func buffers(worker: Int, count: Int, size: Int) -> [UnsafeMutablePointer<Float>] {
        while buffers.count <= worker { buffers.append([]); capacities.append(0) }
        if capacities[worker] < size || buffers[worker].count < count {
            buffers[worker].forEach { $0.deallocate() }
            buffers[worker] = (0..<count).map { _ in Memory.allocateFloats(size) }
            capacities[worker] = size
        }
        return Array(buffers[worker].prefix(count))
    }

    deinit { buffers.joined().forEach { $0.deallocate() } }
}

import Foundation

/// Dense layers on the tape: one layer (`linear`) or a chain of them (`mlp`), computed in row tiles.
extension Tape {
    /// One layer of `mlp`: input·weight + bias (a 1 × cols row broadcast over the rows), then `activation` when one
    /// is given.
    public struct DenseLayer {
        /// The cols_in × cols weight, the 1 × cols bias.
        public let weight, bias: Variable
        /// The nonlinearity after the sum, or nil for none.
        public let activation: Activation?

        /// A layer of the given variables and activation.
        public init(weight: Variable, bias: Variable, activation: Activation? = nil) {
            self.weight = weight
            self.bias = bias
            self.activation = activation
        }
    }

    /// x·w + bias, then f when one is given: the one-layer `mlp`.
    public func linear(_ x: Variable, _ w: Variable, _ bias: Variable, activation f: Activation? = nil) -> Variable {
        mlp(x, [DenseLayer(weight: w, bias: bias, activation: f)])
    }

    /// The chain h_l = f_l(h_{l−1}·W_l + b_l), l = 1…L, from h_0 = x (rows × k); returns h_L.
    ///
    /// Each product is accumulated onto the broadcast bias in one GEMM (β = 1): no bias pass, no copy of the product,
    /// no zeroing (the sum starts from the bias, so it may round differently from addBias(matmul(h, W), b)). Where
    /// every layer's rows round alone (`BLAS.rowsRoundAlone`, libxsmm's route), the rows pass through all layers
    /// `denseTile` at a time: each layer's tile is activated in place and read by the next layer while it is in cache
    /// (an EGNN's 64 → 1 coordinate layer read its input from memory at ~5 GB/s). The numbers are those of the layers
    /// one after the other, each over all rows: a row's product does not depend on the rows computed with it, and the
    /// activation kernels are the same. Elsewhere (OpenBLAS's route) one tile holds every row. A differentiable tape
    /// keeps every layer's output and f′ (from the same pass, one exponential per element) for the pullback, a plain
    /// sequence of products per layer; an inference tape keeps the last output whole and one tile of each hidden layer.
    public func mlp(_ x: Variable, _ layers: [DenseLayer]) -> Variable {
        precondition(!layers.isEmpty, "mlp: no layers")
        let xv = value(x), weights = layers.map { value($0.weight) }, biases = layers.map { value($0.bias) }
        var width = xv.cols
        for (l, (w, b)) in Swift.zip(weights, biases).enumerated() {
            precondition(w.rows == width, "mlp: layer \(l + 1) takes \(xv.rows)×\(width) · \(w.rows)×\(w.cols)")
            precondition(b.rows == 1 && b.cols == w.cols, "mlp: layer \(l + 1) has bias \(b.rows)×\(b.cols) for \(w.cols) columns")
            width = w.cols
        }
        let rows = xv.rows, last = layers.count - 1
        let tileRows = weights.allSatisfy({ BLAS.rowsRoundAlone(k: $0.rows) }) ? Self.denseTile : max(rows, 1)
        let outputRows = layers.indices.map { differentiable || $0 == last ? rows : min(tileRows, rows) }
        let slopeRows = layers.map { differentiable && $0.activation != nil ? rows : 0 }
        let sizes = layers.indices.map { outputRows[$0] * weights[$0].cols } + layers.indices.map { slopeRows[$0] * weights[$0].cols }
        let buffers = Self.newArrays(sizes[...]) { out in
            Self.withBaseAddresses(([xv.storage] + weights.map(\.storage) + biases.map(\.storage))[...]) { given in
                for first in stride(from: 0, to: rows, by: tileRows) {
                    let m = min(tileRows, rows - first)
                    var input = given[0] + first * xv.cols
                    for (l, layer) in layers.enumerated() {
                        let k = weights[l].rows, cols = weights[l].cols
                        let tile = out[l] + (outputRows[l] == rows ? first : 0) * cols
                        PointwiseKernels.broadcastBias(given[1 + layers.count + l], rows: m, cols: cols, into: tile, adding: false)
                        if k > 0 {
                            BLAS.gemm(m: m, n: cols, k: k, a: input, lda: k, b: given[1 + l], ldb: cols, beta: 1, c: tile, ldc: cols)
                        }
                        if let f = layer.activation {
                            PointwiseKernels.activate(tile, rows: m, cols: cols, activation: f, out: tile,
                                                      derivative: slopeRows[l] > 0 ? out[layers.count + l] + first * cols : nil)
                        }
                        input = UnsafePointer(tile)
                    }
                }
            }
        }
        let outputs = layers.indices.map { Matrix(rows: outputRows[$0], cols: weights[$0].cols, storage: buffers[$0]) }
        let slopes = layers.indices.map { Matrix(rows: slopeRows[$0], cols: weights[$0].cols, storage: buffers[layers.count + $0]) }
        return record(outputs[last]) { g, tape in
            var g = g
            for l in layers.indices.reversed() {
                let (delta, biasGradient) = layers[l].activation != nil ? Self.multiplyKeepingColumnSums(g, slopes[l]) : (g, Self.columnSums(g))
                let inputCotangent = Self.product(delta, weights[l], transA: false, transB: true)
                tape.accumulate(layers[l].weight, Self.product(l == 0 ? xv : outputs[l - 1], delta, transA: true, transB: false))
                tape.accumulate(layers[l].bias, biasGradient)
                if l == 0 { tape.accumulate(x, inputCotangent) } else { g = inputCotangent }
            }
        }
    }

    /// Rows per tile of `mlp` and of an activated `pairInput`: 128 rows of 64 outputs (32 KB) stay in L1/L2 between a
    /// product, its activation and the next layer's product.
    static let denseTile = 128

    /// g ⊙ f and the column sums of that product (as `columnSums` adds them) in one pass: a dense layer's δ and its
    /// bias gradient.
    static func multiplyKeepingColumnSums(_ g: Matrix, _ f: Matrix) -> (product: Matrix, sums: Matrix) {
        precondition(g.rows == f.rows && g.cols == f.cols, "elementwise op: \(g.rows)×\(g.cols) vs \(f.rows)×\(f.cols)")
        var sums = Matrix(rows: 1, cols: g.cols)
        let product = Matrix(rows: g.rows, cols: g.cols) { out in
            g.storage.withUnsafeBufferPointer { G in
                f.storage.withUnsafeBufferPointer { F in
                    sums.storage.withUnsafeMutableBufferPointer { S in
                        guard let o = out.baseAddress else { return }
                        PointwiseKernels.multiplyAndSumColumns(G.baseAddress!, by: F.baseAddress!, rows: g.rows, cols: g.cols,
                                                               out: o, into: S.baseAddress!)
                    }
                }
            }
        }
        return (product, sums)
    }

    /// Calls `body` with the base address of each array (a one-element placeholder's for an empty one, never read):
    /// nested `withUnsafeBufferPointer` scopes for a number of arrays known only at run time.
    static func withBaseAddresses(_ arrays: ArraySlice<[Float]>, _ pointers: [UnsafePointer<Float>] = [],
                                  _ body: ([UnsafePointer<Float>]) -> Void) {
        guard let first = arrays.first else { return body(pointers) }
        (first.isEmpty ? [0] : first).withUnsafeBufferPointer { withBaseAddresses(arrays.dropFirst(), pointers + [$0.baseAddress!], body) }
    }

    /// New arrays of `sizes` elements each, which `body` fills through their base addresses.
    static func newArrays(_ sizes: ArraySlice<Int>, _ pointers: [UnsafeMutablePointer<Float>] = [],
                          _ body: ([UnsafeMutablePointer<Float>]) -> Void) -> [[Float]] {
        guard let size = sizes.first else { body(pointers); return [] }
        var later: [[Float]] = []
        let array = [Float](unsafeUninitializedCapacity: max(size, 1)) { buffer, count in
            later = newArrays(sizes.dropFirst(), pointers + [buffer.baseAddress!], body)
            count = size
        }
        return [array] + later
    }
}

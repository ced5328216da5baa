import Foundation

/// The differentiable operations. Each computes its value with the shared kernels and records a pullback.
extension Tape {
    /// Matrix product a·b.
    public func matmul(_ a: Variable, _ b: Variable) -> Variable {
        let av = value(a), bv = value(b)
        precondition(av.cols == bv.rows, "matmul: \(av.rows)×\(av.cols) · \(bv.rows)×\(bv.cols)")
        let out = Self.product(av, bv, transA: false, transB: false)
        return record(out) { g, tape in
            tape.accumulate(a, Self.product(g, bv, transA: false, transB: true))
            tape.accumulate(b, Self.product(av, g, transA: true, transB: false))
        }
    }

    /// a + bias, with `bias` a 1×cols row broadcast over the rows of `a`.
    public func addBias(_ a: Variable, _ bias: Variable) -> Variable {
        var out = value(a)
        let bv = value(bias)
        precondition(bv.rows == 1 && bv.cols == out.cols, "addBias: bias \(bv.rows)×\(bv.cols) for \(out.cols) columns")
        let cols = out.cols
        out.storage.withUnsafeMutableBufferPointer { o in
            bv.storage.withUnsafeBufferPointer { b in
                PointwiseKernels.broadcastBias(b.baseAddress!, rows: out.rows, cols: cols, into: o.baseAddress!, adding: true)
            }
        }
        return record(out) { g, tape in
            tape.accumulate(a, g)
            tape.accumulate(bias, Self.columnSums(g))
        }
    }

    /// The pointwise nonlinearity f(a). A differentiable tape keeps f′(a) from the same pass (one exponential per
    /// element), so the pullback is a product.
    public func activation(_ a: Variable, _ f: Activation) -> Variable {
        let z = value(a)
        var slope = Matrix(rows: differentiable ? z.rows : 0, cols: z.cols) { _ in }
        let out = Matrix(rows: z.rows, cols: z.cols) { o in
            z.storage.withUnsafeBufferPointer { zb in   // read-only: no copy of the tape's value
                slope.storage.withUnsafeMutableBufferPointer { s in
                    PointwiseKernels.activate(zb.baseAddress!, rows: z.rows, cols: z.cols, activation: f, out: o.baseAddress!,
                                              derivative: differentiable ? s.baseAddress! : nil)
                }
            }
        }
        return record(out) { [slope] g, tape in tape.accumulate(a, Self.zip(g, slope, *)) }
    }

    /// Elementwise a + b.
    public func add(_ a: Variable, _ b: Variable) -> Variable {
        record(Self.zip(value(a), value(b), +)) { g, tape in
            tape.accumulate(a, g)
            tape.accumulate(b, g)
        }
    }

    /// Elementwise a − b.
    public func subtract(_ a: Variable, _ b: Variable) -> Variable {
        record(Self.zip(value(a), value(b), -)) { g, tape in
            tape.accumulate(a, g)
            tape.accumulate(b, Self.map(g) { -$0 })
        }
    }

    /// Elementwise (Hadamard) product a ⊙ b.
    public func multiply(_ a: Variable, _ b: Variable) -> Variable {
        let av = value(a), bv = value(b)
        return record(Self.zip(av, bv, *)) { g, tape in
            tape.accumulate(a, Self.zip(g, bv, *))
            tape.accumulate(b, Self.zip(g, av, *))
        }
    }

    /// s · a for a constant scalar s.
    public func scale(_ a: Variable, by s: Float) -> Variable {
        record(Self.map(value(a)) { $0 * s }) { g, tape in tape.accumulate(a, Self.map(g) { $0 * s }) }
    }

    /// Elementwise sine.
    public func sin(_ a: Variable) -> Variable {
        let av = value(a)
        return record(Self.map(av) { Foundation.sin($0) }) { g, tape in
            tape.accumulate(a, Self.zip(g, Self.map(av) { Foundation.cos($0) }, *))
        }
    }

    /// Elementwise cosine.
    public func cos(_ a: Variable) -> Variable {
        let av = value(a)
        return record(Self.map(av) { Foundation.cos($0) }) { g, tape in
            tape.accumulate(a, Self.zip(g, Self.map(av) { -Foundation.sin($0) }, *))
        }
    }

    /// Elementwise 1/(√(a + 10⁻⁸) + 1) of squared lengths a ≥ 0: scales a relative vector to below unit length
    /// (EGNN's normalised differences); the 10⁻⁸ keeps the derivative finite for coinciding points.
    public func inverseLengthPlusOne(_ a: Variable) -> Variable {
        let av = value(a)
        let root = Self.map(av) { ($0 + 1e-8).squareRoot() }
        return record(Self.map(root) { 1 / ($0 + 1) }) { g, tape in
            tape.accumulate(a, Self.zip(g, Self.map(root) { r in -1 / (2 * r * (r + 1) * (r + 1)) }, *))
        }
    }

    /// The sum of all elements, as 1×1.
    public func sum(_ a: Variable) -> Variable {
        let av = value(a)
        let total = av.storage.reduce(Double(0)) { $0 + Double($1) }
        return record(Matrix(scalar: Float(total))) { g, tape in
            tape.accumulate(a, Matrix(rows: av.rows, cols: av.cols, repeating: g.scalar))
        }
    }

    /// Column sums: the 1×cols row Σ_r a[r, ·].
    public func sumRows(_ a: Variable) -> Variable {
        let av = value(a)
        return record(Self.columnSums(av)) { g, tape in
            var out = Matrix(rows: av.rows, cols: av.cols)
            for r in 0..<av.rows { for c in 0..<av.cols { out[r, c] = g[0, c] } }
            tape.accumulate(a, out)
        }
    }

    /// [a | b]: columns of `a` followed by columns of `b` (same row count).
    public func concatColumns(_ a: Variable, _ b: Variable) -> Variable {
        let av = value(a), bv = value(b), width = av.cols + bv.cols
        precondition(av.rows == bv.rows, "concatColumns: \(av.rows) vs \(bv.rows) rows")
        let out = Matrix(rows: av.rows, cols: width) { o in
            for (part, start) in [(av, 0), (bv, av.cols)] where part.cols > 0 {
                part.storage.withUnsafeBufferPointer { p in
                    for r in 0..<part.rows {
                        (o.baseAddress! + r * width + start).initialize(from: p.baseAddress! + r * part.cols, count: part.cols)
                    }
                }
            }
        }
        return record(out) { g, tape in
            tape.accumulate(a, Self.columns(g, 0..<av.cols))
            tape.accumulate(b, Self.columns(g, av.cols..<width))
        }
    }

    /// The columns `range` of `m`, row by row.
    static func columns(_ m: Matrix, _ range: Range<Int>) -> Matrix {
        Matrix(rows: m.rows, cols: range.count) { o in
            guard !range.isEmpty else { return }
            m.storage.withUnsafeBufferPointer { p in
                for r in 0..<m.rows {
                    (o.baseAddress! + r * range.count).initialize(from: p.baseAddress! + r * m.cols + range.lowerBound, count: range.count)
                }
            }
        }
    }

    /// Rows of `a` picked by `indices` (repeats allowed).
    public func gatherRows(_ a: Variable, _ indices: [Int]) -> Variable {
        let av = value(a)
        let out = Self.moveRows(av, from: indices, to: 0..<indices.count, rows: indices.count, accumulate: false)
        return record(out) { g, tape in tape.accumulate(a, Self.moveRows(g, from: 0..<indices.count, to: indices, rows: av.rows, accumulate: true)) }
    }

    /// A `rows`-row matrix whose row `indices[r]` accumulates row r of `a` (the adjoint of `gatherRows`).
    public func scatterAddRows(_ a: Variable, _ indices: [Int], rows: Int) -> Variable {
        let av = value(a)
        precondition(indices.count == av.rows, "scatterAddRows: \(indices.count) indices for \(av.rows) rows")
        let out = Self.moveRows(av, from: 0..<indices.count, to: indices, rows: rows, accumulate: true)
        return record(out) { g, tape in tape.accumulate(a, Self.moveRows(g, from: indices, to: 0..<av.rows, rows: av.rows, accumulate: false)) }
    }

    /// A pair layer over edges e = (from[e], to[e]): out[e] = f(a[from[e]] + b[to[e]] + s[e]·w + bias), with `a`, `b`
    /// node terms (nodes × H), `s` one value per edge (edges × 1), `w` and `bias` 1 × H rows, and f the activation
    /// when one is given. One pass over the edges instead of two gathers, a product and two sums; the sum rounds as
    /// ((a + b) + s·w) + bias, the order of those separate operations. The activation works on tiles of
    /// `denseTile` edges while they are in cache, with the kernels of `activation` (the same numbers; a
    /// differentiable tape keeps f′ for the pullback), so the pre-activation is never stored whole.
    public func pairInput(_ a: Variable, from: [Int], _ b: Variable, to: [Int], _ s: Variable, _ w: Variable,
                          _ bias: Variable, activation f: Activation? = nil) -> Variable {
        let av = value(a), bv = value(b), sv = value(s), wv = value(w), biasv = value(bias)
        let h = av.cols, edges = from.count
        precondition(bv.cols == h && wv.rows == 1 && wv.cols == h && biasv.rows == 1 && biasv.cols == h,
                     "pairInput: node terms and rows need \(h) columns")
        precondition(to.count == edges && sv.rows == edges && sv.cols == 1, "pairInput: \(edges) edges need one value each")
        let keepsSlope = differentiable && f != nil
        var slope = Matrix(rows: keepsSlope ? edges : 0, cols: h) { _ in }
        let out = Matrix(rows: edges, cols: h) { o in
            av.storage.withUnsafeBufferPointer { A in
            bv.storage.withUnsafeBufferPointer { B in
            wv.storage.withUnsafeBufferPointer { W in
            biasv.storage.withUnsafeBufferPointer { C in
            slope.storage.withUnsafeMutableBufferPointer { S in
                for first in stride(from: 0, to: edges, by: Self.denseTile) {
                    let m = min(Self.denseTile, edges - first), tile = o.baseAddress! + first * h
                    for e in first..<(first + m) {
                        let i = from[e], j = to[e], se = sv.storage[e]
                        precondition(i >= 0 && i < av.rows && j >= 0 && j < bv.rows, "pairInput: node index out of range")
                        let ar = A.baseAddress! + i * h, br = B.baseAddress! + j * h, orow = o.baseAddress! + e * h
                        for c in 0..<h { orow[c] = ((ar[c] + br[c]) + se * W[c]) + C[c] }
                    }
                    guard let f else { continue }
                    PointwiseKernels.activate(tile, rows: m, cols: h, activation: f, out: tile,
                                              derivative: keepsSlope ? S.baseAddress! + first * h : nil)
                }
            }}}}}
        }
        return record(out) { [slope] g, tape in
            let (g, biasGradient) = keepsSlope ? Self.multiplyKeepingColumnSums(g, slope) : (g, Self.columnSums(g))
            tape.accumulate(bias, biasGradient)
            tape.accumulate(s, Self.product(g, wv, transA: false, transB: true))
            tape.accumulate(w, Self.product(sv, g, transA: true, transB: false))
            tape.accumulate(b, Self.moveRows(g, from: 0..<edges, to: to, rows: bv.rows, accumulate: true))
            tape.accumulate(a, Self.moveRows(g, from: 0..<edges, to: from, rows: av.rows, accumulate: true))
        }
    }

    // MARK: kernels shared by the pullbacks

    static func product(_ a: Matrix, _ b: Matrix, transA: Bool, transB: Bool) -> Matrix {
        let m = transA ? a.cols : a.rows, k = transA ? a.rows : a.cols
        let n = transB ? b.rows : b.cols
        return Matrix(rows: m, cols: n) { out in
            if k == 0 { out.update(repeating: 0); return }
            a.storage.withUnsafeBufferPointer { ap in
                b.storage.withUnsafeBufferPointer { bp in
                    BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!, lda: a.cols,
                              b: bp.baseAddress!, ldb: b.cols, c: out.baseAddress!, ldc: n)
                }
            }
        }
    }

    static func columnSums(_ a: Matrix) -> Matrix {
        var out = Matrix(rows: 1, cols: a.cols)
        a.storage.withUnsafeBufferPointer { ap in
            out.storage.withUnsafeMutableBufferPointer { o in
                PointwiseKernels.accumulateColumnSums(ap.baseAddress!, rows: a.rows, cols: a.cols, into: o.baseAddress!)
            }
        }
        return out
    }

    // Plain loops over raw buffers, inlined so the closure is specialised: the generic map over a zip does not
    // vectorise and took 8 % of an iDEM epoch.
    @inline(__always)
    static func map(_ a: Matrix, _ f: (Float) -> Float) -> Matrix {
        let n = a.count
        let out = [Float](unsafeUninitializedCapacity: n) { buffer, initialised in
            a.storage.withUnsafeBufferPointer { A in for i in 0..<n { buffer[i] = f(A[i]) } }
            initialised = n
        }
        return Matrix(rows: a.rows, cols: a.cols, storage: out)
    }

    /// A `rows`-row matrix whose row `destination[k]` receives row `source[k]` of `m`: with `accumulate` added in the
    /// order of k (rows that receive nothing are zero), or else copied, when `destination` must name every row once
    /// (the output is not zeroed first).
    static func moveRows<S: Collection<Int>, D: Collection<Int>>(_ m: Matrix, from source: S, to destination: D, rows: Int,
                                                                 accumulate: Bool) -> Matrix {
        let cols = m.cols
        precondition(accumulate || destination.count == rows, "moveRows: a copy must fill all \(rows) rows")
        var out = accumulate ? Matrix(rows: rows, cols: cols) : Matrix(rows: rows, cols: cols) { _ in }
        m.storage.withUnsafeBufferPointer { src in
            out.storage.withUnsafeMutableBufferPointer { dst in
                for (i, j) in Swift.zip(source, destination) {
                    precondition(i >= 0 && i < m.rows && j >= 0 && j < rows, "row index out of range")
                    let s = src.baseAddress! + i * cols, d = dst.baseAddress! + j * cols
                    if accumulate { for c in 0..<cols { d[c] += s[c] } } else { d.update(from: s, count: cols) }
                }
            }
        }
        return out
    }

    @inline(__always)
    static func zip(_ a: Matrix, _ b: Matrix, _ f: (Float, Float) -> Float) -> Matrix {
        precondition(a.rows == b.rows && a.cols == b.cols, "elementwise op: \(a.rows)×\(a.cols) vs \(b.rows)×\(b.cols)")
        let n = a.count
        let out = [Float](unsafeUninitializedCapacity: n) { buffer, initialised in
            a.storage.withUnsafeBufferPointer { A in
                b.storage.withUnsafeBufferPointer { B in for i in 0..<n { buffer[i] = f(A[i], B[i]) } }
            }
            initialised = n
        }
        return Matrix(rows: a.rows, cols: a.cols, storage: out)
    }
}

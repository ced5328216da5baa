import XCTest
@testable import Numerics
import TestSupport

/// Every tape operation's gradient against bounded-error finite differences (TestSupport) of the same forward computation.
final class TapeGradientTests: XCTestCase {
    /// Checks d(loss)/d(inputs) from the tape against finite differences, where
    /// loss = Σ (f(inputs) ⊙ W) for a fixed random W, so every output element matters.
    func checkGradients(_ inputs: [Matrix], file: StaticString = #filePath, line: UInt = #line,
                        _ f: (Tape, [Tape.Variable]) -> Tape.Variable) {
        var rng = Xoshiro256(seed: 7)
        func loss(_ xs: [Matrix], weights: Matrix?) -> (Double, Matrix, Tape, [Tape.Variable]) {
            let tape = Tape()
            let vars = xs.map { tape.constant($0) }
            let out = f(tape, vars)
            let w = weights ?? rng.gaussianMatrix(rows: tape.value(out).rows, cols: tape.value(out).cols)
            let l = tape.sum(tape.multiply(out, tape.constant(w)))
            return (Double(tape.value(l).scalar), w, tape, vars + [l])
        }
        let (_, w, tape, vars) = loss(inputs, weights: nil)
        tape.backward(from: vars.last!)
        for (k, x) in inputs.enumerated() {
            let failures = FiniteDifference.check(x.storage, gradient: tape.gradient(vars[k]).storage, at: Array(0..<x.count),
                                                  step: 1e-2, label: { "input \(k) element \($0)" }) { values, _ in
                var perturbed = inputs
                perturbed[k].storage = values
                return loss(perturbed, weights: w).0
            }
            for f in failures { XCTFail(f, file: file, line: line) }
        }
    }

    func random(_ rows: Int, _ cols: Int, seed: UInt64) -> Matrix {
        var rng = Xoshiro256(seed: seed)
        return rng.gaussianMatrix(rows: rows, cols: cols)
    }

    func testMatmul() { checkGradients([random(3, 4, seed: 1), random(4, 5, seed: 2)]) { $0.matmul($1[0], $1[1]) } }
    func testAddBias() { checkGradients([random(3, 9, seed: 3), random(1, 9, seed: 4)]) { $0.addBias($1[0], $1[1]) } }
    func testLinear() {
        checkGradients([random(3, 4, seed: 20), random(4, 5, seed: 21), random(1, 5, seed: 22)]) { $0.linear($1[0], $1[1], $1[2]) }
        // The value is the product plus the bias, within the rounding of a 5-term sum (the kernel may add the bias
        // first, as libxsmm's does with β = 1, or last).
        let x = random(7, 4, seed: 20), w = random(4, 5, seed: 21), b = random(1, 5, seed: 22), tape = Tape()
        let value = tape.value(tape.linear(tape.constant(x), tape.constant(w), tape.constant(b)))
        let u = Double(Float.ulpOfOne) / 2
        for r in 0..<7 {
            for c in 0..<5 {
                var exact = Double(b[0, c]), magnitude = abs(Double(b[0, c]))
                for k in 0..<4 { exact += Double(x[r, k]) * Double(w[k, c]); magnitude += abs(Double(x[r, k]) * Double(w[k, c])) }
                XCTAssertEqual(Double(value[r, c]), exact, accuracy: 6 * u * magnitude / (1 - 6 * u), "row \(r), column \(c)")
            }
        }
    }
    /// linear(x, w, b, activation: f) computes, in row tiles, what activation(linear(x, w, b), f) computes: values and
    /// gradients bit for bit, on both kinds of tape, over several tiles and a short last tile.
    func testActivatedLinearIsTheLinearThenItsActivation() {
        checkGradients([random(3, 4, seed: 29), random(4, 5, seed: 30), random(1, 5, seed: 31)]) { $0.linear($1[0], $1[1], $1[2], activation: .silu) }
        for (rows, k, cols) in [(7, 4, 5), (300, 64, 64), (260, 3, 17)] {
            let x = random(rows, k, seed: 32), w = random(k, cols, seed: 33), b = random(1, cols, seed: 34), r = random(rows, cols, seed: 35)
            for f in Activation.allCases {
                let separate = Tape(), fused = Tape(), inference = Tape(differentiable: false)
                let (xs, ws, bs) = (separate.constant(x), separate.constant(w), separate.constant(b))
                let (xf, wf, bf) = (fused.constant(x), fused.constant(w), fused.constant(b))
                let one = separate.activation(separate.linear(xs, ws, bs), f), two = fused.linear(xf, wf, bf, activation: f)
                XCTAssertEqual(separate.value(one), fused.value(two), "\(f), \(rows) rows")
                let three = inference.linear(inference.constant(x), inference.constant(w), inference.constant(b), activation: f)
                XCTAssertEqual(inference.value(three), fused.value(two), "\(f), \(rows) rows, inference")
                separate.backward(from: separate.sum(separate.multiply(one, separate.constant(r))))
                fused.backward(from: fused.sum(fused.multiply(two, fused.constant(r))))
                for (a, c) in [(xs, xf), (ws, wf), (bs, bf)] {
                    XCTAssertEqual(separate.gradient(a), fused.gradient(c), "\(f), \(rows) rows, gradient")
                }
            }
        }
    }
    /// mlp computes, in row tiles through all layers, what its layers compute one after the other: values bit for bit
    /// against one whole-matrix product per layer (`BLAS.gemm` over all rows onto the bias rows, then the activation
    /// kernel), values and gradients bit for bit against chained `linear` and `activation` operations, on both kinds
    /// of tape, over several tiles and a short last one, and over an inner dimension above 256 (one tile: OpenBLAS's
    /// route). Its gradient also against finite differences.
    func testMLPIsItsLayersOneAfterTheOther() {
        checkGradients([random(5, 4, seed: 40), random(4, 6, seed: 41), random(1, 6, seed: 42), random(6, 3, seed: 43),
                        random(1, 3, seed: 44)]) { t, v in
            t.mlp(v[0], [Tape.DenseLayer(weight: v[1], bias: v[2], activation: .silu), Tape.DenseLayer(weight: v[3], bias: v[4])])
        }
        for (rows, widths) in [(7, [4, 5, 1]), (300, [64, 64, 64, 64, 1]), (260, [3, 17, 40]), (150, [300, 20, 8]),
                               (2000, [64, 64, 1])] {
            let x = random(rows, widths[0], seed: 45), r = random(rows, widths.last!, seed: 46)
            let parameters = (1..<widths.count).map { (random(widths[$0 - 1], widths[$0], seed: UInt64(50 + $0)),
                                                       random(1, widths[$0], seed: UInt64(60 + $0))) }
            let activations: [Activation?] = [.silu, .gelu, nil, .tanh]
            let chained = Tape(), fused = Tape(), inference = Tape(differentiable: false)
            func leaves(_ tape: Tape) -> (Tape.Variable, [(Tape.Variable, Tape.Variable)]) {
                (tape.constant(x), parameters.map { (tape.constant($0.0), tape.constant($0.1)) })
            }
            let (xc, pc) = leaves(chained), (xf, pf) = leaves(fused), (xi, pi) = leaves(inference)
            var one = xc
            for (l, (w, b)) in pc.enumerated() {
                one = chained.linear(one, w, b)
                if let f = activations[l] { one = chained.activation(one, f) }
            }
            func layers(_ p: [(Tape.Variable, Tape.Variable)]) -> [Tape.DenseLayer] {
                p.enumerated().map { Tape.DenseLayer(weight: $1.0, bias: $1.1, activation: activations[$0]) }
            }
            let two = fused.mlp(xf, layers(pf)), three = inference.mlp(xi, layers(pi))
            var whole = x
            for (l, (w, b)) in parameters.enumerated() {
                let input = whole
                whole = Matrix(rows: rows, cols: w.cols, storage: (0..<rows).flatMap { _ in b.storage })
                whole.storage.withUnsafeMutableBufferPointer { out in
                    BLAS.gemm(m: rows, n: w.cols, k: w.rows, a: input.storage, lda: w.rows, b: w.storage, ldb: w.cols, beta: 1,
                              c: out.baseAddress!, ldc: w.cols)
                    if let f = activations[l] {
                        PointwiseKernels.activate(out.baseAddress!, rows: rows, cols: w.cols, activation: f, out: out.baseAddress!)
                    }
                }
            }
            XCTAssertEqual(whole, fused.value(two), "\(rows) rows, widths \(widths), whole-matrix products")
            XCTAssertEqual(chained.value(one), fused.value(two), "\(rows) rows, widths \(widths)")
            XCTAssertEqual(inference.value(three), fused.value(two), "\(rows) rows, widths \(widths), inference")
            chained.backward(from: chained.sum(chained.multiply(one, chained.constant(r))))
            fused.backward(from: fused.sum(fused.multiply(two, fused.constant(r))))
            XCTAssertEqual(chained.gradient(xc), fused.gradient(xf), "\(rows) rows, widths \(widths), input gradient")
            for ((wc, bc), (wf, bf)) in zip(pc, pf) {
                XCTAssertEqual(chained.gradient(wc), fused.gradient(wf), "\(rows) rows, widths \(widths), weight gradient")
                XCTAssertEqual(chained.gradient(bc), fused.gradient(bf), "\(rows) rows, widths \(widths), bias gradient")
            }
        }
    }
    func testPairInput() {
        let from = [0, 2, 1, 0, 2], to = [1, 0, 2, 2, 1]
        checkGradients([random(3, 6, seed: 23), random(3, 6, seed: 24), random(5, 1, seed: 25), random(1, 6, seed: 26),
                        random(1, 6, seed: 27)]) { t, v in t.pairInput(v[0], from: from, v[1], to: to, v[2], v[3], v[4]) }
        // The value equals the separate gathers, product and sums it replaces, bit for bit.
        let a = random(3, 6, seed: 23), b = random(3, 6, seed: 24), s = random(5, 1, seed: 25), w = random(1, 6, seed: 26)
        let bias = random(1, 6, seed: 27), tape = Tape()
        let (av, bv, sv, wv, cv) = (tape.constant(a), tape.constant(b), tape.constant(s), tape.constant(w), tape.constant(bias))
        let separate = tape.addBias(tape.add(tape.add(tape.gatherRows(av, from), tape.gatherRows(bv, to)), tape.matmul(sv, wv)), cv)
        XCTAssertEqual(tape.value(tape.pairInput(av, from: from, bv, to: to, sv, wv, cv)), tape.value(separate))
    }
    /// pairInput with an activation is the activation of pairInput: values and gradients bit for bit on both kinds of
    /// tape, over several tiles of edges and a short last one.
    func testActivatedPairInputIsThePairInputThenItsActivation() {
        let nodes = 40, h = 64, edges = 300
        var rng = Xoshiro256(seed: 70)
        let from = (0..<edges).map { _ in Int(rng.next() % UInt64(nodes)) }, to = (0..<edges).map { _ in Int(rng.next() % UInt64(nodes)) }
        checkGradients([random(3, 6, seed: 23), random(3, 6, seed: 24), random(5, 1, seed: 25), random(1, 6, seed: 26),
                        random(1, 6, seed: 27)]) { t, v in
            t.pairInput(v[0], from: [0, 2, 1, 0, 2], v[1], to: [1, 0, 2, 2, 1], v[2], v[3], v[4], activation: .silu)
        }
        let inputs = [random(nodes, h, seed: 71), random(nodes, h, seed: 72), random(edges, 1, seed: 73), random(1, h, seed: 74),
                      random(1, h, seed: 75)]
        let r = random(edges, h, seed: 76)
        for f in Activation.allCases {
            let separate = Tape(), fused = Tape(), inference = Tape(differentiable: false)
            let vs = inputs.map { separate.constant($0) }, vf = inputs.map { fused.constant($0) }, vi = inputs.map { inference.constant($0) }
            let one = separate.activation(separate.pairInput(vs[0], from: from, vs[1], to: to, vs[2], vs[3], vs[4]), f)
            let two = fused.pairInput(vf[0], from: from, vf[1], to: to, vf[2], vf[3], vf[4], activation: f)
            let three = inference.pairInput(vi[0], from: from, vi[1], to: to, vi[2], vi[3], vi[4], activation: f)
            XCTAssertEqual(separate.value(one), fused.value(two), "\(f)")
            XCTAssertEqual(inference.value(three), fused.value(two), "\(f), inference")
            separate.backward(from: separate.sum(separate.multiply(one, separate.constant(r))))
            fused.backward(from: fused.sum(fused.multiply(two, fused.constant(r))))
            for (a, b) in zip(vs, vf) { XCTAssertEqual(separate.gradient(a), fused.gradient(b), "\(f), gradient") }
        }
    }
    func testConcatValues() {
        let a = random(4, 3, seed: 80), b = random(4, 5, seed: 81), tape = Tape()
        let (av, bv) = (tape.constant(a), tape.constant(b))
        let joined = tape.concatColumns(av, bv)
        for r in 0..<4 {
            for c in 0..<8 { XCTAssertEqual(tape.value(joined)[r, c], c < 3 ? a[r, c] : b[r, c - 3], "row \(r), column \(c)") }
        }
        let g = random(4, 8, seed: 82)
        tape.backward(from: joined, seed: g)
        for r in 0..<4 {
            for c in 0..<8 { XCTAssertEqual(c < 3 ? tape.gradient(av)[r, c] : tape.gradient(bv)[r, c - 3], g[r, c], "row \(r), column \(c)") }
        }
        let empty = tape.concatColumns(tape.constant(Matrix(rows: 4, cols: 0)), bv)
        XCTAssertEqual(tape.value(empty), b)
    }
    func testInferenceTapeComputesTheSameValues() {
        let z = random(3, 11, seed: 28), train = Tape(), infer = Tape(differentiable: false)
        for f in Activation.allCases {
            XCTAssertEqual(train.value(train.activation(train.constant(z), f)), infer.value(infer.activation(infer.constant(z), f)), "\(f)")
        }
    }
    func testGELU() { checkGradients([random(3, 11, seed: 5)]) { $0.activation($1[0], .gelu) } }
    func testTanh() { checkGradients([random(3, 13, seed: 12)]) { $0.activation($1[0], .tanh) } }
    func testInverseLengthPlusOne() {  // on squared lengths (positive, away from 0 where the root bends sharply)
        let squared = Matrix(rows: 2, cols: 5, storage: random(2, 5, seed: 16).storage.map { 0.2 + $0 * $0 })
        checkGradients([squared]) { $0.inverseLengthPlusOne($1[0]) }
        let tape = Tape()
        let values = tape.value(tape.inverseLengthPlusOne(tape.constant(Matrix(rows: 1, cols: 2, storage: [9, 0])))).storage
        XCTAssertEqual(values[0], 0.25, accuracy: 1e-6)
        XCTAssertEqual(values[1], 1 / (1 + 1e-4), accuracy: 1e-6)
    }
    func testSiLU() { checkGradients([random(2, 17, seed: 6)]) { $0.activation($1[0], .silu) } }
    func testAddSubtractMultiply() {
        checkGradients([random(3, 4, seed: 7), random(3, 4, seed: 8)]) { t, v in
            t.multiply(t.add(v[0], v[1]), t.subtract(v[0], t.scale(v[1], by: 0.5)))
        }
    }
    func testSinCos() { checkGradients([random(4, 3, seed: 9)]) { t, v in t.add(t.sin(v[0]), t.cos(t.scale(v[0], by: 2))) } }
    func testSums() {
        checkGradients([random(4, 3, seed: 10)]) { t, v in t.matmul(t.sumRows(v[0]), t.constant(Matrix(rows: 3, cols: 1, repeating: 1))) }
        checkGradients([random(4, 3, seed: 11)]) { t, v in t.sum(t.multiply(v[0], v[0])) }
    }
    func testConcat() { checkGradients([random(3, 2, seed: 12), random(3, 5, seed: 13)]) { $0.concatColumns($1[0], $1[1]) } }
    func testGatherScatter() {
        checkGradients([random(4, 3, seed: 14)]) { $0.gatherRows($1[0], [3, 0, 3, 1, 2]) }
        checkGradients([random(5, 3, seed: 15)]) { $0.scatterAddRows($1[0], [1, 1, 0, 3, 1], rows: 4) }
        // Values too: a consistent mix-up of rows in both directions would pass the gradient check.
        let a = random(4, 3, seed: 14), b = random(5, 3, seed: 15), tape = Tape()
        let gathered = tape.value(tape.gatherRows(tape.constant(a), [3, 0, 3, 1, 2]))
        let scattered = tape.value(tape.scatterAddRows(tape.constant(b), [1, 1, 0, 3, 1], rows: 4))
        for c in 0..<3 {
            XCTAssertEqual([3, 0, 3, 1, 2].enumerated().map { gathered[$0.offset, c] }, [3, 0, 3, 1, 2].map { a[$0, c] })
            XCTAssertEqual((0..<4).map { scattered[$0, c] }, [b[2, c], b[0, c] + b[1, c] + b[4, c], 0, b[3, c]])
        }
    }

    /// A two-layer network, as the sampler's time embedding uses it, end to end including parameter export.
    func testParameterGradientsThroughNetwork() {
        var store = ParameterStore()
        let w1 = store.add("w1", random(3, 6, seed: 16)), b1 = store.add("b1", random(1, 6, seed: 17))
        let x = random(5, 3, seed: 18)
        func lossValue(_ s: ParameterStore) -> (Tape, Tape.Variable) {
            let t = Tape()
            let h = t.activation(t.addBias(t.matmul(t.constant(x), t.parameter(s, w1)), t.parameter(s, b1)), .gelu)
            return (t, t.sum(t.multiply(h, h)))
        }
        let (tape, loss) = lossValue(store)
        tape.backward(from: loss)
        tape.exportGradients(into: &store)
        let (_, failures) = FiniteDifference.checkParameters(store, perSlot: 18, step: 1e-2) { s in
            let (t, l) = lossValue(s)
            return Double(t.value(l).scalar)
        }
        for f in failures { XCTFail(f) }
    }
}

import XCTest
import Foundation
import CFFTW
@testable import Numerics

final class KernelTests: XCTestCase {
    func testFastExpMatchesLibm() {
        var worst: Float = 0
        for i in 0..<4000 {
            let x = Float(i) / 4000 * 160 - 80
            let approx = fastExp(FloatLanes(repeating: x))[0]
            worst = max(worst, abs(approx - expf(x)) / expf(x))
        }
        XCTAssertLessThan(worst, 1e-5)  // degree-5 polynomial plus one-constant range reduction
    }

    func testGELUAgainstErfDefinition() {
        // The tanh form approximates x·Φ(x) to about 1e-3 absolute.
        for i in 0..<200 {
            let x = Double(i) / 20 - 5
            let exact = x * 0.5 * (1 + erf(x / 2.0.squareRoot()))
            XCTAssertEqual(Double(Activation.gelu.apply(Float(x))), exact, accuracy: 1e-3)
        }
        XCTAssertEqual(Activation.gelu.derivative(Float(0)), 0.5, accuracy: 1e-6)
    }

    func testGaussianMoments() {
        var rng = Xoshiro256(seed: 42, stream: 1, 2)
        let n = 200_000
        var z = [Float](repeating: 0, count: n)
        z.withUnsafeMutableBufferPointer { rng.fillGaussian($0.baseAddress!, count: n) }
        let mean = z.reduce(0.0) { $0 + Double($1) } / Double(n)
        let second = z.reduce(0.0) { $0 + Double($1 * $1) } / Double(n)
        let fourth = z.reduce(0.0) { $0 + pow(Double($1), 4) } / Double(n)
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(second, 1, accuracy: 0.015)
        XCTAssertEqual(fourth, 3, accuracy: 0.08)
    }

    /// The row kernels walk sixteen lanes, then eight, then single values: every width of row gives each value as
    /// the activation gives it alone, with and without a bias, and the slope where it is kept.
    func testActivationKernelsEveryRowWidth() {
        var rng = Xoshiro256(seed: 5)
        for cols in [1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 64, 65] {
            let rows = 3, count = rows * cols
            let z = (0..<count).map { _ in 6 * rng.nextUniform() - 3 }, bias = (0..<cols).map { _ in rng.nextUniform() - 0.5 }
            for f in Activation.allCases {
                var out = [Float](repeating: .nan, count: count), slope = out, plain = out
                PointwiseKernels.activateKeepingDerivative(z, rows: rows, cols: cols, bias: bias, activation: f, out: &out,
                                                           derivative: &slope)
                PointwiseKernels.activate(z, rows: rows, cols: cols, activation: f, out: &plain)
                for r in 0..<rows {
                    for c in 0..<cols {
                        let k = r * cols + c, biased = z[k] + bias[c]
                        XCTAssertEqual(out[k].bitPattern, f.apply(biased).bitPattern, "\(f) value, \(cols) columns")
                        XCTAssertEqual(slope[k].bitPattern, f.derivative(biased).bitPattern, "\(f) slope, \(cols) columns")
                        XCTAssertEqual(plain[k].bitPattern, f.apply(z[k]).bitPattern, "\(f) without bias, \(cols) columns")
                    }
                }
            }
        }
    }

    /// Eight rows in the lanes of a vector draw what each row's generator draws alone, bit for bit, rejected draws
    /// (wedges and the tail, about 1 % of 5 600 here) included, and leave every generator where the row loop leaves it.
    func testGaussianRowsAreEachRowsOwnDraws() {
        let rows = 19, count = 300, stride = 301  // two groups of eight and three rows alone; a gap after each row
        let start = (0..<rows).map { Xoshiro256(seed: 7, stream: 3, UInt64($0)) }
        var alone = start, lanes = start
        var expected = [Float](repeating: .nan, count: rows * stride), found = expected
        expected.withUnsafeMutableBufferPointer { e in
            for r in 0..<rows { alone[r].fillGaussian(e.baseAddress! + r * stride, count: count) }
        }
        lanes.withUnsafeMutableBufferPointer { g in
            found.withUnsafeMutableBufferPointer { Xoshiro256.fillGaussianRows(g.baseAddress!, rows: rows, count: count,
                                                                               into: $0.baseAddress!, stride: stride) }
        }
        XCTAssertEqual(found.map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertEqual(lanes.map(\.state), alone.map(\.state))
        // Draws beyond the rectangles happened: more words were used than draws in some row.
        XCTAssertTrue((0..<rows).contains { r in
            var g = start[r]
            for _ in 0..<count { _ = g.next() }
            return g.state != alone[r].state
        })
    }

    func testStreamsAreReproducibleAndDistinct() {
        var a = Xoshiro256(seed: 1, stream: 5, 9), b = Xoshiro256(seed: 1, stream: 5, 9), c = Xoshiro256(seed: 1, stream: 9, 5)
        let xa = (0..<4).map { _ in a.next() }, xb = (0..<4).map { _ in b.next() }, xc = (0..<4).map { _ in c.next() }
        XCTAssertEqual(xa, xb)
        XCTAssertNotEqual(xa, xc)
    }

    func testAdamMinimisesQuadratic() {
        var store = ParameterStore()
        let slot = store.add("x", Matrix(rows: 1, cols: 3, storage: [3, -2, 1]))
        var adam = Adam(learningRate: 0.05, count: store.values.count)
        for _ in 0..<2000 {
            store.zeroGradients()
            let x = store.value(slot)
            store.accumulateGradient(slot, Matrix(rows: 1, cols: 3, storage: x.storage.map { 2 * ($0 - 0.5) }))
            adam.update(&store)
        }
        for v in store.values { XCTAssertEqual(v, 0.5, accuracy: 1e-3) }
    }

    func testGradientClipping() {
        var store = ParameterStore()
        let slot = store.add("x", Matrix(rows: 1, cols: 2))
        store.accumulateGradient(slot, Matrix(rows: 1, cols: 2, storage: [3, 4]))
        XCTAssertEqual(store.clipGradientNorm(1), 5, accuracy: 1e-6)
        XCTAssertEqual(store.gradientNorm, 1, accuracy: 1e-6)
    }

    /// FFTW is linked for the lattice targets; a length-4 transform of a delta is flat.
    func testFFTWLinks() {
        let n: Int32 = 4
        let input = fftw_alloc_complex(4)!, output = fftw_alloc_complex(4)!
        defer { fftw_free(input); fftw_free(output) }
        let inRaw = UnsafeMutableRawPointer(input).assumingMemoryBound(to: Double.self)
        for i in 0..<8 { inRaw[i] = 0 }
        inRaw[0] = 1
        let plan = fftw_plan_dft_1d(n, input, output, FFTW_FORWARD, UInt32(FFTW_ESTIMATE))
        fftw_execute(plan)
        fftw_destroy_plan(plan)
        let outRaw = UnsafeMutableRawPointer(output).assumingMemoryBound(to: Double.self)
        for k in 0..<4 { XCTAssertEqual(outRaw[2 * k], 1, accuracy: 1e-12); XCTAssertEqual(outRaw[2 * k + 1], 0, accuracy: 1e-12) }
    }
}

final class CholeskyTests: XCTestCase {
    /// A = I + u·uᵀ has det 1 + ‖u‖² and inverse I − u·uᵀ/(1 + ‖u‖²) (Sherman–Morrison).
    func testInverseAndLogDeterminant() throws {
        let u: [Double] = [0.5, -1, 2, 0.25]
        let n = u.count, norm2 = u.reduce(0) { $0 + $1 * $1 }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { a[i * n + j] = (i == j ? 1 : 0) + u[i] * u[j] } }
        let (inverse, logDet) = try SymmetricPositiveDefinite.inverseAndLogDeterminant(a, n: n)
        XCTAssertEqual(logDet, log(1 + norm2), accuracy: 1e-12)
        for i in 0..<n {
            for j in 0..<n {
                XCTAssertEqual(inverse[i * n + j], (i == j ? 1 : 0) - u[i] * u[j] / (1 + norm2), accuracy: 1e-12)
            }
        }
        XCTAssertThrowsError(try SymmetricPositiveDefinite.inverseAndLogDeterminant([1, 2, 2, 1], n: 2))
    }

    /// Adam's first step moves every value by its learning rate against the gradient's sign; an overridden
    /// slot uses its own rate.
    func testAdamLearningRateOverride() {
        var store = ParameterStore()
        _ = store.add("a", Matrix(rows: 1, cols: 3, storage: [1, 2, 3]))
        let b = store.add("b", Matrix(rows: 1, cols: 2, storage: [4, 5]))
        _ = store.add("c", Matrix(scalar: 6))
        store.gradients = [1, -2, 3, -4, 5, 6]
        var adam = Adam(learningRate: 0.1, count: 6)
        adam.update(&store, overrides: [(slot: b, learningRate: 0.5)])
        let expected: [Float] = [0.9, 2.1, 2.9, 4.5, 4.5, 5.9]
        for (x, y) in zip(store.values, expected) { XCTAssertEqual(x, y, accuracy: 1e-5) }
    }
}

import XCTest
import Foundation
@testable import NeuralSDE
@testable import Numerics
import TestSupport

final class EGNNTests: XCTestCase {
    /// A network whose last coordinate layers are not tiny, so every layer visibly moves the particles.
    func network(particles: Int, dimension: Int) -> EGNN {
        var rng = Xoshiro256(seed: 3)
        var net = EGNN(particles: particles, spatialDimension: dimension, hidden: 8, layers: 2, rng: &rng)
        for slot in net.parameters.slots where slot.name.contains("coordinate2") {
            for k in slot.offset..<(slot.offset + slot.count) { net.parameters.values[k] = 0.3 * rng.nextGaussian() }
        }
        return net
    }

    /// A random orthogonal matrix (Gram–Schmidt on Gaussian columns; may include a reflection).
    func orthogonal(_ d: Int, rng: inout Xoshiro256) -> [[Float]] {
        var q: [[Float]] = []
        while q.count < d {
            var v = (0..<d).map { _ in rng.nextGaussian() }
            for u in q { let dot = zip(u, v).reduce(0) { $0 + $1.0 * $1.1 }; v = zip(v, u).map { $0 - dot * $1 } }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            q.append(v.map { $0 / norm })
        }
        return q
    }

    /// Rotating (or reflecting), translating and permuting the particles rotates, ignores and permutes the output,
    /// which is mean-free per configuration.
    func testEquivariance() {
        let n = 5, D = 3, B = 2
        let net = network(particles: n, dimension: D)
        var rng = Xoshiro256(seed: 11)
        let x = rng.gaussianMatrix(rows: B, cols: n * D)
        let t: [Float] = [0.3, 0.8]
        let out = net.evaluate(x, t: t)
        let q = orthogonal(D, rng: &rng)
        let shift = (0..<D).map { _ in rng.nextGaussian() }
        let permutation = [3, 0, 4, 1, 2]
        func transform(_ m: Matrix, translate: Bool) -> Matrix {
            var r = Matrix(rows: B, cols: n * D)
            for b in 0..<B {
                for i in 0..<n {
                    let source = permutation[i]
                    for a in 0..<D {
                        var v: Float = translate ? shift[a] : 0
                        for c in 0..<D { v += q[a][c] * m[b, source * D + c] }
                        r[b, i * D + a] = v
                    }
                }
            }
            return r
        }
        let moved = net.evaluate(transform(x, translate: true), t: t)
        let expected = transform(out, translate: false)
        for k in 0..<moved.count { XCTAssertEqual(moved.storage[k], expected.storage[k], accuracy: 1e-4) }
        for b in 0..<B {
            for a in 0..<D {
                XCTAssertEqual((0..<n).reduce(Float(0)) { $0 + out[b, $1 * D + a] }, 0, accuracy: 1e-5)
            }
        }
        XCTAssertGreaterThan(out.storage.map(abs).max()!, 1e-2, "the test needs a non-trivial output")
    }

    /// Parameter gradients of Σ out ⊙ W against bounded-error finite differences, a few entries of every slot.
    func testGradientsMatchFiniteDifferences() {
        let net = network(particles: 4, dimension: 2)
        var rng = Xoshiro256(seed: 5)
        let x = rng.gaussianMatrix(rows: 2, cols: 8)
        let w = rng.gaussianMatrix(rows: 8, cols: 2)
        let t: [Float] = [0.1, 0.6]
        func loss(_ n: EGNN) -> Double {
            let out = n.evaluate(x, t: t)
            return zip(out.storage, w.storage).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        let tape = Tape()
        let out = net.forward(tape, x: x, t: t)
        tape.backward(from: tape.sum(tape.multiply(out, tape.constant(w))))
        var store = net.parameters
        store.zeroGradients()
        tape.exportGradients(into: &store)
        let (checked, failures) = FiniteDifference.checkParameters(store, perSlot: 4, step: 1e-2) { perturbed in
            var n = net
            n.parameters.values = perturbed.values
            return loss(n)
        }
        for f in failures { XCTFail(f) }
        XCTAssertGreaterThan(checked, 60)
    }
}

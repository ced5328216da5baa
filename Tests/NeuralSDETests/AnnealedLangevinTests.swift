import XCTest
@testable import NeuralSDE
@testable import Training
@testable import Densities
@testable import Numerics
import TestSupport

/// ULA, MCD and CMCD: the learned schedule's ends and gradient, the kernels' log weight against its formula, the
/// exactness of ULA's weights, and the KL (pathwise) and log-variance gradients against finite differences.
final class AnnealedLangevinTests: XCTestCase {
    let gaussian = GaussianMixture(name: "n", means: [[0.5, -1, 0.3]], componentStd: 0.7, defaultSigma2: 1)

    func sampler(_ control: AnnealedLangevin.Control, steps: Int = 4, dimension: Int = 3, randomise: Bool = true) -> AnnealedLangevin {
        var rng = Xoshiro256(seed: 9)
        var model = AnnealedLangevin(control: control, dimension: dimension, steps: steps, priorStd: 1.3, maxDiffusion: 2,
                                     hidden: 8, rng: &rng)
        if randomise {  // away from the symmetric start, so every entry's gradient is exercised
            for i in model.parameters.values.indices { model.parameters.values[i] += 0.2 * rng.nextGaussian() }
            if var net = model.network {
                for i in net.parameters.values.indices { net.parameters.values[i] = 0.15 * rng.nextGaussian() }
                model.network = net
            }
        }
        return model
    }

    /// β starts linear (β_k = k/K) and ends at 0 and 1; its pullback matches finite differences of a weighted sum.
    func testScheduleStartsLinearAndDifferentiates() throws {
        let fresh = sampler(.none, steps: 5, randomise: false)
        let (beta, steps) = fresh.currentSchedule()
        for k in 0...5 { XCTAssertEqual(beta[k], Float(k) / 5, accuracy: 1e-6) }
        XCTAssertEqual(steps.count, 5)
        XCTAssertGreaterThan(steps[0], steps[4])  // the step shape falls toward the target
        XCTAssertEqual(steps[0], fresh.stepFactor(0), accuracy: 1e-7)  // softplus(c) = 1 at the start
        var model = sampler(.none, steps: 5)
        let weights: [Float] = [0.3, -1.2, 0.8, 2.0, -0.4, 1.1]
        func value(_ store: ParameterStore) -> Double {
            var m = model
            m.parameters = store
            return zip(m.currentSchedule().beta, weights).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        }
        let tape = Tape()
        let b = tape.annealingSchedule(tape.parameter(model.parameters, model.betaLogits))
        tape.backward(from: tape.sum(tape.multiply(b, tape.constant(Matrix(rows: 1, cols: 6, storage: weights)))))
        model.parameters.zeroGradients()
        tape.exportGradients(into: &model.parameters)
        let (checked, failures) = try FiniteDifference.checkParameters(model.parameters, perSlot: 5, step: 0.1) { try XCTUnwrap(value($0)) }
        for f in failures { XCTFail(f) }
        XCTAssertGreaterThan(checked, 4)
    }

    /// The reverse-KL and log-variance gradients of ULA, MCD and CMCD (schedule, step coefficient and network) against
    /// bounded-error finite differences of the loss on the same noise. The KL's path derivative uses the target's
    /// Hessian by differences of its gradient, exact for this Gaussian target.
    func testGradientsMatchFiniteDifferences() throws {
        for control in [AnnealedLangevin.Control.none, .backward, .both] {
            for loss in [AnnealedLangevin.Loss.kl, .logVariance] {
                var model = sampler(control)
                var rng = Xoshiro256(seed: 4)
                var failure: (any Error)?
                // The log-variance loss holds the paths fixed: its finite differences re-score the same states.
                let states = try model.simulate(gaussian, count: 6, rng: &rng, tape: Tape(), pathwise: false, failure: &failure).states
                func value(_ m: AnnealedLangevin) throws -> Double {
                    var rng = Xoshiro256(seed: 4)
                    if loss == .kl {
                        var copy = m
                        return try copy.lossAndGradient(gaussian, loss: loss, count: 6, rng: &rng).loss
                    }
                    let w = try m.simulate(gaussian, count: 6, rng: &rng, tape: Tape(), pathwise: false, given: states, failure: &failure).logWeights
                    let mean = w.reduce(0, +) / 6
                    return w.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 6
                }
                rng = Xoshiro256(seed: 4)
                let loss0 = try model.lossAndGradient(gaussian, loss: loss, count: 6, rng: &rng).loss
                XCTAssertEqual(loss0, try value(model), accuracy: 1e-5 * max(1, abs(loss0)))
                let (checked, failures) = try FiniteDifference.checkParameters(model.parameters, perSlot: 4, step: 2e-2) { store in
                    var m = model
                    m.parameters = store
                    return try value(m)
                }
                for f in failures { XCTFail("\(control) \(loss): \(f)") }
                XCTAssertGreaterThan(checked, 4)
                if let net = model.network {
                    let (n, netFailures) = try FiniteDifference.checkParameters(net.parameters, perSlot: 3, step: 2e-2) { store in
                        var m = model
                        m.network!.parameters = store
                        return try value(m)
                    }
                    for f in netFailures { XCTFail("\(control) \(loss) network: \(f)") }
                    XCTAssertGreaterThan(n, 10)
                }
            }
        }
    }

    /// The KL gradient of CMCD on a logistic-regression posterior, whose exact Hessian-vector products replace the
    /// differences of the gradient in the path derivative, against finite differences of the loss.
    func testKLGradientWithExactHessianVectorProducts() throws {
        var rng = Xoshiro256(seed: 12)
        let features = (0..<30).map { _ in (0..<2).map { _ in Double(rng.nextGaussian()) } }
        let labels = features.map { $0[0] - 0.5 * $0[1] + 0.3 * Double(rng.nextGaussian()) > 0 ? 1.0 : 0.0 }
        let target = LogisticRegression(name: "toy", features: features, labels: labels, preprocessing: .standardise,
                                        flipped: false, priorStd: 3)
        try assertKLGradientMatches(sampler(.both), target, network: true)
    }

    /// A target whose score exceeds the clip (a narrow Gaussian, |∇log R| ≈ 10⁴): the drifts use the clipped score, the
    /// path derivative drops the clipped entries, and the KL gradient still matches finite differences of the loss.
    func testClippedScoreKeepsTheKLGradientExact() throws {
        let narrow = GaussianMixture(name: "narrow", means: [[0.5, -1, 0.3]], componentStd: 0.01, defaultSigma2: 1)
        let loss = try assertKLGradientMatches(sampler(.both), narrow, network: false)
        XCTAssertTrue(loss.isFinite && loss > 100, "\(loss)")  // the narrow target is far from the prior: a poor, finite ELBO
    }

    /// Checks the KL gradient of `model` on `target` (6 paths) against bounded-error finite differences of the loss, for
    /// the schedule and, with `network`, the control network; returns the loss.
    @discardableResult
    func assertKLGradientMatches(_ start: AnnealedLangevin, _ target: any Target, network: Bool, line: UInt = #line) throws -> Double {
        var model = start
        func value(_ m: AnnealedLangevin) throws -> Double {
            var copy = m, rng = Xoshiro256(seed: 4)
            return try copy.lossAndGradient(target, loss: .kl, count: 6, rng: &rng).loss
        }
        var draws = Xoshiro256(seed: 4)
        let loss = try model.lossAndGradient(target, loss: .kl, count: 6, rng: &draws).loss
        let (checked, failures) = try FiniteDifference.checkParameters(model.parameters, perSlot: 4, step: 2e-2) { store in
            var m = model
            m.parameters = store
            return try value(m)
        }
        for f in failures { XCTFail(f, line: line) }
        XCTAssertGreaterThan(checked, 4, line: line)
        guard network, let net = model.network else { return loss }
        let (n, netFailures) = try FiniteDifference.checkParameters(net.parameters, perSlot: 3, step: 2e-2) { store in
            var m = model
            m.network!.parameters = store
            return try value(m)
        }
        for f in netFailures { XCTFail("network: \(f)", line: line) }
        XCTAssertGreaterThan(n, 10, line: line)
        return loss
    }

    /// The log weight and both losses of CMCD, MCD and ULA on given two-step paths, against the kernels' formulas
    /// evaluated by hand in double precision (the control network's outputs read from the network itself).
    func testLogWeightsAndLossesByHand() throws {
        let target = GaussianMixture(name: "n", means: [[0.5, -1]], componentStd: 0.8, defaultSigma2: 1)
        let given: [[Double]] = [[0.4, -1.2, 2.0, 0.1], [0.9, -0.3, 1.1, 0.7], [0.2, 0.5, -0.6, -1.4]]  // per state: 2 rows of d = 2
        let states = given.map { Matrix(rows: 2, cols: 2, storage: $0.map(Float.init)) }
        func logNormal(_ x: [Double], _ m: [Double], _ v: Double) -> Double {
            zip(x, m).reduce(0) { $0 - 0.5 * log(2 * .pi * v) - 0.5 * ($1.0 - $1.1) * ($1.0 - $1.1) / v }
        }
        for (control, aF, aB) in [(AnnealedLangevin.Control.none, 0.0, 0.0), (.backward, 0, 1), (.both, 1, 1)] {
            let model = sampler(control, steps: 2, dimension: 2)
            let (beta, delta) = model.currentSchedule()
            let s2 = 1.3 * 1.3
            var expected = [Double]()
            for r in 0..<2 {
                let x = (0...2).map { k in given[k].indices.filter { $0 / 2 == r }.map { given[k][$0] } }
                func drift(_ k: Int) -> [Double] {  // ∇log π_k(x_k)
                    (0..<2).map { c in -(1 - Double(beta[k])) * x[k][c] / s2 - Double(beta[k]) * (x[k][c] - [0.5, -1][c]) / 0.64 }
                }
                func u(_ k: Int) -> [Double] {
                    guard let net = model.network else { return [0, 0] }
                    let out = net.evaluate(Matrix(rows: 1, cols: 2, storage: x[k].map(Float.init)), t: [Float(k) / 2])
                    return out.storage.map(Double.init)
                }
                var w = logNormal(x[2], [0.5, -1], 0.64) - logNormal(x[0], [0, 0], s2)
                for k in 0..<2 {
                    let dk = Double(delta[k])
                    let forward = (0..<2).map { x[k][$0] + dk * (drift(k)[$0] + aF * u(k)[$0]) }
                    let backward = (0..<2).map { x[k + 1][$0] + dk * (drift(k + 1)[$0] - aB * u(k + 1)[$0]) }
                    w += logNormal(x[k], backward, 2 * dk) - logNormal(x[k + 1], forward, 2 * dk)
                }
                expected.append(w)
            }
            var rng = Xoshiro256(seed: 1)
            var failure: (any Error)?
            let paths = try model.simulate(target, count: 2, rng: &rng, tape: Tape(), pathwise: false, given: states, failure: &failure)
            for r in 0..<2 { XCTAssertEqual(paths.logWeights[r], expected[r], accuracy: 1e-4 * max(1, abs(expected[r])), "\(control)") }
            let mean = expected.reduce(0, +) / 2
            let tape = Tape()
            let fixed = try model.simulate(target, count: 2, rng: &rng, tape: tape, pathwise: false, given: states, failure: &failure)
            XCTAssertEqual(Double(tape.value(tape.batchVariance(fixed.logWeight)).scalar),
                           expected.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 2, accuracy: 1e-3, "\(control)")
        }
    }
}

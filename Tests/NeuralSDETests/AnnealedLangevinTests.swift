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
        XCTAssertLessThan(steps[0], steps[4])  // the step shape rises toward the target
        XCTAssertEqual(steps[4], fresh.stepFactor(4), accuracy: 1e-7)  // softplus(c) = 1 at the start
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
}

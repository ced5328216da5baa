import XCTest
@testable import NeuralSDE
@testable import Numerics
import TestSupport

extension XCTestCase {
    /// A network with every parameter random (the zero output layer would hide inner gradients).
    func randomNetwork(dimension: Int, langevin: Bool, flow: Bool = false, learnedVariance: Bool = false) -> DriftNetwork {
        var rng = Xoshiro256(seed: 21)
        var net = DriftNetwork(dimension: dimension, hidden: 8, langevin: langevin, flow: flow,
                               learnedVariance: learnedVariance, rng: &rng)
        for i in net.parameters.values.indices { net.parameters.values[i] = 0.4 * rng.nextGaussian() }
        return net
    }

    /// Compares the gradients accumulated in `net` with bounded-error finite differences of `loss` at about
    /// `perSlot` entries of every parameter slot; returns how many entries were checked.
    func assertGradientsMatch(_ net: DriftNetwork, step h: Double, perSlot: Int,
                              _ loss: (DriftNetwork) throws -> Double, line: UInt = #line) throws -> Int {
        let (checked, failures) = try FiniteDifference.checkParameters(net.parameters, perSlot: perSlot, step: h) { store in
            var n = net
            n.parameters = store
            return try loss(n)
        }
        for f in failures { XCTFail(f, line: line) }
        return checked
    }
}

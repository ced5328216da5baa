import XCTest
@testable import NeuralSDE
@testable import Objectives
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

    /// Accumulates the pathwise gradient of the reverse KL (PIS, DIS, DDS) of 6 seeded paths into `net` and checks it
    /// against bounded-error finite differences of the loss of the same paths; returns the network with its gradients
    /// and how many entries were checked.
    func assertPathwiseGradientMatches(_ start: DriftNetwork, sampler: PathSampler, exploration: Float = 0,
                                       line: UInt = #line) throws -> (net: DriftNetwork, checked: Int) {
        var net = start
        func loss(_ n: DriftNetwork) throws -> Double {
            var kl = ReverseKL()
            return kl.evaluate(try sampler.sampleForward(n, batchSize: 6, exploration: exploration, seed: 4, stream: 0, context: "t")).loss
        }
        var kl = ReverseKL()
        let batch = try sampler.sampleForward(net, batchSize: 6, exploration: exploration, seed: 4, stream: 0, context: "t")
        let out = kl.evaluate(batch)
        let pathwise = try XCTUnwrap(out.pathwise, line: line)
        net.parameters.zeroGradients()
        try sampler.accumulatePathwiseGradients(&net, batch: batch, logForwardCotangent: out.logForwardCotangent,
                                                logBackwardCotangent: pathwise.logBackwardCotangent,
                                                logRewardCotangent: pathwise.logRewardCotangent)
        return (net, try assertGradientsMatch(net, step: 2e-2, perSlot: 4, loss, line: line))
    }
}

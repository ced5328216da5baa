import XCTest
@testable import NeuralSDE
@testable import Objectives
@testable import Densities
@testable import Numerics
import TestSupport

final class PathSamplerTests: XCTestCase {
    /// At initialisation the policy is Brownian motion; for the target N(0, σ²I) the bridge is its exact time
    /// reversal, so every path's log weight equals log Z = 0.
    func testBrownianMotionIsExactForGaussianTarget() throws {
        var rng = Xoshiro256(seed: 1)
        let net = DriftNetwork(dimension: 3, hidden: 8, rng: &rng)
        let target = GaussianMixture(name: "n", means: [[0, 0, 0]], componentStd: Float(2).squareRoot(), defaultSigma2: 2)
        let sampler = PathSampler(target: target, process: DiffusionProcess(sigma2: 2, grid: .uniform(steps: 7)), threads: 2)
        let batch = try sampler.sampleForward(net, batchSize: 50, seed: 3, stream: 0, context: "test")
        for w in batch.logWeights { XCTAssertEqual(w, 0, accuracy: 1e-3) }
        let back = try sampler.sampleBackward(net, terminal: batch.terminalStates, seed: 4, stream: 0, context: "test")
        for w in back.logWeights { XCTAssertEqual(w, 0, accuracy: 1e-3) }
    }

    /// Random and shifted grids are valid grids, and the exactness of Brownian motion for N(0, σ²I) holds on them.
    func testRandomAndShiftedGrids() throws {
        var rng = Xoshiro256(seed: 3)
        for _ in 0..<200 {
            let g = TimeGrid.random(steps: 7, rng: &rng), h = TimeGrid.shifted(steps: 7, rng: &rng)
            for grid in [g, h] {
                XCTAssertEqual(grid.steps, 7)
                XCTAssertEqual(grid.times.first, 0)
                XCTAssertEqual(grid.times.last, 1)
                XCTAssertTrue(zip(grid.times, grid.times.dropFirst()).allSatisfy { $0 < $1 })
            }
            let shift = h.times[1] * 7  // = 1 − u
            for i in 1..<7 { XCTAssertEqual(h.times[i], (Float(i) - 1 + shift) / 7, accuracy: 1e-6) }
        }
        let net = DriftNetwork(dimension: 2, hidden: 8, rng: &rng)
        let target = GaussianMixture(name: "n", means: [[0, 0]], componentStd: Float(2).squareRoot(), defaultSigma2: 2)
        let sampler = PathSampler(target: target, process: DiffusionProcess(sigma2: 2, grid: .random(steps: 9, rng: &rng)))
        let batch = try sampler.sampleForward(net, batchSize: 40, seed: 1, stream: 0, context: "test")
        for w in batch.logWeights { XCTAssertEqual(w, 0, accuracy: 1e-3) }
    }

    /// Samples do not depend on the number of threads.
    func testThreadCountDoesNotChangeSamples() throws {
        let net = randomNetwork(dimension: 4, langevin: true)
        let process = DiffusionProcess(sigma2: 1, grid: .uniform(steps: 6))
        let one = try PathSampler(target: ManyWell(dimension: 4), process: process, threads: 1)
            .sampleForward(net, batchSize: 9, exploration: 0.1, seed: 5, stream: 2, context: "t")
        let two = try PathSampler(target: ManyWell(dimension: 4), process: process, threads: 2)
            .sampleForward(net, batchSize: 9, exploration: 0.1, seed: 5, stream: 2, context: "t")
        XCTAssertEqual(one.states, two.states)
        XCTAssertEqual(one.logForward, two.logForward)
    }

    /// The TB loss gradient with respect to every network parameter against central finite differences, on
    /// teacher-forced bridge paths (states are data), with and without the Langevin term and a learned variance, on the
    /// Brownian reference and on the variance-preserving ones (backward paths to a random x₀, identity steps of DDS).
    func testTrajectoryBalanceGradientMatchesFiniteDifferences() throws {
        let brownian = BrownianReference(sigma2: 1)
        let cases: [(Bool, Bool, any ReferenceProcess)] = [
            (false, false, brownian), (true, false, brownian), (false, true, brownian), (true, true, brownian),
            (true, false, VariancePreservingReference(scale: 1, schedule: .cosine(minimum: 0.01, maximum: 2))),
            (false, true, ExponentialVPReference(scale: 1, noiseScale: 2)),
        ]
        for (langevin, learnedVariance, reference) in cases {
            var net = randomNetwork(dimension: 4, langevin: langevin, learnedVariance: learnedVariance)
            let target = ManyWell(dimension: 4)
            let sampler = PathSampler(target: target, process: DiffusionProcess(reference: reference, grid: .uniform(steps: 5)), threads: 2)
            var rng = Xoshiro256(seed: 8)
            let terminal = target.exactSamples(count: 6, rng: &rng)!
            func loss(_ n: DriftNetwork) throws -> Double {
                var tb = TrajectoryBalance(initialLogZ: 1.5)
                return tb.evaluate(try sampler.sampleBackward(n, terminal: terminal, seed: 9, stream: 0, context: "t")).loss
            }
            var tb = TrajectoryBalance(initialLogZ: 1.5)
            let batch = try sampler.sampleBackward(net, terminal: terminal, seed: 9, stream: 0, context: "t")
            let out = tb.evaluate(batch)
            net.parameters.zeroGradients()
            sampler.accumulateGradients(&net, batch: batch, logForwardCotangent: out.logForwardCotangent)
            // One set of loss evaluations judges both the gradient and the same gradient 2 % off.
            let estimates = try FiniteDifference.parameterEstimates(net.parameters, perSlot: 5, step: 5e-2) { store in
                var n = net
                n.parameters = store
                return try loss(n)
            }
            XCTAssertGreaterThan(estimates.count, 50)
            for entry in estimates where !entry.estimate.accepts(Double(net.parameters.gradients[entry.index])) {
                XCTFail(entry.estimate.message(Double(net.parameters.gradients[entry.index]), entry.label))
            }
            // The check is sharp: gradients 2 % off fail at most entries even on this noisiest case (TB residual
            // ≈ 230, loss ≈ 5·10⁴, so float32 rounding shows in every loss value).
            let wrong = estimates.filter { !$0.estimate.accepts(Double(net.parameters.gradients[$0.index] * 1.02)) }
            XCTAssertGreaterThan(wrong.count, estimates.count / 2, "langevin \(langevin), learned variance \(learnedVariance), \(reference)")
        }
    }

    /// A learned variance output o scales every step's variance by e^{4·tanh(o)}: with zero drift and a constant o,
    /// x_T ~ N(0, σ²·e^{4·tanh(o)}·I), and log p_F is that Gaussian kernel's density.
    func testLearnedVarianceScalesTheSteps() throws {
        var rng = Xoshiro256(seed: 5)
        var net = DriftNetwork(dimension: 2, hidden: 8, learnedVariance: true, rng: &rng)
        let out = net.layout.stateLayers[3].bias
        net.parameters.values[out.offset + 2] = 0.2
        net.parameters.values[out.offset + 3] = -0.3
        let sampler = PathSampler(target: GaussianMixture(name: "n", means: [[0, 0]], componentStd: 1, defaultSigma2: 1),
                                  process: DiffusionProcess(sigma2: 1.5, grid: .uniform(steps: 4)), threads: 2)
        let batch = try sampler.sampleForward(net, batchSize: 20000, seed: 1, stream: 0, context: "t")
        let x = batch.terminalStates
        for (c, o) in [(0, Float(0.2)), (1, Float(-0.3))] {
            let variance = (0..<x.rows).reduce(0.0) { $0 + Double(x[$1, c] * x[$1, c]) } / Double(x.rows)
            let expected = 1.5 * Double(exp(4 * tanh(o)))
            XCTAssertEqual(variance, expected, accuracy: 0.03 * expected)
        }
        // One transition by hand: step 2 of path 7.
        let B = 20000, d = 2
        var logp = 0.0
        for (c, o) in [(0, Float(0.2)), (1, Float(-0.3))] {
            let v = 1.5 * 0.25 * Double(exp(4 * tanh(o)))
            let r = Double(batch.states[(3 * B + 7) * d + c] - batch.states[(2 * B + 7) * d + c])
            logp += -0.5 * log(2 * Double.pi * v) - r * r / (2 * v)
        }
        XCTAssertEqual(Double(batch.logForward[2 * B + 7]), logp, accuracy: 1e-4)
    }

    /// DB and FL-SubTB: gradients through the drift and the flow head (which shares the trunk) against central
    /// finite differences, on bridge paths, with and without the Langevin term.
    func testFlowObjectiveGradientsMatchFiniteDifferences() throws {
        let cases: [(SubTrajectoryBalance, Bool)] = [(.detailedBalance(), false), (.subTrajectoryBalance(forwardLooking: true), true)]
        for langevin in [false, true] {
            for (objective, forwardLooking) in cases {
                var net = randomNetwork(dimension: 4, langevin: langevin, flow: true)
                let target = ManyWell(dimension: 4)
                let sampler = PathSampler(target: target, process: DiffusionProcess(sigma2: 1, grid: .uniform(steps: 5)), threads: 2)
                sampler.forwardLooking = forwardLooking
                var rng = Xoshiro256(seed: 8)
                let terminal = target.exactSamples(count: 6, rng: &rng)!
                func loss(_ n: DriftNetwork) throws -> Double {
                    var o = objective
                    return o.evaluate(try sampler.sampleBackward(n, terminal: terminal, seed: 9, stream: 0, context: "t")).loss
                }
                var o = objective
                let batch = try sampler.sampleBackward(net, terminal: terminal, seed: 9, stream: 0, context: "t")
                let out = o.evaluate(batch)
                net.parameters.zeroGradients()
                sampler.accumulateGradients(&net, batch: batch, logForwardCotangent: out.logForwardCotangent,
                                            logFlowCotangent: out.logFlowCotangent)
                let checked = try assertGradientsMatch(net, step: 5e-2, perSlot: 5, loss)
                XCTAssertGreaterThan(checked, 50)
            }
        }
    }

    /// Forward-looking flows are the head's output plus (1 − t)·log N(x; 0, σ²t) + t·log R(x), and nothing at x₀.
    func testForwardLookingBaseline() throws {
        let net = randomNetwork(dimension: 2, langevin: false, flow: true)
        let target = GaussianMixture(name: "g", means: [[1, -1]], componentStd: 0.7, defaultSigma2: 3)
        let sampler = PathSampler(target: target, process: DiffusionProcess(sigma2: 3, grid: .uniform(steps: 4)), threads: 2)
        let plain = try sampler.sampleForward(net, batchSize: 5, seed: 2, stream: 0, context: "t")
        sampler.forwardLooking = true
        let looking = try sampler.sampleForward(net, batchSize: 5, seed: 2, stream: 0, context: "t")
        XCTAssertEqual(plain.states, looking.states)
        for i in 0..<4 {
            let t = Float(i) / 4
            for b in 0..<5 {
                let x = [looking.states[(i * 5 + b) * 2], looking.states[(i * 5 + b) * 2 + 1]]
                var expected: Float = 0
                if i > 0 {
                    let prior = -log(2 * Float.pi * 3 * t) - (x[0] * x[0] + x[1] * x[1]) / (2 * 3 * t)
                    let reward = try target.logDensity(Matrix(rows: 1, cols: 2, storage: x))[0]
                    expected = (1 - t) * prior + t * Float(reward)
                }
                XCTAssertEqual(looking.logFlow[i * 5 + b] - plain.logFlow[i * 5 + b], expected, accuracy: 1e-4)
            }
        }
    }

    /// PIS: the gradient of mean(S_F − S_B − log R) through the reparameterised path (noise held fixed by the
    /// seed) against central finite differences of resampled paths, on a random grid, with exploration noise.
    func testPathwiseGradientMatchesFiniteDifferences() throws {
        var net = randomNetwork(dimension: 4, langevin: false)
        for i in net.parameters.values.indices { net.parameters.values[i] *= 0.5 }
        var rng = Xoshiro256(seed: 17)
        let sampler = PathSampler(target: ManyWell(dimension: 4),
                                  process: DiffusionProcess(sigma2: 1, grid: .random(steps: 5, rng: &rng)), threads: 2)
        let (_, checked) = try assertPathwiseGradientMatches(net, sampler: sampler, exploration: 0.1)
        XCTAssertGreaterThan(checked, 40)
    }

    /// A target that returns NaN is reported with the target's name and the context.
    func testNonFiniteDensityIsReported() {
        struct Broken: Target {
            let name = "broken"
            let dimension = 2
            func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                          gradient: UnsafeMutablePointer<Float>?) {
                for r in 0..<count { logDensity[r] = r == 3 ? .nan : 0 }
            }
        }
        var rng = Xoshiro256(seed: 1)
        let net = DriftNetwork(dimension: 2, hidden: 8, rng: &rng)
        let sampler = PathSampler(target: Broken(), process: DiffusionProcess(sigma2: 1, grid: .uniform(steps: 3)))
        XCTAssertThrowsError(try sampler.sampleForward(net, batchSize: 5, seed: 1, stream: 0, context: "iteration 7")) { error in
            XCTAssertTrue("\(error)".contains("broken") && "\(error)".contains("iteration 7"), "\(error)")
        }
    }
}

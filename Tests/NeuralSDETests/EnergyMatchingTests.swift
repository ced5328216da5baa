import XCTest
import Foundation
@testable import Objectives
@testable import Training
@testable import Densities
@testable import Numerics
@testable import NeuralSDE

final class EnergyMatchingTests: XCTestCase {
    func testGeometricSchedule() {
        let s = GeometricNoiseSchedule(sigmaMin: 0.01, sigmaMax: 2)
        XCTAssertEqual(s.sigma(0), 0.01, accuracy: 1e-7)
        XCTAssertEqual(s.sigma(1), 2, accuracy: 1e-5)
        XCTAssertEqual(s.variance(0), 0, accuracy: 1e-9)
        for t: Float in [0.2, 0.5, 0.9] {  // g² = dσ²/dt
            let h: Float = 1e-3
            let numeric = (s.sigma(t + h) * s.sigma(t + h) - s.sigma(t - h) * s.sigma(t - h)) / (2 * h)
            XCTAssertEqual(s.diffusionSquared(t), numeric, accuracy: 1e-3 * numeric)
        }
    }

    /// For R = N(μ, s²I), the noised density is N(μ, (s² + h(t))·I) and its score −(x − μ)/(s² + h(t)) is what the
    /// estimator converges to.
    func testScoreEstimateMatchesExactNoisedGaussianScore() throws {
        let mu: [Float] = [1, -0.5], s: Float = 0.7
        let target = GaussianMixture(name: "g", means: [mu], componentStd: s, defaultSigma2: 1)
        let schedule = GeometricNoiseSchedule(sigmaMin: 0.01, sigmaMax: 2)
        let x = Matrix(rows: 3, cols: 2, storage: [0.5, 0, 1.5, -1, 0, 0.5])  // within ~1.5 std of the mean, where K = 40 000 suffices
        let t: [Float] = [0.1, 0.6, 0.9]
        let estimate = try MonteCarloScore(samples: 40000, maxNorm: nil)
            .estimate(target, x: x, t: t, schedule: schedule, seed: 1, stream: 0, context: "test")
        for r in 0..<3 {
            let v = s * s + schedule.variance(t[r])
            for c in 0..<2 {
                let exact = -(x[r, c] - mu[c]) / v
                XCTAssertEqual(estimate[r, c], exact, accuracy: 0.03 * max(1, abs(exact)), "row \(r) coordinate \(c)")
            }
        }
        // Clipping scales long estimates down to the maximum norm, keeping their direction.
        let clipped = try MonteCarloScore(samples: 40000, maxNorm: 0.5)
            .estimate(target, x: x, t: t, schedule: schedule, seed: 1, stream: 0, context: "test")
        for r in 0..<3 {
            let norm = (clipped[r, 0] * clipped[r, 0] + clipped[r, 1] * clipped[r, 1]).squareRoot()
            XCTAssertLessThanOrEqual(norm, 0.5 + 1e-5)
            XCTAssertEqual(clipped[r, 0] * estimate[r, 1], clipped[r, 1] * estimate[r, 0], accuracy: 1e-4)
        }
    }

    /// Where the proposals miss the posterior (a narrow Gaussian, large h, K = 4), the plain estimate is far off
    /// on average, and adding the clean configuration, drawn here from the exact posterior p(x₀ | x), makes the
    /// average the exact noised score −x/(s² + h).
    func testConditionalEstimateIsUnbiasedWithCleanPosteriorDraws() throws {
        let s: Float = 0.1, n = 4000
        let target = GaussianMixture(name: "g", means: [[0, 0]], componentStd: s, defaultSigma2: 1)
        let schedule = GeometricNoiseSchedule(sigmaMin: 0.01, sigmaMax: 2)
        let t = [Float](repeating: 0.8, count: n), h = schedule.variance(0.8), point: [Float] = [1, -0.5]
        let x = Matrix(rows: n, cols: 2, storage: (0..<n).flatMap { _ in point })
        var rng = Xoshiro256(seed: 5)
        let (mean, sd) = (s * s / (s * s + h), (s * s * h / (s * s + h)).squareRoot())
        var clean = rng.gaussianMatrix(rows: n, cols: 2)
        for r in 0..<n { for c in 0..<2 { clean[r, c] = mean * point[c] + sd * clean[r, c] } }
        func average(_ estimator: MonteCarloScore) throws -> [Float] {
            let e = try estimator.estimate(target, x: x, t: t, schedule: schedule, seed: 6, stream: 0, context: "test",
                                           clean: clean)
            return (0..<2).map { c in (0..<n).reduce(Float(0)) { $0 + e[$1, c] } / Float(n) }
        }
        let conditional = try average(MonteCarloScore(samples: 4, maxNorm: nil, conditional: true))
        let plain = try average(MonteCarloScore(samples: 4, maxNorm: nil))
        XCTAssertEqual(MonteCarloScore(samples: 4, maxNorm: nil, conditional: true).evaluationsPerPoint, 5)
        for c in 0..<2 {
            let exact = -point[c] / (s * s + h)  // per-estimate sd ≈ sd/s² ≈ 10, so the mean of 4000 is within ±0.16
            XCTAssertEqual(conditional[c], exact, accuracy: 0.6, "coordinate \(c)")
            XCTAssertGreaterThan(abs(plain[c] - exact), 5, "coordinate \(c): the plain estimate should be biased here")
        }
    }

    /// On a particle system the estimate lies in the centre-of-mass-free subspace, clipped or not.
    func testParticleScoresAreMeanFree() throws {
        let target = DoubleWellParticles()
        var rng = Xoshiro256(seed: 2)
        let x = rng.gaussianMatrix(rows: 4, cols: 8)
        let estimate = try MonteCarloScore(samples: 200, maxNorm: nil)
            .estimate(target, x: x, t: [0.2, 0.4, 0.6, 0.8], schedule: GeometricNoiseSchedule(sigmaMin: 1e-5, sigmaMax: 3),
                      seed: 3, stream: 0, context: "test")
        func assertMeanFree(_ m: Matrix) {
            for r in 0..<4 {
                for a in 0..<2 { XCTAssertEqual((0..<4).reduce(Float(0)) { $0 + m[r, $1 * 2 + a] }, 0, accuracy: 1e-4) }
            }
        }
        assertMeanFree(estimate)
        // The clip acts on each particle's vector (iDEM's convention), then the result is centred again. The clip
        // is set at the median particle norm, so about half the vectors are shortened.
        let e = estimate.storage
        let norms = stride(from: 0, to: e.count, by: 2).map { (k: Int) -> Float in
            let (a, b) = (e[k], e[k + 1])
            return (a * a + b * b).squareRoot()
        }
        let clip = norms.sorted()[8]
        let clipped = try MonteCarloScore(samples: 200, maxNorm: clip)
            .estimate(target, x: x, t: [0.2, 0.4, 0.6, 0.8], schedule: GeometricNoiseSchedule(sigmaMin: 1e-5, sigmaMax: 3),
                      seed: 3, stream: 0, context: "test")
        var expected = e
        for (p, norm) in norms.enumerated() where norm > clip {
            expected[2 * p] *= clip / norm
            expected[2 * p + 1] *= clip / norm
        }
        removeCentreOfMass(&expected, particles: target.particleStructure!)
        for k in expected.indices { XCTAssertEqual(clipped.storage[k], expected[k], accuracy: 1e-4) }
        assertMeanFree(clipped)
        // Every point has its own stream, so threads that share the rows give the same estimates bit for bit.
        let threaded = try MonteCarloScore(samples: 200, maxNorm: clip)
            .estimate(target, x: x, t: [0.2, 0.4, 0.6, 0.8], schedule: GeometricNoiseSchedule(sigmaMin: 1e-5, sigmaMax: 3),
                      seed: 3, stream: 0, context: "test", threads: 3)
        XCTAssertEqual(threaded, clipped)
    }
}

final class EnergyMatchingTrainerTests: XCTestCase {
    /// iDEM on a 2-D Gaussian: after a few epochs the reverse SDE's samples have the target's mean and spread,
    /// and the FIFO buffer keeps only the newest rows.
    func testLearnsAGaussian() throws {
        let mu: [Float] = [1, -0.5]
        let target = GaussianMixture(name: "g", means: [mu], componentStd: 0.5, defaultSigma2: 1)
        var rng = Xoshiro256(seed: 4)
        let net = TimeConditionedMLP(dimension: 2, hidden: 32, depth: 2, rng: &rng)
        var settings = EnergyMatchingSettings(schedule: GeometricNoiseSchedule(sigmaMin: 0.01, sigmaMax: 3),
                                              estimator: MonteCarloScore(samples: 200, maxNorm: 50))
        settings.integrationSteps = 100
        settings.samplesPerEpoch = 300
        settings.innerSteps = 60
        settings.batchSize = 128
        settings.bufferCapacity = 1000
        settings.optimizer.learningRate = 3e-3
        let trainer = EnergyMatchingTrainer(target: target, network: net, settings: settings, seed: 1)
        for _ in 0..<8 { try trainer.trainEpoch() }
        XCTAssertEqual(trainer.buffer.count, 1000 * 2)
        XCTAssertEqual(trainer.gradientEvaluations, 8 * 60 * 128 * 200)
        func assertMoments(_ x: Matrix, _ label: String) {
            for c in 0..<2 {
                let column = (0..<x.rows).map { Double(x[$0, c]) }
                let mean = column.reduce(0, +) / Double(x.rows)
                let squares: Double = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
                let std = (squares / Double(x.rows)).squareRoot()
                XCTAssertEqual(mean, Double(mu[c]), accuracy: 0.1, "\(label), coordinate \(c)")
                XCTAssertEqual(std, 0.5, accuracy: 0.1, "\(label), coordinate \(c)")
            }
        }
        let x = trainer.generate(count: 2000, stream: 99)
        assertMoments(x, "one thread")
        // The same network generating on two threads: other draws (a stream per thread), the same distribution,
        // and the same numbers again for the same thread count.
        settings.threads = 2
        let twin = EnergyMatchingTrainer(target: target, network: net, settings: settings, seed: 1)
        try twin.restore(trainer.state)
        let split = twin.generate(count: 2000, stream: 99)
        assertMoments(split, "two threads")
        XCTAssertNotEqual(split, x)
        XCTAssertEqual(twin.generate(count: 2000, stream: 99), split)
        // Continuing with conditional targets (each weighs its clean buffer row too: K + 1 evaluations per point)
        // keeps the moments.
        settings.estimator.conditional = true
        let conditional = EnergyMatchingTrainer(target: target, network: net, settings: settings, seed: 1)
        try conditional.restore(trainer.state)
        for _ in 0..<2 { try conditional.trainEpoch() }
        XCTAssertEqual(conditional.gradientEvaluations, trainer.gradientEvaluations + 2 * 60 * 128 * 201)
        assertMoments(conditional.generate(count: 2000, stream: 99), "conditional targets")
    }

    /// A network that records at most five rows per tape, so that a small batch spans several chunks.
    struct FiveRowChunks: ScoreNetwork {
        var inner: TimeConditionedMLP
        var parameters: ParameterStore {
            get { inner.parameters }
            set { inner.parameters = newValue }
        }
        var chunkRows: Int { 5 }
        var architecture: String { "five-row chunks of " + inner.architecture }
        func forward(_ tape: Tape, x: Matrix, t: [Float]) -> Tape.Variable { inner.forward(tape, x: x, t: t) }
    }

    /// A regression step split into chunks (16 rows → four chunks of four) has the one-tape gradient and loss, and
    /// running the chunks on three threads gives the same step bit for bit.
    func testChunkedRegressionStepMatchesOneTape() throws {
        var rng = Xoshiro256(seed: 6)
        let mlp = TimeConditionedMLP(dimension: 2, hidden: 8, depth: 2, rng: &rng)
        var settings = EnergyMatchingSettings(schedule: GeometricNoiseSchedule(sigmaMin: 0.01, sigmaMax: 3),
                                              estimator: MonteCarloScore(samples: 8, maxNorm: nil))
        settings.batchSize = 16
        func step(_ network: any ScoreNetwork, threads: Int) throws -> (loss: Double, trainer: EnergyMatchingTrainer) {
            var s = settings
            s.threads = threads
            let trainer = EnergyMatchingTrainer(target: WalledGaussian(), network: network, settings: s, seed: 1)
            var draws = Xoshiro256(seed: 8)
            var state = trainer.state  // a set buffer: generating one would depend on the thread count
            // Half-width draws stay inside the wall at x₀ = 2, so every point keeps some finite Monte-Carlo samples.
            state.buffer = draws.gaussianMatrix(rows: 64, cols: 2).storage.map { 0.5 * $0 }
            try trainer.restore(state)
            return (try trainer.regressionStep(stream: 7), trainer)
        }
        let whole = try step(mlp, threads: 1)
        let chunked = try step(FiveRowChunks(inner: mlp), threads: 1)
        let shared = try step(FiveRowChunks(inner: mlp), threads: 3)
        XCTAssertEqual(chunked.loss, whole.loss, accuracy: 1e-6 * whole.loss)
        let g = whole.trainer.network.parameters.gradients, gc = chunked.trainer.network.parameters.gradients
        let scale = g.map(abs).max()!
        XCTAssertGreaterThan(scale, 1e-3, "the test needs a non-trivial gradient")
        for k in g.indices { XCTAssertEqual(gc[k], g[k], accuracy: 1e-5 * scale, "gradient \(k)") }
        XCTAssertEqual(shared.loss, chunked.loss)
        XCTAssertEqual(shared.trainer.network.parameters, chunked.trainer.network.parameters)
    }

    /// c times the exact score of N(μ, s²I) noised to time t, −(x − μ)/(s² + v(t)): a "network" without parameters.
    struct ScaledExactScore: ScoreNetwork {
        let mu: [Float], s2: Float, c: Float, schedule: GeometricNoiseSchedule
        var parameters = ParameterStore()
        var chunkRows: Int { 4096 }
        var architecture: String { "scaled exact score" }
        func forward(_ tape: Tape, x: Matrix, t: [Float]) -> Tape.Variable {
            var out = x
            for r in 0..<x.rows { for k in 0..<x.cols {
                out[r, k] = -c * (x[r, k] - mu[k]) / (s2 + schedule.variance(t[r]))
            } }
            return tape.constant(out)
        }
    }

    /// On a Gaussian, a score that is c times the exact one has slope c and relative error |1 − c| against the
    /// Monte-Carlo target, and a mean squared error (1 − c)² times the target's mean square, at times where K samples
    /// estimate the score well (σ(t) up to about the target's width; at larger σ their noise lowers the slope).
    func testScoreErrorsOfAScaledExactScore() throws {
        let mu: [Float] = [1, -0.5], schedule = GeometricNoiseSchedule(sigmaMin: 0.01, sigmaMax: 2)
        let target = GaussianMixture(name: "g", means: [mu], componentStd: 0.5, defaultSigma2: 1)
        let settings = EnergyMatchingSettings(schedule: schedule, estimator: MonteCarloScore(samples: 4000, maxNorm: nil))
        let network = ScaledExactScore(mu: mu, s2: 0.25, c: 0.8, schedule: schedule)
        let trainer = EnergyMatchingTrainer(target: target, network: network, settings: settings, seed: 1)
        var rng = Xoshiro256(seed: 9)
        var clean = rng.gaussianMatrix(rows: 300, cols: 2)
        for r in 0..<300 { for k in 0..<2 { clean[r, k] = mu[k] + 0.5 * clean[r, k] } }
        let errors = try trainer.scoreErrors(clean: clean, times: [0, 0.3, 0.6], averaged: true)
        XCTAssertEqual(errors.map(\.t), [0, 0.3, 0.6])
        for e in errors {
            XCTAssertEqual(e.sigma, schedule.variance(e.t).squareRoot())
            XCTAssertEqual(e.slope, 0.8, accuracy: 0.02, "t = \(e.t)")
            XCTAssertEqual(e.relativeError, 0.2, accuracy: 0.02, "t = \(e.t)")
            XCTAssertEqual(e.meanSquaredError / e.targetMeanSquare, 0.04, accuracy: 0.008, "t = \(e.t)")
        }
        // At t = 0 the target is the Gaussian's score, of mean square 1/s² per coordinate at points drawn from it.
        XCTAssertEqual(errors[0].targetMeanSquare, 4, accuracy: 0.4)
    }

    /// With buffer refinement, an untrained sampler's N(0, 3²) samples enter the buffer as MALA states of the target
    /// N(μ, 0.5²): the buffer has the target's moments, the step sizes reached the aimed acceptance, and every sweep
    /// is counted as a gradient evaluation.
    func testRefinementMovesTheBufferToTheTarget() throws {
        let mu: [Float] = [1, -0.5]
        let target = GaussianMixture(name: "g", means: [mu], componentStd: 0.5, defaultSigma2: 1)
        var rng = Xoshiro256(seed: 5)
        var settings = EnergyMatchingSettings(schedule: GeometricNoiseSchedule(sigmaMin: 0.01, sigmaMax: 3),
                                              estimator: MonteCarloScore(samples: 4, maxNorm: nil))
        (settings.integrationSteps, settings.samplesPerEpoch, settings.innerSteps) = (10, 1000, 0)
        (settings.refinementSweeps, settings.refinementStepSize) = (200, 0.1)
        let trainer = EnergyMatchingTrainer(target: target, network: TimeConditionedMLP(dimension: 2, hidden: 4, depth: 1, rng: &rng),
                                            settings: settings, seed: 1)
        XCTAssertNil(trainer.refinementAcceptance)
        try trainer.trainEpoch()
        XCTAssertEqual(trainer.gradientEvaluations, 1000 * 201)
        XCTAssertEqual(try XCTUnwrap(trainer.refinementAcceptance), 0.574, accuracy: 0.1)
        for c in 0..<2 {
            let column = (0..<1000).map { Double(trainer.buffer[2 * $0 + c]) }
            let mean = column.reduce(0, +) / 1000
            let std = (column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 1000).squareRoot()
            XCTAssertEqual(mean, Double(mu[c]), accuracy: 0.1, "coordinate \(c)")
            XCTAssertEqual(std, 0.5, accuracy: 0.08, "coordinate \(c)")
        }
    }

    /// A standard Gaussian with an infinite wall at x₀ > 2 (log R = −∞ there).
    struct WalledGaussian: Target {
        let name = "walled", dimension = 2
        func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                      gradient: UnsafeMutablePointer<Float>?) throws {
            for r in 0..<count {
                logDensity[r] = x[2 * r] > 2 ? -.infinity : Double(-0.5 * (x[2 * r] * x[2 * r] + x[2 * r + 1] * x[2 * r + 1]))
                for c in 0..<2 { gradient?[2 * r + c] = -x[2 * r + c] }
            }
        }
    }

    /// Generated samples with a non-finite log R never enter the buffer; they are counted, and so are the energy
    /// evaluations that screened them.
    func testDiscardsNonFiniteSamples() throws {
        var rng = Xoshiro256(seed: 2)
        var settings = EnergyMatchingSettings(schedule: GeometricNoiseSchedule(sigmaMin: 0.01, sigmaMax: 3),
                                              estimator: MonteCarloScore(samples: 20, maxNorm: 50))
        (settings.integrationSteps, settings.samplesPerEpoch, settings.innerSteps, settings.batchSize) = (20, 400, 2, 16)
        let trainer = EnergyMatchingTrainer(target: WalledGaussian(), network: TimeConditionedMLP(dimension: 2, hidden: 8, depth: 2, rng: &rng),
                                            settings: settings, seed: 1)
        try trainer.trainEpoch()
        let kept = trainer.buffer.count / 2
        XCTAssertGreaterThan(trainer.discardedSamples, 20, "an untrained sampler spreads as N(0, 3²): about a quarter beyond the wall")
        XCTAssertEqual(kept + trainer.discardedSamples, 400)
        XCTAssertEqual(trainer.energyEvaluations, 400)
        XCTAssertTrue((0..<kept).allSatisfy { trainer.buffer[2 * $0] <= 2 })
    }

    /// A point whose every Monte-Carlo sample has log R = −∞ stops the estimate with an error naming its row, also
    /// when another thread holds it.
    func testEstimateReportsAHopelessPoint() {
        let x = Matrix(rows: 4, cols: 2, storage: [0, 0, 1, 0, 0, 1, 50, 0])  // row 3 lies far behind the wall
        XCTAssertThrowsError(try MonteCarloScore(samples: 50, maxNorm: nil)
            .estimate(WalledGaussian(), x: x, t: [0.1, 0.1, 0.1, 0.1], schedule: GeometricNoiseSchedule(sigmaMin: 0.01, sigmaMax: 3),
                      seed: 1, stream: 0, context: "test", threads: 2)) { error in
            XCTAssertTrue(error is NonFiniteDensityError, "\(error)")
            XCTAssertTrue("\(error)".contains("3"), "\(error)")
        }
    }

    /// The plateau schedule cuts the rate after `plateauPatience` epochs without a lower loss and starts counting
    /// again; a new lowest loss resets the count.
    func testPlateauCutsTheLearningRate() {
        var rng = Xoshiro256(seed: 2)
        var settings = EnergyMatchingSettings(schedule: GeometricNoiseSchedule(sigmaMin: 0.01, sigmaMax: 3),
                                              estimator: MonteCarloScore(samples: 4, maxNorm: nil))
        (settings.optimizer.learningRate, settings.optimizer.plateauPatience, settings.optimizer.plateauFactor) = (1e-3, 2, 0.5)
        settings.optimizer.schedule = .plateau
        let trainer = EnergyMatchingTrainer(target: WalledGaussian(), network: TimeConditionedMLP(dimension: 2, hidden: 4, depth: 1, rng: &rng),
                                            settings: settings, seed: 1)
        var rates: [Float] = []
        for loss in [5.0, 4.0, 4.5, 4.2, 4.1, 3.0, 3.5, 3.5] {
            trainer.updatePlateau(loss)
            rates.append(trainer.learningRate)
        }
        XCTAssertEqual(rates, [1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 5e-4, 2.5e-4])
        XCTAssertEqual(trainer.plateau, PlateauState(bestLoss: 3.0, epochsSinceBest: 0))
    }

    /// The weight average follows a ← β·a + (1 − β)·θ after every regression step from the initial weights, and
    /// generating with it leaves the trained weights alone and gives other samples than the last iterate.
    func testWeightAverageFollowsTheIterates() throws {
        var rng = Xoshiro256(seed: 3)
        var settings = EnergyMatchingSettings(schedule: GeometricNoiseSchedule(sigmaMin: 0.01, sigmaMax: 3),
                                              estimator: MonteCarloScore(samples: 8, maxNorm: nil))
        (settings.integrationSteps, settings.samplesPerEpoch, settings.innerSteps) = (10, 64, 0)
        (settings.batchSize, settings.optimizer.averageDecay) = (16, 0.75)
        let trainer = EnergyMatchingTrainer(target: WalledGaussian(), network: TimeConditionedMLP(dimension: 2, hidden: 8, depth: 2, rng: &rng),
                                            settings: settings, seed: 1)
        var expected = trainer.network.parameters.values
        XCTAssertEqual(trainer.averagedParameters, expected)
        try trainer.trainEpoch()  // fills the buffer; no regression steps (innerSteps = 0)
        for step in 0..<3 {
            _ = try trainer.regressionStep(stream: UInt64(step))
            let theta = trainer.network.parameters.values
            for k in expected.indices { expected[k] = 0.75 * expected[k] + 0.25 * theta[k] }
            XCTAssertEqual(trainer.averagedParameters, expected, "step \(step)")
        }
        XCTAssertNotEqual(expected, trainer.network.parameters.values)
        let weights = trainer.network.parameters.values
        let averaged = trainer.generate(count: 8, stream: 5, averaged: true)
        XCTAssertEqual(trainer.network.parameters.values, weights)
        XCTAssertNotEqual(averaged, trainer.generate(count: 8, stream: 5))
    }
}

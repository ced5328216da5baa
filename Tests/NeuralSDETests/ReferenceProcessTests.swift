import XCTest
@testable import NeuralSDE
@testable import Objectives
@testable import Densities
@testable import Numerics
import TestSupport

/// The variance-preserving references of DIS and DDS: their schedules, their kernels and the reverse-KL loss by hand,
/// the exactness of the DDS chain, and pathwise gradients through both against finite differences.
final class ReferenceProcessTests: XCTestCase {
    func zeroNetwork(dimension: Int) -> DriftNetwork {
        var rng = Xoshiro256(seed: 2)
        var net = DriftNetwork(dimension: dimension, hidden: 8, rng: &rng)
        for i in net.parameters.values.indices { net.parameters.values[i] = 0 }
        return net
    }

    /// log N(x; m, v) in double precision.
    func logNormal(_ x: [Double], mean: [Double], variance v: Double) -> Double {
        zip(x, mean).reduce(0) { $0 - 0.5 * log(2 * .pi * v) - 0.5 * ($1.0 - $1.1) * ($1.0 - $1.1) / v }
    }

    /// The cosine schedule at the prior, middle and target ends, from its formula.
    func testCosineScheduleEnds() {
        let schedule = NoiseSchedule.cosine(minimum: 0.01, maximum: 10)
        XCTAssertEqual(schedule.value(at: 0), 5, accuracy: 1e-3)       // max/2 at the prior
        XCTAssertEqual(schedule.value(at: 1), 0.005, accuracy: 1e-6)   // min/2 at the target
        let c = cos(0.5 * Double.pi * 0.508 / 1.008)
        XCTAssertEqual(Double(schedule.value(at: 0.5)), 0.5 * 9.99 * c * c + 0.005, accuracy: 1e-5)
    }

    /// DDS's β_i²: increments of min(6·cumsum(p)/Σp, 0.999999); they sum to 0.999999, are largest at the prior end,
    /// and for N = 128 the noise sits in the first few steps. Every step keeps N(0, s²) stationary (α² + β² = 1).
    func testExponentialScheduleAndStationarity() {
        let dds = ExponentialVPReference(scale: 1.5, noiseScale: 6)
        let b2 = dds.betaSquared(steps: 128)
        XCTAssertEqual(b2.reduce(0, +), 0.999999, accuracy: 1e-12)
        let active = b2.filter { $0 > 0 }.count
        XCTAssertEqual(active, 8)
        XCTAssertTrue(b2[0] > b2[5] && b2[5] > 0)
        XCTAssertEqual(b2[0], 6 / 128 / 0.375, accuracy: 2e-3)  // 6·p₀/Σp, Σp ≈ 128·3/8
        let grid = TimeGrid.uniform(steps: 128)
        for i in [0, 4, 8, 9, 127] {
            let k = dds.step(i, grid: grid)
            XCTAssertEqual(Double(k.decay * k.decay) * 2.25 + Double(k.forwardVariance), 2.25, accuracy: 1e-5)
            XCTAssertEqual(k.decay, k.backwardRatio)
            XCTAssertEqual(k.forwardVariance, k.backwardVariance)
            if i >= active { XCTAssertEqual(k, GaussianStep(decay: 1, driftScale: 0, forwardVariance: 0, driftPrecision: 0, backwardRatio: 1, backwardVariance: 0)) }
        }
        // With noise scale 1 every step but the last (p = cos⁴(π/2) = 0) carries noise.
        XCTAssertEqual(ExponentialVPReference(scale: 1, noiseScale: 1).betaSquared(steps: 16).filter { $0 > 0 }.count, 15)
    }

    /// With zero drift, DDS's forward chain is the stationary AR(1) chain of N(0, s²) and its backward kernel the
    /// exact reversal, so for the target N(0, s²I) every path's log weight is log Z = 0, forward and backward —
    /// identity steps included.
    func testExponentialReferenceIsExactForItsStationaryLaw() throws {
        let s: Float = 1.5
        let target = GaussianMixture(name: "n", means: [[0, 0, 0]], componentStd: s, defaultSigma2: 1)
        let process = DiffusionProcess(reference: ExponentialVPReference(scale: s, noiseScale: 3), grid: .uniform(steps: 20))
        let sampler = PathSampler(target: target, process: process, threads: 2)
        let net = zeroNetwork(dimension: 3)
        let batch = try sampler.sampleForward(net, batchSize: 40, seed: 3, stream: 0, context: "test")
        for w in batch.logWeights { XCTAssertEqual(w, 0, accuracy: 2e-3) }
        let start = (0..<3).map { Double(batch.states[$0]) }
        XCTAssertGreaterThan(start.map { $0 * $0 }.reduce(0, +), 0)  // x₀ is drawn, not 0
        let back = try sampler.sampleBackward(net, terminal: batch.terminalStates, seed: 4, stream: 0, context: "test")
        for w in back.logWeights { XCTAssertEqual(w, 0, accuracy: 2e-3) }
    }

    /// DIS's kernels and the reverse-KL loss on a two-step, two-path batch with zero drift, against the formulas
    /// evaluated by hand in double precision: p₀ = N(0, s²), forward N((1 − βΔt)x, 2βs²Δt), backward
    /// N((1 − βΔt)x', 2βs²Δt), β = the cosine schedule at the step's start.
    func testVariancePreservingKernelsAndLossByHand() throws {
        let s = 1.5, d = 2, T = 2, B = 2
        let target = GaussianMixture(name: "n", means: [[0.5, -1]], componentStd: 0.8, defaultSigma2: 1)
        let process = DiffusionProcess(reference: VariancePreservingReference(scale: Float(s), schedule: .cosine(minimum: 0.01, maximum: 10)),
                                       grid: TimeGrid(times: [0, 0.3, 1]))
        let sampler = PathSampler(target: target, process: process)
        let states: [[Double]] = [[0.4, -1.2, 2.0, 0.1], [0.9, -0.3, 1.1, 0.7], [0.2, 0.5, -0.6, -1.4]]  // per step: B rows of d
        var given = TrajectoryBatch(batchSize: B, steps: T, dimension: d)
        given.states = states.flatMap { $0.map(Float.init) }
        let batch = try sampler.teacherForced(zeroNetwork(dimension: d), states: given, context: "test")
        func beta(_ t: Double) -> Double {
            let c = cos(0.5 * .pi * (t + 0.008) / 1.008)
            return 0.5 * 9.99 * c * c + 0.005
        }
        let times = [0.0, 0.3, 1.0]
        var expectedLoss = 0.0
        for b in 0..<B {
            let x = (0...T).map { i in Array(states[i][(b * d)..<(b * d + d)]) }
            var logW = logNormal(x[T], mean: [0.5, -1], variance: 0.64) - logNormal(x[0], mean: [0, 0], variance: s * s)
            for i in 0..<T {
                let dt = times[i + 1] - times[i], be = beta(times[i]), v = 2 * be * s * s * dt
                var lf = logNormal(x[i + 1], mean: x[i].map { (1 - be * dt) * $0 }, variance: v)
                let lb = logNormal(x[i], mean: x[i + 1].map { (1 - be * dt) * $0 }, variance: v)
                XCTAssertEqual(Double(batch.logBackward[i * B + b]), lb, accuracy: 1e-4 * max(1, abs(lb)))
                if i == 0 { lf += logNormal(x[0], mean: [0, 0], variance: s * s) }
                XCTAssertEqual(Double(batch.logForward[i * B + b]), lf, accuracy: 1e-4 * max(1, abs(lf)))
                logW += lb - logNormal(x[i + 1], mean: x[i].map { (1 - be * dt) * $0 }, variance: v)
            }
            XCTAssertEqual(batch.logWeights[b], logW, accuracy: 1e-3)
            expectedLoss -= logW / Double(B)
        }
        var loss = ReverseKL()
        XCTAssertEqual(loss.evaluate(batch).loss, expectedLoss, accuracy: 1e-3)
    }

    /// The gradient of the reverse KL through DIS's and DDS's reparameterised paths (random start x₀, exploration
    /// noise, a random grid for DIS, identity steps for DDS) against bounded-error finite differences.
    func testPathwiseGradientsMatchFiniteDifferences() throws {
        var rng = Xoshiro256(seed: 17)
        let references: [(any ReferenceProcess, TimeGrid)] = [
            (VariancePreservingReference(scale: 1.1, schedule: .cosine(minimum: 0.01, maximum: 3)), .random(steps: 5, rng: &rng)),
            (ExponentialVPReference(scale: 0.9, noiseScale: 2), .uniform(steps: 6)),
        ]
        for (reference, grid) in references {
            var net = randomNetwork(dimension: 4, langevin: false)
            for i in net.parameters.values.indices { net.parameters.values[i] *= 0.5 }
            let sampler = PathSampler(target: ManyWell(dimension: 4), process: DiffusionProcess(reference: reference, grid: grid), threads: 2)
            let (_, checked) = try assertPathwiseGradientMatches(net, sampler: sampler, exploration: 0.1)
            XCTAssertGreaterThan(checked, 40, "\(reference)")
        }
    }

    /// With the Langevin term the path derivative holds the score constant (stop-gradient). For log R(x) = a·x the score
    /// is constant, so that derivative is exact: it must match finite differences, the Langevin scale's entries included,
    /// on each reference.
    func testPathwiseLangevinGradientWithConstantScore() throws {
        struct Tilted: Target {
            let name = "tilted", dimension = 3
            let a: [Float] = [0.7, -1.1, 0.4]
            func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                          gradient: UnsafeMutablePointer<Float>?) {
                for r in 0..<count {
                    logDensity[r] = (0..<3).reduce(0.0) { $0 + Double(a[$1] * x[r * 3 + $1]) }
                    if let gradient { for c in 0..<3 { gradient[r * 3 + c] = a[c] } }
                }
            }
        }
        let references: [any ReferenceProcess] = [BrownianReference(sigma2: 1.5),
            VariancePreservingReference(scale: 1, schedule: .cosine(minimum: 0.01, maximum: 3)),
            ExponentialVPReference(scale: 1, noiseScale: 2)]
        for reference in references {
            var start = randomNetwork(dimension: 3, langevin: true)
            for i in start.parameters.values.indices { start.parameters.values[i] *= 0.5 }
            let sampler = PathSampler(target: Tilted(), process: DiffusionProcess(reference: reference, grid: .uniform(steps: 5)), threads: 2)
            let (net, checked) = try assertPathwiseGradientMatches(start, sampler: sampler)
            let scaleSlots = net.parameters.slots.filter { $0.name.hasPrefix("langevin") }
            XCTAssertFalse(scaleSlots.isEmpty)
            XCTAssertTrue(scaleSlots.contains { slot in (0..<(slot.rows * slot.cols)).contains { net.parameters.gradients[slot.offset + $0] != 0 } })
            XCTAssertGreaterThan(checked, 50, "\(reference)")
        }
    }
}

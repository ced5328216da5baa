import XCTest
import Foundation
@testable import Densities
import Numerics

/// SMC and AIS on the geometric path: unbiased normalising constants on a Gaussian with known Z, the per-step Jensen
/// bound, resampling counts, and the annealed target's density and gradient.
final class AnnealingTests: XCTestCase {
    /// N((2.5, −2, 1), 0.6²I) scaled by e^{2.5}: log Z = 2.5, far enough from p₀ = N(0, I) to need the path.
    struct ShiftedGaussian: Target {
        let name = "shifted", dimension = 3
        let mean: [Float] = [2.5, -2, 1], std: Float = 0.6
        func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                      gradient: UnsafeMutablePointer<Float>?) throws {
            for r in 0..<count {
                var q = 0.0
                for k in 0..<3 {
                    let u = (x[r * 3 + k] - mean[k]) / std
                    q += Double(u * u)
                    gradient?[r * 3 + k] = -u / std
                }
                logDensity[r] = 2.5 - 0.5 * q - 3 * (log(Double(std)) + 0.5 * log(2 * Double.pi))
            }
        }
    }

    /// N(μ, A Aᵀ) scaled by e^{2.5}, A lower-triangular with correlations up to 0.9: log Z = 2.5, a posterior whose
    /// coordinates a diagonal mass matrix cannot decouple.
    struct CorrelatedGaussian: Target {
        let name = "correlated", dimension = 3
        let mean: [Double] = [2.5, -2, 1]
        let a: [Double] = [0.6, 0, 0, 0.5, 0.3, 0, -0.4, 0.2, 0.25]
        func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                      gradient: UnsafeMutablePointer<Float>?) throws {
            for r in 0..<count {
                // u = A⁻¹(x − μ) by forward substitution; ∇ = −A⁻ᵀu by back substitution.
                var u = [Double](repeating: 0, count: 3), g = u
                for i in 0..<3 { u[i] = (Double(x[r * 3 + i]) - mean[i] - (0..<i).reduce(0.0) { $0 + a[i * 3 + $1] * u[$1] }) / a[i * 3 + i] }
                for j in stride(from: 2, through: 0, by: -1) {
                    g[j] = (-u[j] - ((j + 1)..<3).reduce(0.0) { $0 + a[$1 * 3 + j] * g[$1] }) / a[j * 3 + j]
                }
                for k in 0..<3 { gradient?[r * 3 + k] = Float(g[k]) }
                let logDet = (0..<3).reduce(0.0) { $0 + log(a[$1 * 3 + $1]) }
                logDensity[r] = 2.5 - 0.5 * u.reduce(0) { $0 + $1 * $1 } - logDet - 1.5 * log(2 * Double.pi)
            }
        }
    }

    /// E[Ẑ] = Z: the mean of exp(log Ẑ − log Z) over 40 independent runs is 1 within 4 standard errors, for SMC
    /// (resampling at ESS < 0.3), AIS, and SMC with diagonally and fully preconditioned HMC, on an isotropic and on a
    /// correlated Gaussian; and the weighted increments never exceed log Ẑ.
    func testNormalisingConstantIsUnbiased() throws {
        let cases: [(Double?, HMCPreconditioning, any Target)] = [
            (0.3, .none, ShiftedGaussian()), (nil, .none, ShiftedGaussian()), (0.3, .diagonal, ShiftedGaussian()),
            (0.3, .full, ShiftedGaussian()), (0.3, .none, CorrelatedGaussian()), (0.3, .full, CorrelatedGaussian()),
        ]
        for (threshold, preconditioning, target) in cases {
            let sampler = AnnealedImportanceSampler(temperatures: 10, initialStd: 1, stepSize: (0.3, 0.3), leapfrogSteps: 4,
                                                    resamplingThreshold: threshold, preconditioning: preconditioning)
            var ratios: [Double] = [], resamplings = 0
            for run in 0..<40 {
                var rng = Xoshiro256(seed: 9, stream: UInt64(run))
                var state = try sampler.start(target: target, count: 100, rng: &rng)
                while state.temperature < sampler.temperatures { try sampler.advance(&state, target: target, rng: &rng) }
                XCTAssertLessThanOrEqual(state.weightedIncrements, state.logZ + 1e-9)
                ratios.append(exp(state.logZ - 2.5))
                resamplings += state.resamplings
            }
            let mean = ratios.reduce(0, +) / 40
            let se = (ratios.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 39 / 40).squareRoot()
            XCTAssertGreaterThan(se, 1e-4, "the estimator should be random")
            XCTAssertEqual(mean, 1, accuracy: 4 * se, "threshold \(String(describing: threshold)), \(preconditioning), \(target.name)")
            XCTAssertEqual(resamplings > 0, threshold != nil, "SMC resamples on this path, AIS never")
        }
    }

    /// `adaptStepSize` (`anneal_adapt_step=true`) steers HMC toward acceptance 0.65 from a first step far too small or
    /// far too large: over the last 20 of 60 temperatures the acceptance is within 0.12 of 0.65, where the fixed
    /// schedule with the same steps stays near 1 or near 0, and the adapted step lies between the two starts.
    func testAdaptedStepSizeApproachesTheTargetAcceptance() throws {
        let target = ShiftedGaussian()
        for (start, fixedAcceptance) in [(Float(0.01), 0.95...1.0), (3, 0.0...0.3)] {
            for adapt in [true, false] {
                let sampler = AnnealedImportanceSampler(temperatures: 60, initialStd: 1, stepSize: (start, start), leapfrogSteps: 4,
                                                        resamplingThreshold: 0.3, adaptStepSize: adapt)
                var rng = Xoshiro256(seed: 30)
                var state = try sampler.start(target: target, count: 500, rng: &rng)
                var late = (accepted: 0, proposed: 0)
                while state.temperature < sampler.temperatures {
                    let before = (state.accepted, state.proposed)
                    try sampler.advance(&state, target: target, rng: &rng)
                    if state.temperature > 40 { late = (late.accepted + state.accepted - before.0, late.proposed + state.proposed - before.1) }
                }
                let acceptance = Double(late.accepted) / Double(late.proposed)
                if adapt {
                    XCTAssertEqual(acceptance, 0.65, accuracy: 0.12, "adapted from \(start)")
                    let step = try XCTUnwrap(state.adaptedStepSize)
                    XCTAssertTrue(step > 0.01 && step < 3, "adapted from \(start) to \(step)")
                } else {
                    XCTAssertTrue(fixedAcceptance.contains(acceptance), "fixed \(start): acceptance \(acceptance)")
                    XCTAssertNil(state.adaptedStepSize)
                }
            }
        }
    }

    /// The full preconditioner's L is the Cholesky factor of the particles' weighted covariance (L Lᵀ = Σ_w), z = L⁻¹x
    /// inverts x = L z, and the transformed target's gradient is the chain rule's Lᵀ∇_x (central differences in z).
    func testFullPreconditioner() throws {
        var rng = Xoshiro256(seed: 4)
        let n = 500
        var x = rng.gaussianMatrix(rows: n, cols: 3)
        for r in 0..<n { x[r, 1] = 0.8 * x[r, 0] + 0.3 * x[r, 1]; x[r, 2] = 2 * x[r, 2] - x[r, 0] }
        let logWeights = (0..<n).map { Double($0 % 7) * 0.1 }
        let map = LinearPreconditioner(x, logWeights: logWeights, full: true)
        let w = logWeights.map { exp($0) }, total = w.reduce(0, +)
        let mean = (0..<3).map { k in (0..<n).reduce(0.0) { $0 + w[$1] * Double(x[$1, k]) } / total }
        for i in 0..<3 {
            for j in 0..<3 {
                let covariance = (0..<n).reduce(0.0) { $0 + w[$1] * (Double(x[$1, i]) - mean[i]) * (Double(x[$1, j]) - mean[j]) } / total
                let product = (0..<3).reduce(0.0) { $0 + map.lower[i * 3 + $1] * map.lower[j * 3 + $1] }
                XCTAssertEqual(product, covariance, accuracy: 1e-9 * max(1, abs(covariance)), "(\(i), \(j))")
            }
        }
        XCTAssertEqual(map.lower[1], 0); XCTAssertEqual(map.lower[2], 0); XCTAssertEqual(map.lower[5], 0)
        let z = map.latent(x)
        var back = [Float](repeating: 0, count: n * 3)
        z.storage.withUnsafeBufferPointer { zp in back.withUnsafeMutableBufferPointer { map.position(zp.baseAddress!, count: n, into: $0.baseAddress!) } }
        for k in 0..<(n * 3) { XCTAssertEqual(back[k], x.storage[k], accuracy: 1e-5 * max(1, abs(x.storage[k]))) }
        // A tight, strongly correlated cloud far from the origin (a posterior's shape): z is centred at the cloud's
        // mean, so x = μ + L z returns every point to within two float32 ulps and 10⁻⁶ of the spread (uncentred, L's conditioning would
        // turn z's rounding into errors a hundred times larger, moves the Metropolis test never sees).
        var far = x
        for r in 0..<n { far[r, 0] = 300 + 0.01 * x[r, 0]; far[r, 1] = -200 + 0.01 * x[r, 0] + 1e-4 * x[r, 1]; far[r, 2] = 0.5 * x[r, 2] }
        let tight = LinearPreconditioner(far, logWeights: logWeights, full: true)
        var farBack = [Float](repeating: 0, count: n * 3)
        tight.latent(far).storage.withUnsafeBufferPointer { zp in
            farBack.withUnsafeMutableBufferPointer { tight.position(zp.baseAddress!, count: n, into: $0.baseAddress!) }
        }
        let spread: [Float] = [0.01, 0.01, 0.5]
        for k in 0..<(n * 3) {
            XCTAssertLessThanOrEqual(abs(farBack[k] - far.storage[k]), 2 * far.storage[k].ulp + 1e-6 * spread[k % 3], "entry \(k)")
        }
        let transformed = LinearPreconditioner.Transformed(base: CorrelatedGaussian(), map: map)
        let point = Matrix(rows: 1, cols: 3, storage: [0.4, -0.7, 1.2])
        let (_, gradient) = try transformed.logDensityAndGradient(point)
        for k in 0..<3 {
            var (plus, minus) = (point, point)
            plus[0, k] += 1e-2; minus[0, k] -= 1e-2
            let difference = (try transformed.logDensity(plus)[0] - transformed.logDensity(minus)[0]) / 2e-2
            XCTAssertEqual(Double(gradient[0, k]), difference, accuracy: 1e-3 * max(1, abs(difference)), "coordinate \(k)")
        }
    }

    /// N(μ, A Aᵀ) in 20 dimensions with correlations up to 0.8, scaled by e^{2.5}: log Z = 2.5.
    struct WideGaussian: Target {
        let name = "wide", dimension = 20
        var a: [Double] {
            (0..<400).map { e in let (i, j) = (e / 20, e % 20); return i == j ? 0.4 + 0.05 * Double(i) : j < i ? 0.3 * sin(Double(i + 2 * j)) : 0 }
        }
        func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                      gradient: UnsafeMutablePointer<Float>?) throws {
            let d = 20, a = self.a
            for r in 0..<count {
                var u = [Double](repeating: 0, count: d), g = u
                for i in 0..<d {
                    u[i] = (Double(x[r * d + i]) - 1 - (0..<i).reduce(0.0) { $0 + a[i * d + $1] * u[$1] }) / a[i * d + i]
                }
                for j in stride(from: d - 1, through: 0, by: -1) {
                    g[j] = (-u[j] - ((j + 1)..<d).reduce(0.0) { $0 + a[$1 * d + j] * g[$1] }) / a[j * d + j]
                }
                for k in 0..<d { gradient?[r * d + k] = Float(g[k]) }
                let logDet = (0..<d).reduce(0.0) { $0 + log(a[$1 * d + $1]) }
                logDensity[r] = 2.5 - 0.5 * u.reduce(0) { $0 + $1 * $1 } - logDet - 10 * log(2 * Double.pi)
            }
        }
    }

    /// At the fewest particles `anneal_precondition=full` accepts (4·d: 40 a group in 20 dimensions), SMC with the
    /// full mass matrix and the adaptive schedule keeps log Ẑ within 0.15 of log Z on average over 8 runs.
    func testFullMassMatrixWithFewParticles() throws {
        let sampler = AnnealedImportanceSampler(temperatures: 2000, initialStd: 1, stepSize: (0.3, 0.3), leapfrogSteps: 5,
                                                resamplingThreshold: 0.3, conditionalESS: 0.99, moves: 4, preconditioning: .full)
        var errors: [Double] = []
        for run in 0..<8 {
            var rng = Xoshiro256(seed: 11, stream: UInt64(run))
            var state = try sampler.start(target: WideGaussian(), count: 80, rng: &rng)
            while !state.isDone { try sampler.advance(&state, target: WideGaussian(), rng: &rng) }
            errors.append(state.logZ - 2.5)
        }
        let mean = errors.reduce(0, +) / 8
        XCTAssertEqual(mean, 0, accuracy: 0.15)
    }

    /// Preconditioned moves take two groups in turn, split near n/2 between two distinct rows (never inside a run of
    /// one ancestor's copies), each fitted to the other; too few particles, no such split or a group without weight
    /// give one group of every row.
    func testHeldOutGroups() {
        var rng = Xoshiro256(seed: 5)
        let n = 400
        var x = rng.gaussianMatrix(rows: n, cols: 2)
        for r in 196...205 { x[r, 0] = x[195, 0]; x[r, 1] = x[195, 1] }  // copies of row 195 across the middle
        var state = AnnealedImportanceSampler.State(positions: x, logRatio: [Double](repeating: 0, count: n),
                                                    ratioGradient: x, logWeights: [Double](repeating: 0, count: n))
        var groups = AnnealedImportanceSampler.heldOutGroups(state)
        XCTAssertEqual(groups.map(\.rows), [0..<195, 195..<400])
        XCTAssertEqual(groups.map(\.fitted), [195..<400, 0..<195])
        state.logWeights = (0..<n).map { $0 < 195 ? -.infinity : 0 }
        groups = AnnealedImportanceSampler.heldOutGroups(state)
        XCTAssertEqual(groups.map(\.rows), [0..<n]); XCTAssertEqual(groups.map(\.fitted), [0..<n])
        let same = AnnealedImportanceSampler.State(positions: Matrix(rows: 6, cols: 2, storage: [Float](repeating: 1, count: 12)),
                                                   logRatio: [Double](repeating: 0, count: 6), ratioGradient: Matrix(rows: 6, cols: 2),
                                                   logWeights: [Double](repeating: 0, count: 6))
        XCTAssertEqual(AnnealedImportanceSampler.heldOutGroups(same).map(\.rows), [0..<6])
        let three = AnnealedImportanceSampler.State(positions: x.rows([0, 1, 2]), logRatio: [0, 0, 0], ratioGradient: x.rows([0, 1, 2]),
                                                    logWeights: [0, 0, 0])
        XCTAssertEqual(AnnealedImportanceSampler.heldOutGroups(three).map(\.rows), [0..<3])
    }

    /// Systematic resampling keeps each index within one of n·W_i copies.
    func testSystematicResampling() {
        var rng = Xoshiro256(seed: 1)
        let w = [0.1, 0.0, 0.55, 0.05, 0.3]
        for _ in 0..<20 {
            let picks = AnnealedImportanceSampler.systematicResample(logWeights: w.map { log($0) }, rng: &rng)
            for (i, wi) in w.enumerated() {
                let copies = picks.filter { $0 == i }.count
                XCTAssertLessThanOrEqual(abs(Double(copies) - 5 * wi), 1, "index \(i)")
            }
        }
    }

    /// π_β's log density and gradient are (1 − β)·log N(0, s²I) + β·log γ, checked at one point against the formula.
    func testAnnealedTarget() throws {
        let x = Matrix(rows: 1, cols: 3, storage: [0.3, -0.2, 1.1])
        let annealed = AnnealedTarget(base: ShiftedGaussian(), beta: 0.25, initialStd: 2)
        let (value, gradient) = try annealed.logDensityAndGradient(x)
        let (gamma, gammaGradient) = try ShiftedGaussian().logDensityAndGradient(x)
        let squared = x.storage.reduce(0.0) { $0 + Double($1) * Double($1) }
        let prior = -0.5 * squared / 4 - 3 * (log(2.0) + 0.5 * log(2 * Double.pi))
        XCTAssertEqual(value[0], 0.75 * prior + 0.25 * gamma[0], accuracy: 1e-12)
        for k in 0..<3 { XCTAssertEqual(gradient[0, k], 0.75 * (-x[0, k] / 4) + 0.25 * gammaGradient[0, k], accuracy: 1e-6) }
    }
}

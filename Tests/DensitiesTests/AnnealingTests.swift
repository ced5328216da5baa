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

    /// E[Ẑ] = Z: the mean of exp(log Ẑ − log Z) over 40 independent runs is 1 within 4 standard errors, for SMC
    /// (resampling at ESS < 0.3), AIS, and SMC with preconditioned HMC; and the weighted increments never exceed log Ẑ.
    func testNormalisingConstantIsUnbiased() throws {
        for (threshold, preconditioned) in [(0.3, false), (nil, false), (0.3, true)] as [(Double?, Bool)] {
            let sampler = AnnealedImportanceSampler(temperatures: 10, initialStd: 1, stepSize: (0.3, 0.3), leapfrogSteps: 4,
                                                    resamplingThreshold: threshold, preconditioned: preconditioned)
            var ratios: [Double] = [], resamplings = 0
            for run in 0..<40 {
                var rng = Xoshiro256(seed: 9, stream: UInt64(run))
                var state = try sampler.start(target: ShiftedGaussian(), count: 100, rng: &rng)
                while state.temperature < sampler.temperatures { try sampler.advance(&state, target: ShiftedGaussian(), rng: &rng) }
                XCTAssertLessThanOrEqual(state.weightedIncrements, state.logZ + 1e-9)
                ratios.append(exp(state.logZ - 2.5))
                resamplings += state.resamplings
            }
            let mean = ratios.reduce(0, +) / 40
            let se = (ratios.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 39 / 40).squareRoot()
            XCTAssertGreaterThan(se, 1e-4, "the estimator should be random")
            XCTAssertEqual(mean, 1, accuracy: 4 * se, "threshold \(String(describing: threshold))")
            XCTAssertEqual(resamplings > 0, threshold != nil, "SMC resamples on this path, AIS never")
        }
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

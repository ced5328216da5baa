import XCTest
import Foundation
@testable import Densities
@testable import Numerics

/// A correlated Gaussian N(μ, Σ) with Σ = [[1, ρ], [ρ, 1]], counting the points it is evaluated at.
final class CorrelatedGaussian: Target, @unchecked Sendable {
    let name = "correlated-gaussian", dimension = 2
    let mean: [Double] = [1, -2], rho = 0.8
    private let lock = NSLock()
    private(set) var evaluations = 0

    func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                  gradient: UnsafeMutablePointer<Float>?) throws {
        lock.lock(); evaluations += count; lock.unlock()
        let det = 1 - rho * rho
        for r in 0..<count {
            let a = Double(x[2 * r]) - mean[0], b = Double(x[2 * r + 1]) - mean[1]
            // Σ⁻¹ = [[1, −ρ], [−ρ, 1]] / (1 − ρ²)
            let ga = (a - rho * b) / det, gb = (b - rho * a) / det
            logDensity[r] = -0.5 * (a * ga + b * gb)
            gradient?[2 * r] = Float(-ga)
            gradient?[2 * r + 1] = Float(-gb)
        }
    }
}

final class MCMCKernelTests: XCTestCase {
    /// Both kernels, run through the one chain driver from a point far from the mode, reach the exact mean and
    /// covariance of a correlated Gaussian (1000 chains; the bounds are about five Monte-Carlo standard errors),
    /// accept near their target rate after adaptation, and cost chains × (1 + sweeps × L) gradient evaluations.
    func testKernelsSampleExactGaussianMoments() throws {
        for kernel in [KernelChoice.mala, .hmc(leapfrogSteps: 4)] {
            let target = CorrelatedGaussian()
            let chains = 1000, sweeps = 500
            var rng = Xoshiro256(seed: 3)
            let start = Matrix(rows: chains, cols: 2, storage: [Float](repeating: 4, count: 2 * chains))
            let driver = ChainDriver(kernel: kernel.kernel, sweeps: sweeps, adaptationSweeps: 300, initialStepSize: 0.2)
            let out = try driver.run(from: ChainState(target: target, positions: start), target: target, rng: &rng)
            let x = out.state.positions
            var m = [0.0, 0.0], c = [0.0, 0.0, 0.0]
            for r in 0..<chains { for k in 0..<2 { m[k] += Double(x[r, k]) / Double(chains) } }
            for r in 0..<chains {
                let a = Double(x[r, 0]) - m[0], b = Double(x[r, 1]) - m[1]
                c[0] += a * a / Double(chains - 1); c[1] += a * b / Double(chains - 1); c[2] += b * b / Double(chains - 1)
            }
            let name = kernel.kernel.name
            XCTAssertEqual(m[0], 1, accuracy: 0.16, name)
            XCTAssertEqual(m[1], -2, accuracy: 0.16, name)
            XCTAssertEqual(c[0], 1, accuracy: 0.25, name)
            XCTAssertEqual(c[1], 0.8, accuracy: 0.25, name)
            XCTAssertEqual(c[2], 1, accuracy: 0.25, name)
            XCTAssertEqual(out.acceptance, kernel.kernel.targetAcceptance, accuracy: 0.1, name)
            let cost = chains * (1 + sweeps * kernel.kernel.gradientEvaluationsPerStep)
            XCTAssertEqual(out.gradientEvaluations, cost, name)
            XCTAssertEqual(target.evaluations, cost, name)
        }
    }

    /// HMC leaves the target invariant exactly: started at exact draws with a fixed, large step size (no
    /// adaptation), the chains' variance stays 1 in every coordinate after many steps, while an unadjusted
    /// leapfrog with the same step would inflate it. The Metropolis test is what keeps it.
    func testHMCPreservesTheTargetWithoutAdaptation() throws {
        let target = CorrelatedGaussian()
        let chains = 4000
        var rng = Xoshiro256(seed: 5)
        var start = rng.gaussianMatrix(rows: chains, cols: 2)
        for r in 0..<chains {  // exact draws: x = μ + L·z with L the Cholesky factor of Σ
            let z0 = start[r, 0], z1 = start[r, 1]
            start[r, 0] = 1 + z0
            start[r, 1] = -2 + Float(0.8) * z0 + Float(0.6) * z1
        }
        let driver = ChainDriver(kernel: HMC(leapfrogSteps: 3), sweeps: 50, adaptationSweeps: 0, initialStepSize: 0.5)
        let out = try driver.run(from: ChainState(target: target, positions: start), target: target, rng: &rng)
        for k in 0..<2 {
            let v = (0..<chains).map { Double(out.state.positions[$0, k]) }
            let mean = v.reduce(0, +) / Double(chains)
            let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(chains - 1)
            XCTAssertEqual(variance, 1, accuracy: 0.12, "coordinate \(k)")
        }
        XCTAssertLessThan(out.acceptance, 0.99)
        XCTAssertGreaterThan(out.acceptance, 0.3)
    }
}

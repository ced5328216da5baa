import XCTest
import Foundation
@testable import Densities
@testable import Numerics

final class TargetTests: XCTestCase {
    func target(_ name: String) -> any Target { TargetRegistry.make(name)! }

    /// ∇ log R against central differences (in Double around Float evaluations) at random points.
    func testGradientsMatchFiniteDifferences() throws {
        for name in TargetRegistry.names where target(name).particleStructure == nil {
            let t = target(name)
            var rng = Xoshiro256(seed: 3, stream: 1)
            var x = rng.gaussianMatrix(rows: 4, cols: t.dimension)
            for i in x.storage.indices { x.storage[i] *= (name == "gmm40" ? 20 : name == "gmm25" ? 4 : 1.2) }
            let (_, grad) = try t.logDensityAndGradient(x)
            let h: Float = 1e-2
            for r in 0..<x.rows {
                for c in 0..<t.dimension {
                    var p = x, m = x
                    p[r, c] += h; m[r, c] -= h
                    let numeric = Double(try t.logDensity(p)[r] - t.logDensity(m)[r]) / Double(2 * h)
                    XCTAssertEqual(Double(grad[r, c]), numeric, accuracy: 2e-2 * max(1, abs(numeric)), "\(name) (\(r),\(c))")
                }
            }
        }
    }

    /// In 2-D the mixtures integrate to exactly 1 (log Z = 0) by midpoint quadrature.
    func testMixturesIntegrateToOne() throws {
        for (name, h, lo, n) in [("gmm9", Float(0.05), Float(-14), 560), ("gmm25", 0.05, -14, 560), ("gmm40", 0.1, -60, 1200)] {
            let t = target(name)
            var total = 0.0
            for i in 0..<n {
                var rowPoints = Matrix(rows: n, cols: 2)
                for j in 0..<n { rowPoints[j, 0] = lo + (Float(i) + 0.5) * h; rowPoints[j, 1] = lo + (Float(j) + 0.5) * h }
                total += try t.logDensity(rowPoints).reduce(0.0) { $0 + exp(Double($1)) }
            }
            XCTAssertEqual(log(total * Double(h * h)), 0, accuracy: 1e-3, name)
        }
    }

    /// Importance sampling from the exact sampler: E_p[R/p] with R = p gives log Z = 0, i.e. the sampler
    /// and the density agree; here we check the funnel's sampler moments and density normalisation via
    /// E_p[log p] against the analytic entropy.
    func testFunnelSamplerMoments() throws {
        let t = Funnel()
        var rng = Xoshiro256(seed: 11)
        let x = t.exactSamples(count: 100_000, rng: &rng)!
        var m0 = 0.0, v0 = 0.0, v1 = 0.0
        for r in 0..<x.rows { m0 += Double(x[r, 0]); v0 += Double(x[r, 0] * x[r, 0]); v1 += Double(x[r, 1] * x[r, 1]) }
        let n = Double(x.rows)
        XCTAssertEqual(m0 / n, 0, accuracy: 0.05)
        XCTAssertEqual(v0 / n, 9, accuracy: 0.15)
        // E[x₁²] = E[e^{x₀}] = e^{9/2} ≈ 90; heavy-tailed, so only a loose check of the scale.
        XCTAssertEqual(log(v1 / n), 4.5, accuracy: 0.5)
        // E_p[log p] = −H(p) = −(½ ln(2πe·9)) − 9·(½ ln(2πe) + E[x₀]/2) with E[x₀] = 0.
        let entropy = 0.5 * log(2 * Double.pi * exp(1) * 9) + 9 * 0.5 * log(2 * Double.pi * exp(1))
        let meanLogP = try t.logDensity(x).reduce(0.0) { $0 + Double($1) } / n
        XCTAssertEqual(meanLogP, -entropy, accuracy: 0.1)
    }

    func testManyWellDimensionsScaleLogZ() throws {
        XCTAssertEqual(try TargetRegistry.resolve("manywell-8").logZ!, 164.6957 / 4, accuracy: 1e-3)
        XCTAssertEqual(try TargetRegistry.resolve("manywell-8").dimension, 8)
        XCTAssertThrowsError(try TargetRegistry.resolve("manywell-7")) { XCTAssertTrue("\($0)".contains("manywell-D")) }
        XCTAssertThrowsError(try TargetRegistry.resolve("funel")) { XCTAssertTrue("\($0)".contains("funnel-easy")) }
    }

    func testEasyFunnelIsANamedVariant() throws {
        let t = try TargetRegistry.resolve("funnel-easy") as! Funnel
        XCTAssertEqual(t.neckStd, 1)
        XCTAssertEqual((try TargetRegistry.resolve("funnel") as! Funnel).neckStd, 3)
    }

    func testManyWellConstantsAndSampler() {
        // Z_a by quadrature matches the constant behind log Z.
        var za = 0.0, right = 0.0
        for i in 0..<200_000 {
            let a = -5 + (Double(i) + 0.5) * 5e-5
            let w = exp(ManyWell.logWell(a)) * 5e-5
            za += w
            if a > 0 { right += w }
        }
        XCTAssertEqual(za, ManyWell.wellIntegral, accuracy: 1e-3)
        XCTAssertEqual(right / za, 0.8443, accuracy: 1e-4)
        XCTAssertEqual(ManyWell().logZ!, 164.6957, accuracy: 1e-3)

        var rng = Xoshiro256(seed: 5)
        let x = ManyWell(dimension: 4).exactSamples(count: 50_000, rng: &rng)!
        var rightCount = 0, bSq = 0.0
        for r in 0..<x.rows { if x[r, 0] > 0 { rightCount += 1 }; bSq += Double(x[r, 1] * x[r, 1]) }
        XCTAssertEqual(Double(rightCount) / Double(x.rows), 0.8443, accuracy: 0.006)
        XCTAssertEqual(bSq / Double(x.rows), 1, accuracy: 0.03)
    }

    /// The envelope really bounds R/q on a wide range (rejection sampling is exact only then).
    func testManyWellEnvelopeBounds() {
        for i in 0...20_000 {
            let a = -6 + Double(i) * 6e-4
            XCTAssertLessThanOrEqual(ManyWell.logWell(a) - ManyWell.logProposal(a), ManyWell.logEnvelope)
        }
    }

    func testGMMSamplerHitsEveryModeEqually() {
        let t = target("gmm25") as! GaussianMixture
        var rng = Xoshiro256(seed: 9)
        let x = t.exactSamples(count: 25_000, rng: &rng)!
        var counts = [Int](repeating: 0, count: 25)
        for r in 0..<x.rows {
            let j = t.means.indices.min { a, b in
                hypot(x[r, 0] - t.means[a][0], x[r, 1] - t.means[a][1]) < hypot(x[r, 0] - t.means[b][0], x[r, 1] - t.means[b][1])
            }!
            counts[j] += 1
        }
        for c in counts { XCTAssertEqual(Double(c), 1000, accuracy: 130) }
    }
}

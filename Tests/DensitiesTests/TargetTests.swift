import XCTest
import Foundation
@testable import Densities
@testable import Numerics

final class TargetTests: XCTestCase {
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

    /// The funnel density is normalised: importance sampling from a proposal wider than the funnel in every
    /// x_i (so it does not share the target's sampler code path) recovers log Z = 0.
    func testFunnelNormalisationByImportanceSampling() throws {
        let t = Funnel()
        var rng = Xoshiro256(seed: 12)
        let n = 200_000, widen = 1.3
        var x = rng.gaussianMatrix(rows: n, cols: 10)
        var logQ = [Double](repeating: 0, count: n)
        for r in 0..<n {
            let x0 = 3 * Double(x[r, 0])
            x[r, 0] = Float(x0)
            var lq = -0.5 * x0 * x0 / 9 - 0.5 * log(2 * Double.pi * 9)
            let sd = widen * exp(0.5 * x0)
            for c in 1..<10 {
                let z = Double(x[r, c])
                x[r, c] = Float(sd * z)
                lq += -0.5 * z * z - log(sd) - 0.5 * log(2 * Double.pi)
            }
            logQ[r] = lq
        }
        let logR = try t.logDensity(x)
        let w = (0..<n).map { Double(logR[$0]) - logQ[$0] }
        let top = w.max()!
        let logZ = top + log(w.reduce(0) { $0 + exp($1 - top) } / Double(n))
        XCTAssertEqual(logZ, 0, accuracy: 0.02)
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

    /// Log-density and gradient against the formula written out, at points where every component matters and
    /// at a point so far from one component that its term underflows (the evaluation skips exp there).
    func testGMMDensityAgainstTheFormula() throws {
        let t = GaussianMixture(name: "two", means: [[0, 0], [3, 1], [2000, 0]], componentStd: 1.5, defaultSigma2: 1,
                                weights: [1, 2, 1])
        for point: [Float] in [[0.5, -0.25], [1.5, 0.5], [-4, 7]] {
            var terms: [Double] = [], gradient = [0.0, 0.0]
            for (j, m) in t.means.enumerated() {
                let d = [Double(point[0] - m[0]), Double(point[1] - m[1])]
                terms.append(log(t.weights[j]) - (d[0] * d[0] + d[1] * d[1]) / (2 * 2.25) - log(2 * Double.pi * 2.25))
            }
            let top = terms.max()!, total = terms.reduce(0) { $0 + exp($1 - top) }
            for (j, m) in t.means.enumerated() {
                let w = exp(terms[j] - top) / total
                for c in 0..<2 { gradient[c] += w * Double(m[c] - point[c]) / 2.25 }
            }
            let x = Matrix(rows: 1, cols: 2, storage: point)
            let (logP, grad) = try t.logDensityAndGradient(x)
            XCTAssertEqual(Double(logP[0]), top + log(total), accuracy: 1e-5)
            XCTAssertEqual(Double(grad[0, 0]), gradient[0], accuracy: 1e-5)
            XCTAssertEqual(Double(grad[0, 1]), gradient[1], accuracy: 1e-5)
        }
    }

    func testGMMSamplerHitsEveryModeEqually() {
        let t = GaussianMixture.grid(name: "gmm25", coordinates: [-10, -5, 0, 5, 10], variance: 0.3, sigma2: 5)
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

import XCTest
import Foundation
@testable import Numerics

/// The ziggurat normal generator against the normal law itself: the table's geometry, the CDF over the whole line
/// and the tail beyond the base layer, where a wrong tail sampler would show first.
final class ZigguratTests: XCTestCase {
    /// Every layer has area v under the recurrence, and the top layer closes at f = 1 (the paper's r and v).
    func testLayersHaveEqualAreaAndClose() {
        let (x, f) = Ziggurat.tables
        XCTAssertEqual(x.count, Ziggurat.layers + 1)
        XCTAssertEqual(x[1], Ziggurat.r)
        for i in 1..<(Ziggurat.layers - 1) {
            XCTAssertEqual(x[i] * (f[i + 1] - f[i]), Ziggurat.v, accuracy: 1e-12 * Ziggurat.v, "layer \(i)")
        }
        let top = Ziggurat.layers - 1
        XCTAssertEqual(f[top] + Ziggurat.v / x[top], 1, accuracy: 1e-9, "the top layer must reach f(0) = 1")
        // Base layer: the rectangle [0, r] × [0, f(r)] plus the tail ∫_r^∞ f has the same area v.
        let tail = (Double.pi / 2).squareRoot() * erfc(Ziggurat.r / 2.squareRoot())
        XCTAssertEqual(Ziggurat.r * f[1] + tail, Ziggurat.v, accuracy: 1e-12)
    }

    /// The empirical CDF of 4·10⁶ draws matches Φ at 33 points within 5 binomial standard errors, and the mass
    /// beyond ±r (drawn by the tail sampler) and beyond ±4.5 matches 2(1 − Φ).
    func testDrawsFollowTheNormalLaw() {
        var rng = Xoshiro256(seed: 2026, stream: 11)
        let n = 4_000_000
        var z = [Float](repeating: 0, count: n)
        z.withUnsafeMutableBufferPointer { rng.fillGaussian($0.baseAddress!, count: n) }
        XCTAssertTrue(z.allSatisfy(\.isFinite))
        let sorted = z.sorted()
        func below(_ t: Double) -> Double {
            var lo = 0, hi = n
            while lo < hi { let m = (lo + hi) / 2; if Double(sorted[m]) < t { lo = m + 1 } else { hi = m } }
            return Double(lo) / Double(n)
        }
        func phi(_ t: Double) -> Double { 0.5 * erfc(-t / 2.squareRoot()) }
        for k in -16...16 {
            let t = Double(k) * 0.25, p = phi(t)
            let se = (p * (1 - p) / Double(n)).squareRoot()
            XCTAssertEqual(below(t), p, accuracy: 5 * se + 1e-7, "CDF at \(t)")
        }
        for t in [Ziggurat.r, 4.5] {
            let p = 2 * (1 - phi(t)), observed = below(-t) + (1 - below(t))
            XCTAssertEqual(observed, p, accuracy: 5 * (p / Double(n)).squareRoot(), "mass beyond ±\(t)")
        }
        // Both signs occur equally in the tail (the sign bit is applied after the tail sampler).
        XCTAssertEqual(below(-Ziggurat.r), 1 - below(Ziggurat.r), accuracy: 5 * (1e-4 / Double(n)).squareRoot() * 2)
    }
}

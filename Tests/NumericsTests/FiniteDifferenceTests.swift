import XCTest
import TestSupport

/// The bounded-error finite difference itself: exact on smooth double functions, honest on noisy float32 ones,
/// and sharp enough to reject a gradient a few per cent off where the two-point check could not tell.
final class FiniteDifferenceTests: XCTestCase {
    func testExactFunctionHasTightBound() {
        let e = FiniteDifference(step: 0.1) { s in sin(3 * (0.4 + s)) + pow(0.4 + s, 3) }
        let truth = 3 * cos(1.2) + 3 * 0.16
        XCTAssertEqual(e.value, truth, accuracy: 1e-7)
        XCTAssertLessThan(e.bound, 2e-5)
        XCTAssertTrue(e.accepts(truth))
        XCTAssertFalse(e.accepts(truth * 1.001))
    }

    /// f rounded through float32 with a large offset, the situation that broke the two-point check: the residuals
    /// measure the noise, the bound covers the truth, and a 3 %-wrong gradient still fails.
    func testFloat32NoiseIsMeasuredNotIgnored() {
        func f(_ s: Double) -> Double { Double(Float(5e4 + 13.25 * s + 40 * s * s)) }
        let e = FiniteDifference(step: 0.05, f)
        XCTAssertGreaterThan(e.standardError, 1e-4, "the float32 rounding must show in the residuals")
        XCTAssertTrue(e.accepts(13.25), "\(e)")
        XCTAssertFalse(e.accepts(13.25 * 1.03), "\(e)")
        XCTAssertFalse(e.accepts(13.25 * 0.97), "\(e)")
    }

    /// A step far too small for the noise is reported as imprecise, not passed.
    func testTooNoisyIsRefused() {
        var state: UInt64 = 1
        func noise() -> Double {  // a fixed pseudo-random sequence in [−0.5, 0.5)
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53) - 0.5
        }
        let e = FiniteDifference(step: 1e-4) { s in 13.25 * s + 1e-2 * noise() }
        XCTAssertFalse(e.isPrecise, "\(e)")
        XCTAssertFalse(e.accepts(13.25))
        XCTAssertTrue(e.message(13.25, "x").contains("too noisy"))
    }
}

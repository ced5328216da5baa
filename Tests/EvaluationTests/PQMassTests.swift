import XCTest
import Foundation
@testable import Evaluation
import Numerics

/// PQMass: the χ² distribution function against closed forms, p-values uniform under the null (two exact sample sets
/// of one law), and power against a shifted law.
final class PQMassTests: XCTestCase {
    func testChiSquaredCDF() {
        for x in [0.01, 0.5, 1, 3, 10, 40] {
            XCTAssertEqual(PQMass.chiSquaredCDF(x, degrees: 2), 1 - exp(-x / 2), accuracy: 1e-13, "k = 2, x = \(x)")
            XCTAssertEqual(PQMass.chiSquaredCDF(x, degrees: 1), erf((x / 2).squareRoot()), accuracy: 1e-13, "k = 1, x = \(x)")
            // k = 4: 1 − e^{−x/2}(1 + x/2).
            XCTAssertEqual(PQMass.chiSquaredCDF(x, degrees: 4), 1 - exp(-x / 2) * (1 + x / 2), accuracy: 1e-13, "k = 4, x = \(x)")
        }
        // Large k: the median of χ²₉₉ is about k(1 − 2/(9k))³ (Wilson–Hilferty), within 0.01.
        XCTAssertEqual(PQMass.chiSquaredCDF(99 * pow(1 - 2 / (9 * 99.0), 3), degrees: 99), 0.5, accuracy: 0.01)
    }

    /// 200 independent pairs of 500 + 500 standard-normal 2-D samples, one tessellation each: the p-values pass a
    /// Kolmogorov–Smirnov test of uniformity (D < 1.63/√200, the 1 % critical value); a shift by 0.5 gives p < 10⁻³.
    func testPValuesAreUniformUnderTheNull() {
        var rng = Xoshiro256(seed: 21)
        var p: [Double] = []
        for pair in 0..<200 {
            var a = [Float](repeating: 0, count: 1000), b = a
            a.withUnsafeMutableBufferPointer { rng.fillGaussian($0.baseAddress!, count: 1000) }
            b.withUnsafeMutableBufferPointer { rng.fillGaussian($0.baseAddress!, count: 1000) }
            p.append(PQMass(a, b, dimension: 2, regions: 20, tessellations: 1, seed: UInt64(pair)).pValue)
        }
        p.sort()
        let d = p.enumerated().map { max(abs(Double($0.offset + 1) / 200 - $0.element), abs(Double($0.offset) / 200 - $0.element)) }.max()!
        XCTAssertLessThan(d, 1.63 / 200.0.squareRoot(), "KS distance of the null p-values from uniform")
        var a = [Float](repeating: 0, count: 1000), b = a
        a.withUnsafeMutableBufferPointer { rng.fillGaussian($0.baseAddress!, count: 1000) }
        b.withUnsafeMutableBufferPointer { rng.fillGaussian($0.baseAddress!, count: 1000) }
        let shifted = PQMass(a, b.map { $0 + 0.5 }, dimension: 2, regions: 20, tessellations: 5)
        XCTAssertLessThan(shifted.pValue, 1e-3)
        XCTAssertGreaterThan(shifted.chiSquared, 3 * 19)
    }
}

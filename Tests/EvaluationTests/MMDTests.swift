import XCTest
import Foundation
@testable import Evaluation
import Numerics

/// The median-heuristic MMD against a brute-force evaluation of the benchmark's formula (sorted median, full kernel
/// matrices), its selection-based median against sorting, and its behaviour on equal and shifted laws.
final class MMDTests: XCTestCase {
    func testMatchesBruteForce() {
        var rng = Xoshiro256(seed: 3)
        let d = 3, n = 37, m = 52
        let x = (0..<(n * d)).map { _ in rng.nextGaussian() }, y = (0..<(m * d)).map { _ in rng.nextGaussian() + 0.3 }
        let pooled = x + y, total = n + m
        func dist(_ i: Int, _ j: Int) -> Double {
            (0..<d).reduce(0.0) { let e = Double(pooled[i * d + $1]) - Double(pooled[j * d + $1]); return $0 + e * e }.squareRoot()
        }
        var upper: [Double] = []
        for i in 0..<total { for j in i..<total { upper.append(dist(i, j)) } }
        let sorted = upper.sorted(), c = sorted.count
        let h = c % 2 == 0 ? (sorted[c / 2 - 1] + sorted[c / 2]) / 2 : sorted[c / 2]
        func k(_ i: Int, _ j: Int) -> Double { exp(-dist(i, j) * dist(i, j) / (2 * h * h)) }
        var xx = 0.0, yy = 0.0, xy = 0.0
        for i in 0..<n { for j in 0..<n { xx += k(i, j) } }
        for i in n..<total { for j in n..<total { yy += k(i, j) } }
        for i in 0..<n { for j in n..<total { xy += k(i, j) } }
        let expected = (xx / Double(n * (n - 1)) + yy / Double(m * (m - 1)) - 2 * xy / Double(n * m)).squareRoot()
        XCTAssertEqual(MaximumMeanDiscrepancy.medianHeuristic(x, y, dimension: d), expected, accuracy: 1e-12)
    }

    func testSelectionMedian() {
        var rng = Xoshiro256(seed: 4)
        for count in [1, 2, 3, 10, 101, 1000] {
            let v = (0..<count).map { _ in Double(rng.next() % 50) }  // many ties
            let s = v.sorted()
            let expected = count % 2 == 0 ? (s[count / 2 - 1] + s[count / 2]) / 2 : s[count / 2]
            XCTAssertEqual(MaximumMeanDiscrepancy.median(v), expected, "count \(count)")
        }
    }

    func testSeparatesShiftedLaws() {
        var rng = Xoshiro256(seed: 5)
        let a = (0..<1000).map { _ in rng.nextGaussian() }, b = (0..<1000).map { _ in rng.nextGaussian() }
        let same = MaximumMeanDiscrepancy.medianHeuristic(a, b, dimension: 2)
        let shifted = MaximumMeanDiscrepancy.medianHeuristic(a, b.map { $0 + 1 }, dimension: 2)
        XCTAssertLessThan(same, 0.1, "the kept diagonals bias MMD² up by about 2/n")
        XCTAssertGreaterThan(shifted, 5 * same)
    }
}

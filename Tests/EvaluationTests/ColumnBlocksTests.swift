import XCTest
@testable import Evaluation
@testable import Numerics

/// The auction's bids through `ColumnBlocks` against passes over every column.
final class ColumnBlocksTests: XCTestCase {
    /// Bids for random rows with prices that fall as in an auction: the blocked search returns the same smallest and
    /// second-smallest reduced costs and the same column, bit for bit, as a pass over the row (ties included: several
    /// columns share points and prices, and rows sit on columns' points).
    func testBidsMatchFullPasses() {
        var rng = Xoshiro256(seed: 3)
        for d in 1...ColumnBlocks.dimensions {
            for n in [1, 7, 33, 300] {
                // Two clusters per set; a third of b's points repeat earlier ones, a few rows are b's points.
                var b = (0..<(n * d)).map { k in rng.nextGaussian() + Float((k / d) % 2 == 0 ? 4 : -4) }
                for j in stride(from: 2, to: n, by: 3) { for k in 0..<d { b[j * d + k] = b[(j / 2) * d + k] } }
                var a = (0..<(n * d)).map { _ in 3 * rng.nextGaussian() }
                for i in stride(from: 0, to: n, by: 5) { for k in 0..<d { a[i * d + k] = b[((i * 7) % n) * d + k] } }
                let costs = SquaredDistances(a, b, dimension: d)
                var prices = (0..<n).map { _ in Double(rng.nextGaussian()) }
                for j in stride(from: 2, to: n, by: 3) { prices[j] = prices[j / 2] }  // equal reduced costs
                prices.withUnsafeBufferPointer { costs.pricesStart($0.baseAddress!) }
                for step in 0..<(20 * n) {
                    let i = Int(rng.next() % UInt64(n))
                    let blocked = prices.withUnsafeBufferPointer { costs.twoSmallest(i, minus: $0.baseAddress!) }
                    let full = prices.withUnsafeBufferPointer { LinearAssignment.Kernels.twoSmallest(costs.row(i), $0.baseAddress!, n) }
                    XCTAssertEqual(blocked.0.bitPattern, full.0.bitPattern, "d \(d), n \(n), step \(step)")
                    XCTAssertEqual(blocked.1, full.1, "d \(d), n \(n), step \(step)")
                    XCTAssertEqual(blocked.2.bitPattern, full.2.bitPattern, "d \(d), n \(n), step \(step)")
                    // The bid's column falls by its margin and a little; now and then another column falls far.
                    let margin = full.2.isFinite ? full.2 - full.0 : 0
                    prices[full.1] -= margin + 0.01 * Double(rng.next() % 4)
                    costs.priceFell(full.1, to: prices[full.1])
                    if step % 7 == 0 {
                        let j = Int(rng.next() % UInt64(n))
                        prices[j] -= 5
                        costs.priceFell(j, to: prices[j])
                    }
                }
                // After the auction prices rise (as `enforceSlackness` raises them) without being reported: bids read
                // the prices passed in.
                costs.pricesStop()
                for j in 0..<n { prices[j] += Double(rng.next() % 8) }
                for i in 0..<n {
                    let after = prices.withUnsafeBufferPointer { costs.twoSmallest(i, minus: $0.baseAddress!) }
                    let full = prices.withUnsafeBufferPointer { LinearAssignment.Kernels.twoSmallest(costs.row(i), $0.baseAddress!, n) }
                    XCTAssertEqual(after.0.bitPattern, full.0.bitPattern, "d \(d), n \(n), row \(i) after the auction")
                    XCTAssertEqual(after.1, full.1, "d \(d), n \(n), row \(i) after the auction")
                    XCTAssertEqual(after.2.bitPattern, full.2.bitPattern, "d \(d), n \(n), row \(i) after the auction")
                }
            }
        }
    }
}

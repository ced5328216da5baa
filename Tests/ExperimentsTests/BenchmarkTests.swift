import XCTest
@testable import Experiments

/// The `gemm-shapes` case times the products of one TB iteration: its list must add up to the multiply-adds the
/// training cases count (`denseFlops`), or the two rates it is set against would not describe the same work.
final class BenchmarkTests: XCTestCase {
    func testProductsAddUpToTheIterationsDenseWork() throws {
        for d in [1, 2, 10, 32, 65] {
            let config = try RunConfig.parse(["target=gmm25", "objective=tb", "batch_size=300", "steps=100", "hidden=64"])
            let listed = Benchmark.products(dimension: d).reduce(0.0) { $0 + $1.flops * Double($1.perIteration) }
            XCTAssertEqual(listed, Benchmark.denseFlops(config, dimension: d), accuracy: 1e-9 * listed, "d = \(d)")
        }
    }

    func testProductsCasePrintsEveryProductAndTheSum() {
        let lines = Benchmark.runProducts(peak: 100, repeats: 1).map(\.line)
        XCTAssertEqual(lines.count, 18)
        for label in ["d2", "d32"] {
            XCTAssertEqual(lines.filter { $0.hasPrefix("bench gemm-shapes:\(label):") }.count, 9)
            XCTAssertTrue(lines.contains { $0.hasPrefix("bench gemm-shapes:\(label):products ms_per_iter=") }, lines.joined(separator: "\n"))
        }
        XCTAssertTrue(lines.allSatisfy { $0.contains(" peak_share=") && !$0.contains("nan") && !$0.contains("inf") }, lines.joined(separator: "\n"))
    }

    /// Each group's rate goes over the better peak beside it, not over one peak measured at another time: a group at
    /// 10 ms per 1-GFLOP iteration (100 GFLOP/s) between peaks of 200 and 150 is at 0.5, one at 20 ms (50 GFLOP/s)
    /// between 150 and 100 at 1/3, one at 5 ms between 100 and 400 at 0.5.
    func testPeakShareIsTheMedianOfEachGroupOverItsNeighbouringPeaks() {
        let paired = Benchmark.pairedPeakShare(flops: 1e9, milliseconds: [10, 20, 5], peaks: [200, 150, 100, 400])
        XCTAssertEqual(paired.share, 0.5, accuracy: 1e-12)
        XCTAssertEqual(paired.peak, 200)
        let single = Benchmark.pairedPeakShare(flops: 1e9, milliseconds: [20], peaks: [100, 150])
        XCTAssertEqual(single.share, 50.0 / 150, accuracy: 1e-12)
    }
}

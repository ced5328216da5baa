import XCTest
@testable import Objectives
@testable import Training
@testable import Densities
@testable import Numerics

final class ReplayTests: XCTestCase {
    /// The buffer keeps the highest rewards, sorted, and draws rank r with probability ∝ 1/(k·N + r).
    func testBufferKeepsBestAndSamplesByRank() {
        var buffer = ReplayBuffer(capacity: 4, dimension: 1, rankWeight: 0.5)
        buffer.add(Matrix(rows: 3, cols: 1, storage: [1, 2, 3]), logRewards: [-1, 5, .nan])
        buffer.add(Matrix(rows: 3, cols: 1, storage: [4, 5, 6]), logRewards: [2, -3, 7])
        XCTAssertEqual(buffer.logRewards, [7, 5, 2, -1])
        XCTAssertEqual(buffer.states, [6, 2, 4, 1])
        // Evictions reuse storage: after many adds the contents are still exactly the best `capacity` states.
        var big = ReplayBuffer(capacity: 50, dimension: 2)
        var rng0 = Xoshiro256(seed: 9)
        var all: [(Double, [Float])] = []
        for _ in 0..<40 {
            let n = Int(rng0.next() % 9)
            let x = rng0.gaussianMatrix(rows: n, cols: 2)
            let r = (0..<n).map { _ in Double(rng0.nextGaussian()) }
            big.add(x, logRewards: r)
            all += (0..<n).map { (r[$0], [x[$0, 0], x[$0, 1]]) }
        }
        let best = all.sorted { $0.0 > $1.0 }.prefix(50)
        XCTAssertEqual(big.logRewards, best.map(\.0))
        XCTAssertEqual(big.states, best.flatMap(\.1))
        var rng = Xoshiro256(seed: 1)
        let draws = buffer.sample(200_000, rng: &rng).storage
        let weights = (0..<4).map { 1 / (0.5 * 4 + Double($0)) }
        let total = weights.reduce(0, +)
        for (rank, value) in [Float(6), 2, 4, 1].enumerated() {
            let frequency = Double(draws.filter { $0 == value }.count) / Double(draws.count)
            XCTAssertEqual(frequency, weights[rank] / total, accuracy: 0.005)
        }
    }

    /// Local search on N(0, 1) in 2-D: adapted acceptance near 0.574, and the kept (accepted) states centred on
    /// the mode. Accepted proposals are not an exact sample — they over-represent long moves (variance ≈ 1.2
    /// here) — which is fine for a replay buffer; the MALA chain itself is checked against LJ13 elsewhere.
    func testLocalSearchSamplesTheTarget() throws {
        let target = GaussianMixture(name: "n", means: [[0, 0]], componentStd: 1, defaultSigma2: 1)
        var rng = Xoshiro256(seed: 2)
        let start = Matrix(rows: 200, cols: 2, repeating: 3)
        let out = try LocalSearch(sweeps: 600, burnIn: 200, initialStepSize: 0.5).run(from: start, target: target, rng: &rng)
        XCTAssertEqual(out.acceptance, 0.574, accuracy: 0.06)
        XCTAssertEqual(out.gradientEvaluations, 200 * 601)
        let x = out.states.storage
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
        let variance = x.reduce(0.0) { $0 + Double($1 * $1) } / Double(x.count) - mean * mean
        XCTAssertEqual(mean, 0, accuracy: 0.05)
        XCTAssertEqual(variance, 1.2, accuracy: 0.15)
        XCTAssertEqual(out.logRewards.count, out.states.rows)
    }
}

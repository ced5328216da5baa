import XCTest
import Foundation
import Numerics
@testable import NeuralSDE
@testable import Objectives

final class ObjectiveTests: XCTestCase {
    /// Two paths of two steps with hand-picked log-probs: TB and VarGrad values and cotangents by hand.
    func tinyBatch() -> TrajectoryBatch {
        var b = TrajectoryBatch(batchSize: 2, steps: 2, dimension: 1)
        b.logForward = [-1, -2, -0.5, -1]   // S_F = [-1.5, -3]
        b.logBackward = [0, 0, -0.25, -0.5] // S_B = [-0.25, -0.5]
        b.logReward = [1, 2]
        return b
    }

    func testTrajectoryBalanceByHand() {
        var tb = TrajectoryBalance(initialLogZ: 0.5)
        let out = tb.evaluate(tinyBatch())
        // δ = log Z + S_F − S_B − r = [0.5 − 1.5 + 0.25 − 1, 0.5 − 3 + 0.5 − 2] = [−1.75, −4]
        XCTAssertEqual(out.loss, (1.75 * 1.75 + 16) / 2, accuracy: 1e-9)
        XCTAssertEqual(out.logForwardCotangent, [-1.75, -4, -1.75, -4])
        XCTAssertEqual(tb.parameters.gradients[0], -5.75, accuracy: 1e-6)
        XCTAssertEqual(out.logZEstimate, 0.5)
    }

    func testVarGradByHand() {
        var vg = VarGrad()
        let out = vg.evaluate(tinyBatch())
        // S_F − S_B − r = [−2.25, −4.5], mean −3.375, deviations ±1.125
        XCTAssertEqual(out.loss, 1.125 * 1.125, accuracy: 1e-9)
        XCTAssertEqual(out.logForwardCotangent, [1.125, -1.125, 1.125, -1.125])
        XCTAssertEqual(out.logZEstimate, 3.375, accuracy: 1e-9)
    }

    /// The tiny batch with learned log-flows of states 0 and 1 (step-major: [F₀ path 0, F₀ path 1, F₁ path 0, F₁ path 1]).
    func tinyBatchWithFlows() -> TrajectoryBatch {
        var b = tinyBatch()
        b.logFlow = [0.5, 0.3, 0.2, -0.4]
        return b
    }

    func testDetailedBalanceByHand() throws {
        var db = SubTrajectoryBalance.detailedBalance()
        let out = db.evaluate(tinyBatchWithFlows())
        // δ_i = F_i + log p_F − log p_B − F_{i+1} (F₂ = r): path 0 [−0.7, −1.05], path 1 [−1.3, −2.9]
        XCTAssertEqual(out.loss, (0.49 + 1.1025 + 1.69 + 8.41) / 2, accuracy: 1e-6)
        assertEqual(out.logForwardCotangent, [-0.7, -1.3, -1.05, -2.9])
        assertEqual(try XCTUnwrap(out.logFlowCotangent), [-0.7, -1.3, -0.35, -1.6])
        XCTAssertEqual(out.logZEstimate, 0.4, accuracy: 1e-6)
    }

    /// SubTB's pairs run as vectors over a batch's paths on several threads: the cotangents must be bit for bit those of
    /// one loop over the pairs in order (sequential sums, as before session 32), the loss that loop's within rounding,
    /// and every number the same at 1, 2 and 5 threads; T = 37 and 23 leave remainders of every group of four.
    func testSubTrajectoryBalanceVectorPairsKeepTheSequentialCotangents() {
        var rng = Numerics.Xoshiro256(seed: 5)
        for (T, B, lambda) in [(37, 13, 2.0), (23, 4, 1.5)] {
            var batch = TrajectoryBatch(batchSize: B, steps: T, dimension: 1, flows: true)
            for k in 0..<(T * B) {
                batch.logForward[k] = 4 * rng.nextUniform() - 2
                batch.logBackward[k] = 4 * rng.nextUniform() - 2
                batch.logFlow[k] = 10 * rng.nextUniform() - 5
            }
            batch.logReward = (0..<B).map { _ in Double(20 * rng.nextUniform() - 10) }
            // The sequential pairs: one running loss and one gradient update per pair, i inside L.
            let w = (1...T).map { Foundation.pow(lambda, Double($0 - T)) }
            let total = (1...T).reduce(0.0) { $0 + Double(T - $1 + 1) * w[$1 - 1] }
            var loss = 0.0, forward = [Float](repeating: 0, count: T * B), flow = forward
            for b in 0..<B {
                var u = [Double](repeating: 0, count: T + 1), g = u, prefix = 0.0
                for k in 0..<T {
                    u[k] = Double(batch.logFlow[k * B + b]) - prefix
                    prefix += Double(batch.logForward[k * B + b]) - Double(batch.logBackward[k * B + b])
                }
                u[T] = batch.logReward[b] - prefix
                for L in 1...T {
                    let weight = w[L - 1] / total
                    for i in 0...(T - L) {
                        let delta = u[i] - u[i + L]
                        loss += weight * delta * delta
                        g[i] += 2 * weight * delta
                        g[i + L] -= 2 * weight * delta
                    }
                }
                var suffix = 0.0
                for m in stride(from: T - 1, through: 0, by: -1) {
                    suffix += g[m + 1]
                    forward[m * B + b] = Float(-suffix / Double(B))
                    flow[m * B + b] = Float(g[m] / Double(B))
                }
            }
            var outputs: [ObjectiveOutput] = []
            for threads in [1, 2, 5] {
                var subtb = SubTrajectoryBalance.subTrajectoryBalance(lambda: lambda).threaded(threads)
                outputs.append(subtb.evaluate(batch))
            }
            for out in outputs {
                XCTAssertEqual(out.logForwardCotangent.map(\.bitPattern), forward.map(\.bitPattern), "T \(T)")
                XCTAssertEqual(out.logFlowCotangent?.map(\.bitPattern), flow.map(\.bitPattern), "T \(T)")
                XCTAssertEqual(out.loss.bitPattern, outputs[0].loss.bitPattern, "T \(T): the loss depends on the threads")
                XCTAssertEqual(out.loss, loss / Double(B), accuracy: 1e-12 * loss / Double(B), "T \(T)")
            }
        }
    }

    func testSubTrajectoryBalanceByHand() throws {
        var subtb = SubTrajectoryBalance.subTrajectoryBalance(lambda: 2)
        let out = subtb.evaluate(tinyBatchWithFlows())
        // Pairs (0,1), (1,2) have weight 2, (0,2) weight 4; normalised 1/4, 1/4, 1/2. δ₀₂ = δ₀₁ + δ₁₂.
        let loss0 = 0.25 * 0.49 + 0.25 * 1.1025 + 0.5 * 1.75 * 1.75
        let loss1 = 0.25 * 1.69 + 0.25 * 8.41 + 0.5 * 4.2 * 4.2
        XCTAssertEqual(out.loss, (loss0 + loss1) / 2, accuracy: 1e-6)
        assertEqual(out.logForwardCotangent, [-1.05, -2.425, -1.1375, -2.825])
        assertEqual(try XCTUnwrap(out.logFlowCotangent), [-1.05, -2.425, -0.0875, -0.4])
        XCTAssertEqual(subtb.name, "subtb")
        XCTAssertEqual(SubTrajectoryBalance.subTrajectoryBalance(forwardLooking: true).name, "fl-subtb")
    }

    func testPathIntegralSamplerByHand() throws {
        var pis = ReverseKL()
        let out = pis.evaluate(tinyBatch())
        // S_F − S_B − r = [−2.25, −4.5]: the loss is their mean; each term enters with weight 1/B.
        XCTAssertEqual(out.loss, -3.375, accuracy: 1e-9)
        XCTAssertEqual(out.logZEstimate, 3.375, accuracy: 1e-9)
        XCTAssertEqual(out.logForwardCotangent, [0.5, 0.5, 0.5, 0.5])
        let pathwise = try XCTUnwrap(out.pathwise)
        XCTAssertEqual(pathwise.logBackwardCotangent, [-0.5, -0.5, -0.5, -0.5])
        XCTAssertEqual(pathwise.logRewardCotangent, [-0.5, -0.5])
    }

    func testMaximumLikelihoodByHand() {
        var mle = MaximumLikelihood()
        let out = mle.evaluate(tinyBatch())
        XCTAssertEqual(out.loss, 2.25, accuracy: 1e-9)                 // −mean(S_F) = −(−1.5 − 3)/2
        XCTAssertEqual(out.logForwardCotangent, [-0.5, -0.5, -0.5, -0.5])
        XCTAssertEqual(out.logZEstimate, 3.375, accuracy: 1e-9)        // mean(r + S_B − S_F) = mean(2.25, 4.5)
    }

    func testRelativeTrajectoryBalanceByHand() {
        var rtb = RelativeTrajectoryBalance(beta: 2)
        var batch = tinyBatch()
        batch.priorLogForward = [-0.5, -1, -1, -0.5]  // S_prior = [−1.5, −1.5]
        let out = rtb.evaluate(batch)
        // δ = log Z + S_F − S_prior − β·r = [0 − 1.5 + 1.5 − 2, 0 − 3 + 1.5 − 4] = [−2, −5.5]
        XCTAssertEqual(out.loss, (4 + 30.25) / 2, accuracy: 1e-9)
        XCTAssertEqual(out.logForwardCotangent, [-2, -5.5, -2, -5.5])
        XCTAssertEqual(rtb.parameters.gradients[0], -7.5, accuracy: 1e-6)
    }

    func assertEqual(_ a: [Float], _ b: [Float], line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-6, line: line) }
    }
}

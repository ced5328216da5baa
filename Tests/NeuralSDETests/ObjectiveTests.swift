import XCTest
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
}

import XCTest
@testable import Numerics
@testable import NeuralSDE
@testable import Objectives

final class LogVarianceBaselineTests: XCTestCase {
    /// Two paths with S_F − S_B − log R = [−2.25, −4.5] and the baseline b = −0.5: residuals ρ − b = [−1.75, −4];
    /// loss, cotangents and ∂/∂b by hand, and ∂/∂b against a central difference of the loss in double precision.
    func testLossAndGradientsByHand() {
        var batch = TrajectoryBatch(batchSize: 2, steps: 2, dimension: 1)
        batch.logForward = [-1, -2, -0.5, -1]
        batch.logBackward = [0, 0, -0.25, -0.5]
        batch.logReward = [1, 2]
        var lv = LogVarianceBaseline()
        lv.parameters.values = [-0.5]
        let out = lv.evaluate(batch)
        XCTAssertEqual(out.loss, (1.75 * 1.75 + 16) / 2, accuracy: 1e-12)
        XCTAssertEqual(out.logForwardCotangent, [-1.75, -4, -1.75, -4])
        XCTAssertEqual(out.logZEstimate, 0.5)
        XCTAssertEqual(Double(lv.parameters.gradients[0]), 5.75, accuracy: 1e-6)
        func loss(_ b: Double) -> Double { [-2.25, -4.5].map { ($0 - b) * ($0 - b) }.reduce(0, +) / 2 }
        let h = 1e-5
        XCTAssertEqual(Double(lv.parameters.gradients[0]), (loss(-0.5 + h) - loss(-0.5 - h)) / (2 * h), accuracy: 1e-6)
    }
}

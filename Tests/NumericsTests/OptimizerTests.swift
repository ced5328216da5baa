import XCTest
@testable import Numerics

final class OptimizerTests: XCTestCase {
    func store() -> (ParameterStore, ParameterSlot, ParameterSlot) {
        var s = ParameterStore()
        let a = s.add("trunk", Matrix(rows: 1, cols: 3, storage: [0.5, -1, 2]))
        let b = s.add("head", Matrix(rows: 1, cols: 2, storage: [0, 1]))
        s.gradients = [3, 4, 0, 1, -1]
        return (s, a, b)
    }

    /// The chain is clip → Adam at rate·factor (slot rates too) → average: the same values, bit for bit, as the
    /// three transformations applied by hand; a plateau cut multiplies every rate.
    func testChainComposesClipAdamAndAverage() {
        let (initial, _, head) = store()
        var chain = OptimizerChain(store: initial, learningRate: 0.1, clipNorm: 1, slotRates: [(head, 0.5)], averageDecay: 0.75)
        var mine = initial
        chain.step(&mine, factor: 0.5)

        var byHand = initial
        byHand.clipGradientNorm(1)
        XCTAssertEqual(Double(byHand.gradientNorm), 1, accuracy: 1e-6)
        var adam = Adam(learningRate: 0.05, count: 5)
        adam.update(&byHand, overrides: [(head, 0.25)])
        XCTAssertEqual(mine.values, byHand.values)
        XCTAssertEqual(chain.average, zip(initial.values, byHand.values).map { 0.75 * $0 + 0.25 * $1 })
        XCTAssertEqual(chain.learningRate, 0.1)  // the factor scales one step, not the state
        chain.cut(by: 0.1)
        XCTAssertEqual(chain.learningRate, 0.1 * 0.1)
        XCTAssertEqual(chain.slotRates[0].rate, 0.5 * 0.1)
    }

    /// A plateau: the count of epochs without a lower loss reaches the patience, a cut is due, and counting starts again.
    func testPlateauCountsEpochsWithoutImprovement() {
        var p = PlateauState()
        let cuts = [5.0, 4.0, 4.5, 4.2, 4.1, 3.0, 3.5, 3.5].map { p.endEpoch(loss: $0, patience: 2) }
        XCTAssertEqual(cuts, [false, false, false, true, false, false, false, true])
        XCTAssertEqual(p.bestLoss, 3)
        var never = PlateauState()
        XCTAssertFalse([1.0, 2, 3, 4].map { never.endEpoch(loss: $0, patience: 0) }.contains(true))
    }
}

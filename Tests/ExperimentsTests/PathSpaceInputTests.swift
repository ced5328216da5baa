import XCTest
import Foundation
@testable import Experiments
import RunStore
import Training
import TestSupport

/// The files path-space training reads (RTB's prior, MLE's data) and the combinations it refuses.
final class PathSpaceInputTests: ScratchFolderTestCase {
    let small = ["iterations=3", "batch_size=16", "steps=8", "hidden=8", "eval_paths=20"]

    /// An MLE prior trained into the scratch folder.
    func trainPrior(_ extra: [String] = []) throws -> String {
        let path = directory + "/prior.h5"
        _ = try Job(config: try RunConfig.parse(["target=gmm25", "objective=mle"] + small + extra), outputPath: path).run()
        return path
    }

    func assertRefused(_ settings: [String], _ fragment: String, line: UInt = #line) {
        XCTAssertThrowsError(try PathSpaceLearner(config: try RunConfig.parse(settings)), line: line) {
            XCTAssertTrue("\($0)".contains(fragment), "\($0)", line: line)
        }
    }

    /// RTB refuses what it cannot score or evaluate consistently, and names the difference of a mismatched prior.
    func testRTBRefusesWhatItCannotScore() throws {
        let prior = try trainPrior()
        let rtb = ["target=gmm9-weighted", "objective=rtb", "prior=" + prior, "reward=rtb-toy"] + small
        assertRefused(rtb + ["local_search=true", "ls_sweeps=4", "ls_burn_in=2"], "local_search=false")
        assertRefused(rtb + ["langevin=true"], "langevin=false")
        assertRefused(["target=funnel", "objective=rtb", "prior=" + prior, "reward=rtb-toy"] + small, "dimension 2 but target=funnel")
        let flowPrior = directory + "/db.h5"
        _ = try Job(config: try RunConfig.parse(["target=gmm25", "objective=db"] + small), outputPath: flowPrior).run()
        assertRefused(["target=gmm9-weighted", "objective=rtb", "prior=" + flowPrior, "reward=rtb-toy"] + small,
                      "differs from this run's in parameters")
    }

    /// With a weight average, RTB's average starts at the prior it fine-tunes, not at random weights.
    func testRTBAverageStartsAtThePrior() throws {
        let prior = try trainPrior()
        let learner = try PathSpaceLearner(config: try RunConfig.parse(["target=gmm9-weighted", "objective=rtb", "prior=" + prior,
                                                                       "reward=rtb-toy", "ema=0.99"] + small))
        let priorNetwork = try XCTUnwrap(RunFile.restore(path: prior) as? PathSpaceLearner).trainer.network
        XCTAssertEqual(learner.trainer.state.networkOptimizer.average, priorNetwork.parameters.values)
    }

    /// A run is evaluated without the files it trained from; resuming it needs them and says which is missing.
    func testEvaluationDoesNotReadTrainingInputs() throws {
        let prior = try trainPrior()
        let rtbPath = directory + "/rtb.h5"
        let rtb = try RunConfig.parse(["target=gmm9-weighted", "objective=rtb", "prior=" + prior, "reward=rtb-toy"] + small)
        _ = try Job(config: rtb, outputPath: rtbPath).run()
        try FileManager.default.removeItem(atPath: prior)
        let restored = try RunFile.restore(path: rtbPath)
        XCTAssertFalse(try restored.evaluate().samples.storage.isEmpty)
        var longer = rtb
        longer.iterations = 5
        XCTAssertThrowsError(try Job(config: longer, outputPath: rtbPath).run(.resume)) {
            XCTAssertTrue("\($0)".contains("cannot read the prior's run file"), "\($0)")
        }
    }

    /// MLE data with a non-finite value is refused at load time, naming the row, and no run file is written.
    func testNonFiniteDataIsRefusedAtLoad() throws {
        var root = Node()
        root.put("samples", .float(shape: [3, 2], values: [0, 1, 2, .nan, 4, 5]))
        let data = directory + "/data.h5"
        try HDF5.write(root, to: data)
        let out = directory + "/mle.h5"
        XCTAssertThrowsError(try Job(config: try RunConfig.parse(["target=gmm25", "objective=mle", "data=" + data] + small),
                                     outputPath: out).run()) {
            XCTAssertTrue("\($0)".contains("non-finite value (nan) in row 1"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// A batch whose iteration cannot fit in memory is refused before any work, with the estimate.
    func testBatchBeyondMemoryIsRefused() throws {
        assertRefused(["target=gmm25", "batch_size=1000000", "steps=1000", "hidden=64"], "GiB")
    }
}

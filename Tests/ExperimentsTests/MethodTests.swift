import XCTest
import Foundation
@testable import Experiments
import Training

final class MethodTests: XCTestCase {
    /// The log-variance loss with a learned baseline, given the rate TB gives its log Z, trains exactly as TB:
    /// the same network weights bit for bit, and the baseline is −log Z (Adam is odd in the gradient).
    func testLogVarianceBaselineIsTBWithTheBaselineAsMinusLogZ() throws {
        let common = ["target=gmm25", "iterations=20", "batch_size=16", "steps=8", "hidden=8", "threads=1", "lr_log_z=0.001"]
        let tb = try PathSpaceLearner(config: try RunConfig.parse(common + ["objective=tb"]))
        let lv = try PathSpaceLearner(config: try RunConfig.parse(common + ["objective=lv-baseline"]))
        try tb.train()
        try lv.train()
        XCTAssertEqual(lv.trainer.network.parameters.values, tb.trainer.network.parameters.values)
        XCTAssertEqual(lv.trainer.objective.parameters.values, tb.trainer.objective.parameters.values.map { -$0 })
        XCTAssertEqual(lv.history.map(\.logZ), tb.history.map(\.logZ))
        // At its own (network) rate the baseline moves less than TB's log Z at lr_log_z = 0.1.
        let fast = try PathSpaceLearner(config: try RunConfig.parse(Array(common.dropLast()) + ["objective=tb"]))
        try fast.train()
        XCTAssertGreaterThan(abs(fast.trainer.objective.parameters.values[0]), abs(lv.trainer.objective.parameters.values[0]))
    }

    /// Methods are named in one place: no source file outside the registry compares `objective` with a name.
    func testNoObjectiveNameComparisonsOutsideTheRegistry() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources").standardized
        let files = FileManager.default.enumerator(atPath: sources.path)!.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        XCTAssertGreaterThan(files.count, 50)
        let pattern = try NSRegularExpression(pattern: #"objective\s*[!=]=\s*"|case\s+"(tb|vargrad|db|subtb|fl-subtb|pis|mle|rtb|idem|mala)""#)
        for file in files where !file.hasSuffix("Methods.swift") {
            let text = try String(contentsOfFile: sources.appendingPathComponent(file).path, encoding: .utf8)
            let hits = pattern.numberOfMatches(in: text, range: NSRange(text.startIndex..., in: text))
            XCTAssertEqual(hits, 0, "\(file) compares objective names; declare what the method needs in Method.all instead")
        }
        XCTAssertEqual(Method.names, RunConfig.keys.first { $0.name == "objective" }.map { _ in Method.all.map(\.name) })
        for name in Method.names { XCTAssertEqual(try RunConfig.parse(["objective=" + name]).method.name, name) }
    }
}

final class OptimizerChainTrainingTests: XCTestCase {
    /// The optimiser chain is the same for every method: path-space training takes the plateau schedule (its rates
    /// cut when the mean loss of `log_every` iterations stops falling) and the weight average, whose weights are
    /// the ones evaluated.
    func testPathSpaceTakesPlateauAndWeightAverage() throws {
        let settings = ["target=gmm25", "iterations=40", "batch_size=16", "steps=5", "hidden=8", "threads=1", "log_every=2",
                        "lr_schedule=plateau", "lr_patience=1", "lr_factor=0.5", "ema=0.9", "eval_paths=32"]
        let trainer = try PathSpaceLearner(config: try RunConfig.parse(settings))
        try trainer.train()
        let rate = trainer.trainer.state.networkOptimizer.learningRate
        XCTAssertLessThan(rate, 1e-3)  // cut at least once in 20 epochs of 2 iterations
        XCTAssertEqual(trainer.trainer.state.objectiveOptimizer.learningRate / rate, 100, accuracy: 1e-3)  // both chains cut together
        let average = try XCTUnwrap(trainer.trainer.state.networkOptimizer.average)
        XCTAssertNotEqual(average, trainer.trainer.network.parameters.values)
        XCTAssertEqual(trainer.evaluationNetwork.parameters.values, average)
    }
}

import XCTest
import Foundation
@testable import Experiments
import Densities
import Evaluation
import Numerics
import RunStore
import Training
import TestSupport

/// `objective=mfvi`: the reparameterised gradient against finite differences of the same draws' loss, convergence to
/// an exactly representable Gaussian target, and resume = uninterrupted.
final class VariationalBaselineTests: XCTestCase {
    typealias Shifted = AnnealingBaselineTests.Shifted

    func testGradientMatchesFiniteDifferences() throws {
        var model = MeanFieldVI(dimension: 2, initialStd: 0.8)
        model.parameters.values = [0.3, -0.2, -0.1, 0.2]
        func loss(_ values: [Float]) throws -> Double {
            var m = model
            m.parameters.values = values
            var rng = Xoshiro256(seed: 5)
            return try m.lossAndGradient(target: Shifted(), batch: 64, rng: &rng)
        }
        var rng = Xoshiro256(seed: 5)
        _ = try model.lossAndGradient(target: Shifted(), batch: 64, rng: &rng)
        let failures = try FiniteDifference.check(model.parameters.values, gradient: model.parameters.gradients, at: Array(0..<4),
                                                  step: 1e-2, label: { "parameter \($0)" }) { v, _ in try loss(v) }
        for f in failures { XCTFail(f) }
    }

    func testFitsAGaussianExactlyAndResumes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mfvi-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try RunConfig.parse(["objective=mfvi", "iterations=1500", "batch_size=100", "lr=0.02", "eval_paths=1000",
                                          "log_every=100"])
        var job = Job(config: config, outputPath: directory + "/full.h5")
        job.target = Shifted()
        let full = try job.run()
        let model = try XCTUnwrap(full.learner as? VariationalBaseline).model
        let values = model.parameters.values
        XCTAssertEqual(values[0], 2, accuracy: 0.05)
        XCTAssertEqual(values[1], -1, accuracy: 0.05)
        for k in 2..<4 { XCTAssertEqual(exp(values[k]), 0.5, accuracy: 0.05) }
        let estimates = try XCTUnwrap(full.report.onPolicy)
        XCTAssertEqual(estimates.meanLogWeight, 1.5, accuracy: 0.02, "q = target: ELBO = log Z")
        XCTAssertGreaterThan(estimates.effectiveSampleSize, 0.95)
        let partial = try Learners.make(config, target: Shifted())
        for _ in 0..<700 { _ = try partial.advance() }
        let path = directory + "/resumed.h5"
        try HDF5.write(RunFile.node(partial, provenance: Provenance(seed: config.seed, threads: config.threads), status: "running"), to: path)
        var resumedJob = Job(config: config, outputPath: path)
        resumedJob.target = Shifted()
        let resumed = try resumedJob.run(.resume)
        XCTAssertEqual(resumed.report.samples, full.report.samples)
        XCTAssertEqual(resumed.report.logWeights, full.report.logWeights)
    }
}

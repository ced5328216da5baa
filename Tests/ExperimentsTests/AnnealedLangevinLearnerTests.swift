import XCTest
import Foundation
@testable import Experiments
import Densities
import Evaluation
import Numerics
import RunStore
import Training
import TestSupport

/// `objective=ula`, `mcd`, `cmcd-kl`, `cmcd-lv` as jobs: training raises the ELBO toward the known log Z of a
/// Gaussian target (never above it beyond Monte-Carlo error), a resumed run equals an uninterrupted one, and settings
/// that do not apply are refused.
final class AnnealedLangevinLearnerTests: XCTestCase {
    typealias Shifted = AnnealingBaselineTests.Shifted

    func testTrainingApproachesLogZAndResumes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ald-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for objective in ["ula", "mcd", "cmcd-kl", "cmcd-lv"] {
            let config = try RunConfig.parse(["objective=\(objective)", "iterations=200", "batch_size=32", "steps=8", "lr=0.02",
                                              "max_diffusion=2", "eval_paths=1000", "log_every=50", "hidden=16", "grad_clip=10"])
            let untrained = try Learners.make(config, target: Shifted()).evaluate().onPolicy!.meanLogWeight
            var job = Job(config: config, outputPath: directory + "/\(objective)-full.h5")
            job.target = Shifted()
            let full = try job.run()
            let estimates = try XCTUnwrap(full.report.onPolicy)
            XCTAssertGreaterThan(estimates.meanLogWeight, untrained + 1, objective)
            XCTAssertLessThan(estimates.meanLogWeight, 1.5 + 0.05, "\(objective): an ELBO above log Z")
            XCTAssertEqual(estimates.importanceWeighted, 1.5, accuracy: 0.3, objective)
            let partial = try Learners.make(config, target: Shifted())
            for _ in 0..<90 { _ = try partial.advance() }
            let path = directory + "/\(objective)-resumed.h5"
            try HDF5.write(RunFile.node(partial, provenance: Provenance(seed: config.seed, threads: config.threads), status: "running"), to: path)
            var resumedJob = Job(config: config, outputPath: path)
            resumedJob.target = Shifted()
            let resumed = try resumedJob.run(.resume)
            XCTAssertEqual(resumed.report.samples, full.report.samples, objective)
            XCTAssertEqual(resumed.report.logWeights, full.report.logWeights, objective)
        }
    }

    /// Settings these methods would ignore (a reference SDE, exploration, another evaluation grid, schedules) are refused.
    func testRefusesSettingsItDoesNotUse() throws {
        for setting in ["sigma2=2", "reference=vp", "exploration=0.2", "eval_steps=10", "lr_schedule=cosine", "local_search=true"] {
            let config = try RunConfig.parse(["objective=cmcd-kl", setting])
            let key = String(setting.split(separator: "=")[0])
            XCTAssertThrowsError(try Learners.make(config, target: Shifted())) { error in
                XCTAssertTrue("\(error)".contains("does not use \(key)") && "\(error)".contains("prior_std"), "\(error)")
            }
        }
    }
}

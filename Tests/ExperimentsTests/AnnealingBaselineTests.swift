import XCTest
import Foundation
@testable import Experiments
import Densities
import Evaluation
import Numerics
import RunStore

/// `objective=smc` and `objective=ais` as jobs: their log Z on a target with known normaliser, an interrupted run
/// resumed to exactly the uninterrupted one, and the refusal of particle targets.
final class AnnealingBaselineTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("annealing-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// N((2, −1), 0.5²I) scaled by e^{1.5}: log Z = 1.5.
    struct Shifted: Target {
        let name = "shifted", dimension = 2
        var logZ: Double? { 1.5 }
        func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                      gradient: UnsafeMutablePointer<Float>?) throws {
            let mean: [Float] = [2, -1]
            for r in 0..<count {
                var q = 0.0
                for k in 0..<2 {
                    let u = (x[r * 2 + k] - mean[k]) / 0.5
                    q += Double(u) * Double(u)
                    gradient?[r * 2 + k] = -u / 0.5
                }
                logDensity[r] = 1.5 - 0.5 * q - 2 * (log(0.5) + 0.5 * log(2 * Double.pi))
            }
        }
    }

    static let settings = ["eval_paths=400", "anneal_steps=24", "anneal_step=0.2", "hmc_leapfrog=4", "log_every=4", "smc_ess=0.9"]

    /// Settings the baselines do not read are refused, naming the setting (they would be ignored silently), as are
    /// the baselines' settings under other objectives, `anneal_cess` on the linear schedule, and a full mass matrix
    /// with fewer than 4·d particles.
    func testUnreadSettingsAreRefused() throws {
        let only = "only objective=smc and objective=ais read"
        for (settings, message) in [
            (["objective=ais", "smc_ess=0.5"], "does not use smc_ess"), (["objective=smc", "iterations=5"], "does not use iterations"),
            (["objective=mfvi", "prior_std=3"], "does not use prior_std"), (["objective=mfvi", "anneal_steps=9"], "\(only) anneal_steps"),
            (["objective=tb", "anneal_precondition=full"], "\(only) anneal_precondition"), (["objective=mala", "smc_ess=0.5"], "\(only) smc_ess"),
            (["objective=smc", "anneal_cess=0.5"], "without anneal_schedule=adaptive"),
            (["objective=ais", "anneal_precondition=full", "eval_paths=7"], "at least 4·d = 8 particles"),
            (["objective=smc", "anneal_precondition=true", "eval_paths=7"], "at least 8 particles"),
        ] {
            XCTAssertThrowsError(try Learners.make(try RunConfig.parse(settings), target: Shifted())) {
                XCTAssertTrue("\($0)".contains(message), "\($0)")
            }
        }
        XCTAssertNoThrow(try Learners.make(try RunConfig.parse(["objective=ais", "anneal_precondition=full", "eval_paths=8"]), target: Shifted()))
    }

    func testLogZAndResume() throws {
        for objective in ["smc", "ais"] {
            let config = try RunConfig.parse(Self.settings.filter { objective == "smc" || !$0.hasPrefix("smc_ess") } + ["objective=\(objective)"])
            var job = Job(config: config, outputPath: directory + "/\(objective)-full.h5")
            job.target = Shifted()
            let full = try job.run()
            let estimates = try XCTUnwrap(full.report.onPolicy)
            XCTAssertEqual(estimates.importanceWeighted, 1.5, accuracy: 0.1, objective)
            XCTAssertLessThanOrEqual(estimates.meanLogWeight, estimates.importanceWeighted + 1e-9, "the ELBO bounds log Ẑ")
            XCTAssertEqual(full.learner.budget.gradient, 400 * (1 + 24 * 4))
            let baseline = try XCTUnwrap(full.learner as? AnnealingBaseline)
            XCTAssertEqual(baseline.state.resamplings > 0, objective == "smc")
            // Stopped after 10 temperatures, written as a running file, resumed: the same run.
            let partial = try Learners.make(config, target: Shifted())
            for _ in 0..<10 { _ = try partial.advance() }
            let path = directory + "/\(objective)-resumed.h5"
            try HDF5.write(RunFile.node(partial, provenance: Provenance(seed: config.seed, threads: config.threads), status: "running"),
                           to: path)
            var resumedJob = Job(config: config, outputPath: path)
            resumedJob.target = Shifted()
            let resumed = try resumedJob.run(.resume)
            XCTAssertEqual(resumed.report.samples, full.report.samples, objective)
            XCTAssertEqual(resumed.report.logWeights, full.report.logWeights, objective)
        }
    }

    func testParticleTargetsAreRefused() throws {
        let config = try RunConfig.parse(["target=dw4", "objective=smc", "eval_paths=10"])
        XCTAssertThrowsError(try Learners.make(config)) { error in
            XCTAssertTrue("\(error)".contains("not centre-of-mass free"), "\(error)")
        }
    }
}

import XCTest
import Foundation
@testable import Experiments
import Numerics
import RunStore
import Training

/// `teacher=true`: the Teacher's reward by hand, a run that resumes exactly (the Teacher's network, log Z, optimisers
/// and buffer are in the checkpoint), and the combinations it refuses.
final class AdaptiveTeacherTests: XCTestCase {
    /// log(1.001 + w·½δ²) with w = 20 where the student under-samples (δ > 0), 1 elsewhere.
    func testStudentLossByHand() {
        let got = AdaptiveTeacher.studentLoss(residuals: [2, -2, 0, 0.5])
        let want = [log(1.001 + 20 * 2.0), log(1.001 + 2.0), log(1.001), log(1.001 + 20 * 0.125)]
        for (g, w) in zip(got, want) { XCTAssertEqual(g, w, accuracy: 1e-12) }
    }

    func testResumesExactlyAndRefusesWhatItCannotCombine() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("teacher-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Stops after an odd (Teacher-fed) and after an even iteration, on the uniform grid and on fresh random grids.
        for (grid, stop) in [("uniform", 11), ("random", 10)] {
            let config = try RunConfig.parse(["target=gmm25", "objective=tb", "teacher=true", "iterations=24", "batch_size=16",
                                              "steps=8", "hidden=16", "eval_paths=64", "log_every=4", "grid=\(grid)"])
            let full = try Job(config: config, outputPath: directory + "/full-\(grid).h5").run()
            let partial = try PathSpaceLearner(config: config)
            for _ in 0..<stop { _ = try partial.advance() }
            XCTAssertGreaterThan(partial.trainer.teacher?.buffer.count ?? 0, 0)
            let path = directory + "/resumed-\(grid).h5"
            try HDF5.write(RunFile.node(partial, provenance: Provenance(seed: config.seed, threads: config.threads), status: "running"), to: path)
            XCTAssertNotNil(try HDF5.read(path).group("checkpoint")?.dataset("teacher_buffer_states"))
            let resumed = try Job(config: config, outputPath: path).run(.resume)
            XCTAssertEqual(resumed.report.samples, full.report.samples, grid)
            XCTAssertEqual(resumed.report.logWeights, full.report.logWeights, grid)
        }
        for settings in [["objective=pis", "teacher=true"], ["objective=tb", "teacher=true", "local_search=true"], ["objective=mle", "teacher=true"],
                         ["objective=smc", "teacher=true"], ["objective=tb", "teacher_alpha=1"]] {
            XCTAssertThrowsError(try Learners.make(try RunConfig.parse(settings))) {
                XCTAssertTrue("\($0)".contains("teacher"), "\($0)")
            }
        }
        XCTAssertThrowsError(try RunConfig.parse(["teacher_alpha=1e5"]))
    }
}

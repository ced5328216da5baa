import XCTest
import TestSupport
import Foundation
@testable import Experiments
@testable import RunStore

final class LiveLogTests: ScratchFolderTestCase {
    let tiny = ["target=gmm25", "objective=tb", "iterations=30", "batch_size=32", "steps=10", "hidden=16",
                "eval_paths=64", "log_every=5", "eval_every=10", "threads=2"]

    /// A JSON value of a live-log line (decoded with Foundation's decoder, whose doubles read back exactly).
    enum Value: Decodable {
        case text(String), number(Double), null
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null } else if let x = try? c.decode(Double.self) { self = .number(x) } else { self = .text(try c.decode(String.self)) }
        }
    }

    /// The JSON objects of a live log, header first, with numbers as doubles and text as strings.
    func lines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
            try JSONDecoder().decode([String: Value].self, from: Data(line.utf8)).compactMapValues { value -> Any? in
                switch value {
                case .text(let s): return s
                case .number(let x): return x
                case .null: return nil
                }
            }
        }
    }

    /// `eval_every` writes the ELBO curve into /train/eval and every logged point into RUN.jsonl as it happens;
    /// the last evaluation during training is the final evaluation (same paths), and the training itself is the
    /// run without `eval_every`.
    func testEvaluationCurveAndLiveLog() throws {
        let path = directory + "/run.h5"
        let (learner, report) = try Job(config: try RunConfig.parse(tiny), outputPath: path).run()
        let root = try HDF5.read(path)
        let eval = try XCTUnwrap(root.group("train")?.group("eval"))
        XCTAssertEqual(eval.dataset("iteration")?.doubles, [10, 20, 30])
        XCTAssertEqual(eval.dataset("elbo")?.doubles.last, report.onPolicy?.meanLogWeight)
        XCTAssertEqual(eval.dataset("log_z_true")?.doubles, [0, 0, 0])
        let log = try lines(LiveLog.path(for: path))
        XCTAssertEqual(log.first?["format"] as? String, "dsampler-live-log")
        let train = log.filter { $0["kind"] as? String == "train" }, evals = log.filter { $0["kind"] as? String == "eval" }
        XCTAssertEqual(train.map { $0["iteration"] as? Double }, learner.history.map { Double($0.iteration) })
        XCTAssertEqual(train.map { $0["loss"] as? Double }, learner.history.map(\.loss))
        XCTAssertEqual(evals.map { $0["elbo"] as? Double }, eval.dataset("elbo")?.doubles)
        let plain = try Job(config: try RunConfig.parse(tiny.dropLast(2) + ["threads=2"]), outputPath: directory + "/plain.h5").run()
        XCTAssertEqual(plain.report.samples, report.samples)
    }

    /// A run stopped at a checkpoint and resumed has the whole curve once in its live log, as the uninterrupted run.
    func testResumedRunLogsItsWholeCurve() throws {
        let config = try RunConfig.parse(tiny)
        let full = directory + "/full.h5", resumed = directory + "/resumed.h5"
        try Job(config: config, outputPath: full).run()
        var short = config
        short.iterations = 20
        try Job(config: short, outputPath: resumed).run()
        try Job(config: config, outputPath: resumed).run(.resume)
        func curve(_ path: String) throws -> [String] {
            try lines(LiveLog.path(for: path)).dropFirst().map { record in
                "\(record["kind"]!) \(record["iteration"]!) \(record["loss"] ?? "") \(record["elbo"] ?? "")"
            }
        }
        XCTAssertEqual(try curve(resumed), try curve(full))
    }
}

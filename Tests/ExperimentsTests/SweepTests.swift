import XCTest
import Foundation
@testable import Experiments
@testable import RunStore

final class SweepTests: XCTestCase {
    /// `key=a,b` lists expand to their Cartesian product, in order, each run with its own file.
    func testAssignmentsExpandToGrid() throws {
        let spec = try SweepSpec(name: "s", assignments: ["target=gmm9,funnel", "objective=tb", "seed=0,1,2"])
        let runs = spec.runs()
        XCTAssertEqual(runs.count, 6)
        XCTAssertEqual(runs[0].settings, ["target=gmm9", "objective=tb", "seed=0"])
        XCTAssertEqual(runs[5].settings, ["target=funnel", "objective=tb", "seed=2"])
        XCTAssertEqual(Set(runs.map(\.fileName)).count, 6)
        XCTAssertTrue(runs[1].fileName.hasPrefix("gmm9-tb-") && runs[1].fileName.hasSuffix("-seed1.h5"), runs[1].fileName)
        // Names hash only non-default settings: spelling out a default does not rename a run.
        let explicit = try SweepSpec(name: "s", assignments: ["target=gmm9", "objective=tb", "seed=0", "steps=100"]).runs()
        XCTAssertEqual(explicit[0].fileName, runs[0].fileName)
    }

    /// YAML cells add to and override the shared settings; command-line settings override both files' values.
    func testYAMLCells() throws {
        let yaml = """
            name: table
            settings: {iterations: 100, seed: [0, 1], exploration: 0.2}
            cells:
              - {target: gmm25, objective: [tb, vargrad]}
              - {target: manywell, objective: tb, langevin: true, exploration: 0.1}
            """
        let spec = try SweepSpec(yaml: yaml, extra: ["iterations=50"])
        XCTAssertEqual(spec.name, "table")
        let runs = spec.runs()
        XCTAssertEqual(runs.count, 6)  // 2 objectives × 2 seeds + 1 × 2 seeds
        let manywell = runs.filter { $0.settings.contains("target=manywell") }
        XCTAssertEqual(manywell.count, 2)
        XCTAssertTrue(manywell[0].settings.contains("exploration=0.1") && !manywell[0].settings.contains("exploration=0.2"))
        XCTAssertTrue(runs.allSatisfy { $0.settings.contains("iterations=50") })
    }

    /// Unknown settings, unknown spec keys and two identical runs are errors that say what to change.
    func testRejectsBadSpecs() {
        XCTAssertThrowsError(try SweepSpec(name: "s", assignments: ["iteratons=5"])) { XCTAssertTrue("\($0)".contains("iterations"), "\($0)") }
        XCTAssertThrowsError(try SweepSpec(yaml: "name: x\nsetting: {seed: 1}\n")) { XCTAssertTrue("\($0)".contains("settings, cells"), "\($0)") }
        XCTAssertThrowsError(try SweepSpec(yaml: "cells:\n  - {seed: 1}\n  - {seed: 1}\n")) { XCTAssertTrue("\($0)".contains("same run"), "\($0)") }
    }

    /// A file's state comes from its status attribute; a missing file is missing and an unreadable one unfinished.
    func testFileStates() throws {
        let directory = NSTemporaryDirectory() + "sweep-test-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (name, status) in [("c", "complete"), ("f", "failed"), ("r", "running")] {
            var root = Node()
            root.set("status", .string(status))
            if status == "failed" { root.set("error", .string("target x returned a non-finite log-density")) }
            try HDF5.write(root, to: "\(directory)/\(name).h5")
        }
        XCTAssertTrue(FileManager.default.createFile(atPath: directory + "/torn.h5", contents: Data("not hdf5".utf8)))
        XCTAssertEqual(SweepSpec.state(of: directory + "/c.h5"), .complete)
        XCTAssertEqual(SweepSpec.state(of: directory + "/f.h5"), .failed("target x returned a non-finite log-density"))
        XCTAssertEqual(SweepSpec.state(of: directory + "/r.h5"), .unfinished)
        XCTAssertEqual(SweepSpec.state(of: directory + "/torn.h5"), .unfinished)
        XCTAssertEqual(SweepSpec.state(of: directory + "/none.h5"), .missing)
    }
}

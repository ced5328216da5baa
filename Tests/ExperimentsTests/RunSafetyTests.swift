import XCTest
import Foundation
@testable import Experiments
@testable import RunStore
import Densities

/// Results are never lost or written where they should not be: existing runs, failed resumes, concurrent
/// writers, odd destinations, sweep names and Slurm scripts.
final class RunSafetyTests: XCTestCase {
    var directory: String!
    let tiny = ["target=gmm25", "objective=tb", "iterations=30", "batch_size=32", "steps=10", "hidden=16", "eval_paths=64"]

    override func setUp() {
        directory = NSTemporaryDirectory() + "dsampler-safety-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// A finished run is not overwritten by a new run at the same path (of another target, here) unless asked.
    func testExistingRunIsRefusedUnlessResumeOrOverwrite() throws {
        let path = directory + "/run.h5"
        _ = try Job(config: try RunConfig.parse(tiny), outputPath: path).run()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let funnel = try RunConfig.parse(tiny.filter { !$0.hasPrefix("target=") } + ["target=funnel"])
        XCTAssertThrowsError(try Job(config: funnel, outputPath: path).run()) {
            XCTAssertTrue("\($0)".contains("already exists (status complete, target gmm25, objective tb)")
                          && "\($0)".contains("--resume") && "\($0)".contains("--overwrite"), "\($0)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "the refused run changed the file")
        _ = try Job(config: funnel, outputPath: path).run(.overwrite)
        XCTAssertEqual(try HDF5.read(path).group("config")?.attribute("target"), .string("funnel"))
    }

    /// `--resume` of a complete run with nothing left to train neither evaluates nor writes: the file stays byte for
    /// byte, without another leg in its provenance, and the error carries its stored figures and names the given
    /// settings it did not apply. An MCMC run's length is its budget, so a raised `iterations=` trains nothing either (and
    /// is named as not applied), and the message does not suggest raising it.
    func testResumingACompleteRunLeavesItAsItIs() throws {
        let path = directory + "/run.h5"
        _ = try Job(config: try RunConfig.parse(tiny), outputPath: path).run()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        for extra in [[], ["threads=1", "lr=0.01"]] {
            XCTAssertThrowsError(try Job(config: try RunConfig.parse(tiny + extra), outputPath: path).run(.resume)) {
                guard let done = $0 as? RunAlreadyComplete else { return XCTFail("\($0)") }
                XCTAssertTrue("\(done)".contains("run.h5 is already complete (30 iterations) and left as it is; raise iterations="), "\(done)")
                XCTAssertEqual("\(done)".contains("these were not applied: lr=0.01, threads=1"), !extra.isEmpty, "\(done)")
                XCTAssertEqual(done.figures.first { $0.name == "n_eval" }?.value, 64)
                XCTAssertNotNil(done.figures.first { $0.name == "elbo" })
            }
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        }
        let chains = directory + "/mala.h5", mala = ["target=gmm40", "objective=mala", "mala_budget=640", "eval_paths=64"]
        _ = try Job(config: try RunConfig.parse(mala), outputPath: chains).run()
        let kept = try Data(contentsOf: URL(fileURLWithPath: chains))
        XCTAssertThrowsError(try Job(config: try RunConfig.parse(mala + ["iterations=30000"]), outputPath: chains).run(.resume)) {
            XCTAssertTrue("\($0)".hasSuffix("mala.h5 is already complete (9 sweeps) and left as it is; with nothing to train, these "
                                             + "were not applied: iterations=30000"), "\($0)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: chains)), kept)
        // An annealing run's length is its schedule: no hint to raise iterations= (which it refuses).
        let annealed = directory + "/ais.h5", ais = ["target=funnel", "objective=ais", "anneal_steps=8", "eval_paths=8"]
        _ = try Job(config: try RunConfig.parse(ais), outputPath: annealed).run()
        XCTAssertThrowsError(try Job(config: try RunConfig.parse(ais), outputPath: annealed).run(.resume)) {
            XCTAssertTrue("\($0)".hasSuffix("ais.h5 is already complete (8 temperatures) and left as it is"), "\($0)")
        }
        // A complete MLE run whose data file has gone is still left as it is: counting needs no training data.
        let data = directory + "/data.h5", mle = directory + "/mle.h5"
        var samples = Node()
        samples.put("samples", .float(shape: [4, 2], values: [0.5, -0.5, 1, 2, -1, 0.25, 3, -2]))
        try HDF5.write(samples, to: data)
        let fromData = tiny.filter { !$0.hasPrefix("objective=") } + ["objective=mle", "data=\(data)"]
        _ = try Job(config: try RunConfig.parse(fromData), outputPath: mle).run()
        try FileManager.default.removeItem(atPath: data)
        XCTAssertThrowsError(try Job(config: try RunConfig.parse(fromData), outputPath: mle).run(.resume)) {
            XCTAssertTrue($0 is RunAlreadyComplete, "\($0)")
        }
    }

    /// A diverging `--resume` (lr = 1e30) leaves the complete file as it was — status, /eval, /samples and the
    /// checkpoint — and records the failure beside it. A sweep counts the kept complete run as complete, and a
    /// kept unfinished checkpoint with a recorded failure as failed (with the recorded error).
    func testFailedResumeKeepsTheCompleteRun() throws {
        let path = directory + "/run.h5"
        _ = try Job(config: try RunConfig.parse(tiny), outputPath: path).run()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let diverging = try RunConfig.parse(tiny.filter { !$0.hasPrefix("iterations=") } + ["iterations=60", "lr=1e30"])
        XCTAssertThrowsError(try Job(config: diverging, outputPath: path).run(.resume)) {
            XCTAssertTrue("\($0)".contains("is kept as it was") && "\($0)".contains("run.failed.h5"), "\($0)")
            XCTAssertTrue("\($0)".contains("iteration"), "the error should name the iteration: \($0)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        let failed = try HDF5.read(directory + "/run.failed.h5")
        XCTAssertEqual(failed.attribute("status"), .string("failed"))
        XCTAssertEqual(SweepSpec.state(of: path), .complete)
        // When the failed state cannot be written beside (a folder is in the way), the message says so and does
        // not point at the kept file as if it held the failure.
        try FileManager.default.removeItem(atPath: directory + "/run.failed.h5")
        try FileManager.default.createDirectory(atPath: directory + "/run.failed.h5", withIntermediateDirectories: true)
        XCTAssertThrowsError(try Job(config: diverging, outputPath: path).run(.resume)) {
            XCTAssertTrue("\($0)".contains("is kept as it was; the failed state could not be written"), "\($0)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        var running = Node()
        running.set("status", .string("running"))
        try HDF5.write(running, to: directory + "/other.h5")
        try HDF5.write(failed, to: directory + "/other.failed.h5")
        guard case .failed(let error) = SweepSpec.state(of: directory + "/other.h5") else { return XCTFail("a recorded failure is a failed run") }
        XCTAssertTrue(error.contains("iteration"), error)
    }

    /// Divergence stops training at the iteration it happens, instead of a "complete" run with absurd metrics. The
    /// failed state it leaves (before any checkpoint) is not resumed, even at a lower lr (it diverged again from
    /// there): `--resume` says to start anew and leaves the file as it is; `--overwrite` does start anew.
    func testDivergenceStopsTheRun() throws {
        let config = try RunConfig.parse(tiny + ["lr=1e30", "lr_log_z=1e30"]), path = directory + "/d.h5"
        XCTAssertThrowsError(try Job(config: config, outputPath: path).run()) {
            XCTAssertTrue("\($0)".contains("iteration") && ("\($0)".contains("diverged") || "\($0)".contains("non-finite")), "\($0)")
        }
        XCTAssertEqual(try HDF5.read(path).attribute("status"), .string("failed"))
        let failed = try Data(contentsOf: URL(fileURLWithPath: path))
        for lower in [tiny + ["lr=1e30", "lr_log_z=1e30"], tiny + ["lr=1e-3", "lr_log_z=1e-3"]] {
            XCTAssertThrowsError(try Job(config: try RunConfig.parse(lower), outputPath: path).run(.resume)) {
                XCTAssertTrue("\($0)".contains("d.h5 holds the state in which a run failed (") && "\($0)".contains("at iteration")
                              && "\($0)".contains("start the run anew with --overwrite instead of --resume")
                              && "\($0)".contains("d.replaced.h5"), "\($0)")
            }
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), failed)
        }
        // A second failure in its place (--overwrite) replaces the failed state and its log: file and log stay one run's.
        XCTAssertThrowsError(try Job(config: try RunConfig.parse(tiny + ["lr=1e29", "lr_log_z=1e29"]), outputPath: path).run(.overwrite))
        XCTAssertEqual(try RunFile.config(of: try HDF5.read(path), path: path).entries.first { $0.0 == "lr" }?.1, "1e+29")
        func left() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("d.") }.sorted() }
        XCTAssertEqual(try left(), ["d.h5", "d.jsonl"])  // before, the first run's log stayed at d.jsonl, this one's in d.failed.jsonl
        _ = try Job(config: try RunConfig.parse(tiny), outputPath: path).run(.overwrite)
        XCTAssertEqual(try HDF5.read(path).attribute("status"), .string("complete"))
        XCTAssertEqual(try left(), ["d.h5", "d.jsonl"])
    }

    /// A gradient beyond float32's Adam range (here the score 10²⁰ of a tilted target, whose loss stays finite) stops
    /// the run at that iteration: no "complete" file whose optimiser state cannot be read back. And an `--overwrite`
    /// run that fails before it writes anything leaves the previous run's file and live log as they were, its own
    /// log beside them.
    func testOverflowingGradientStopsAndAFailedOverwriteKeepsTheLog() throws {
        struct Tilted: Target {
            let name = "tilted", dimension = 2
            func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                          gradient: UnsafeMutablePointer<Float>?) {
                for r in 0..<count {
                    logDensity[r] = -0.5 * Double(x[r * 2] * x[r * 2] + x[r * 2 + 1] * x[r * 2 + 1]) + 1e-30 * Double(x[r * 2])
                    if let gradient { gradient[r * 2] = 1e20; gradient[r * 2 + 1] = -x[r * 2 + 1] }
                }
            }
        }
        var job = Job(config: try RunConfig.parse(tiny.filter { !$0.hasPrefix("target=") && !$0.hasPrefix("objective=") } + ["objective=pis"]),
                      outputPath: directory + "/g.h5")
        job.target = Tilted()
        XCTAssertThrowsError(try job.run()) { XCTAssertTrue("\($0)".contains("iteration 1") && "\($0)".contains("the gradient"), "\($0)") }
        let path = directory + "/kept.h5", log = directory + "/kept.jsonl"
        _ = try Job(config: try RunConfig.parse(tiny), outputPath: path).run()
        let (run, lines) = (try Data(contentsOf: URL(fileURLWithPath: path)), try Data(contentsOf: URL(fileURLWithPath: log)))
        let diverging = try RunConfig.parse(["target=funnel", "objective=ula", "max_diffusion=10000", "iterations=5", "batch_size=8", "steps=8"])
        XCTAssertThrowsError(try Job(config: diverging, outputPath: path).run(.overwrite))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), run)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: log)), lines)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/kept.failed.jsonl"))
        // Failing after its first checkpoint, the replacement leaves the previous run and its log at NAME.replaced.*,
        // and says so; a replacement that completes removes them.
        final class Calls: @unchecked Sendable { var count = 0 }
        struct Flaky: Target {  // a Gaussian whose energy breaks after a few batches
            let name = "flaky", dimension = 2, calls: Calls
            func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                          gradient: UnsafeMutablePointer<Float>?) {
                calls.count += 1
                for r in 0..<count {
                    logDensity[r] = calls.count > 4 ? .nan : -0.5 * Double(x[r * 2] * x[r * 2] + x[r * 2 + 1] * x[r * 2 + 1])
                    if let gradient { gradient[r * 2] = -x[r * 2]; gradient[r * 2 + 1] = -x[r * 2 + 1] }
                }
            }
        }
        var late = Job(config: try RunConfig.parse(tiny + ["iterations=10"]), outputPath: path)
        (late.checkpointEvery, late.target) = (1, Flaky(calls: Calls()))
        XCTAssertThrowsError(try late.run(.overwrite)) { XCTAssertTrue("\($0)".contains("kept.replaced.h5"), "\($0)") }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/kept.replaced.h5")), run)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/kept.replaced.jsonl")), lines)
        XCTAssertEqual(try Report.records(in: directory).records.filter { $0.path.hasSuffix("replaced.h5") }.count, 0)
        // The failure record is not what resumes: its refusal points at the kept checkpoint, which does. Once the
        // resumed run writes, the record is out of date and goes; once it completes, so does the run it replaced.
        XCTAssertThrowsError(try Job(config: try RunConfig.parse(tiny + ["iterations=10"]), outputPath: directory + "/kept.failed.h5").run(.resume)) {
            XCTAssertTrue("\($0)".hasSuffix("the run's own file, \(path), is what --resume continues"), "\($0)")
        }
        let healed = Calls()
        healed.count = -1000
        var resumed = Job(config: try RunConfig.parse(tiny + ["iterations=10"]), outputPath: path)
        resumed.target = Flaky(calls: healed)
        _ = try resumed.run(.resume)
        XCTAssertEqual(try HDF5.read(path).attribute("status"), .string("complete"))
        for leftover in ["kept.failed.h5", "kept.replaced.h5", "kept.replaced.jsonl"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/" + leftover), leftover)
        }
        _ = try Job(config: try RunConfig.parse(tiny), outputPath: path).run(.overwrite)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/kept.replaced.h5"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/kept.replaced.jsonl"))
    }

    /// One writer per run file: a second one is refused with the holder's process id and command.
    func testSecondWriterIsToldWhoHoldsTheFile() throws {
        let path = directory + "/run.h5"
        let held = try FileLock(for: path, purpose: "writing this run file")
        XCTAssertThrowsError(try Job(config: try RunConfig.parse(tiny), outputPath: path).run()) {
            XCTAssertTrue("\($0)".contains("in use by another process") && "\($0)".contains("pid \(getpid())"), "\($0)")
        }
        held.release()
        XCTAssertNoThrow(try Job(config: try RunConfig.parse(tiny), outputPath: path).run())
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/.run.h5.lock"), "the lock file is removed on release")
    }

    /// Devices, links and FIFOs are refused as destinations (never replaced); an unwritable folder is found before
    /// training.
    func testOddDestinationsAreRefused() throws {
        try FileManager.default.createSymbolicLink(atPath: directory + "/link.h5", withDestinationPath: directory + "/elsewhere.h5")
        XCTAssertEqual(mkfifo(directory + "/fifo.h5", 0o644), 0)
        for (path, what) in [("/dev/null", "a device"), (directory + "/link.h5", "a symbolic link"), (directory + "/fifo.h5", "a FIFO")] {
            XCTAssertThrowsError(try Job(config: try RunConfig.parse(tiny), outputPath: path).run(.overwrite)) {
                XCTAssertTrue("\($0)".contains(what), "\($0)")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/elsewhere.h5"), "a write followed the link")
        if getuid() != 0 {  // root writes anywhere; the check still runs for users
            try FileManager.default.createDirectory(atPath: directory + "/ro", withIntermediateDirectories: true)
            chmod(directory + "/ro", 0o500)
            XCTAssertThrowsError(try Job(config: try RunConfig.parse(tiny), outputPath: directory + "/ro/x.h5").run()) {
                XCTAssertTrue("\($0)".contains("cannot write into"), "\($0)")
            }
        }
    }

    /// Sweep names are one plain path component; run-file names from paths are one component too.
    func testNamesCannotEscapeTheirFolder() throws {
        for bad in ["../escape", "a/b", "x\ny", ".hidden", "", "$(touch x)"] {
            XCTAssertThrowsError(try SweepSpec(name: bad, assignments: ["seed=0"]), bad.debugDescription) {
                XCTAssertTrue("\($0)".contains("bad sweep name"), "\($0)")
            }
        }
        XCTAssertThrowsError(try SweepSpec(yaml: "name: ../../tmp/x\nsettings: {seed: 0}\n"))
        XCTAssertNoThrow(try SweepSpec(name: "table1_v2.1-a", assignments: ["seed=0"]))
        for target in ["plugin:/some/where/my lib.so", "/abs/path/spec.yaml", "../rel/spec.yaml"] {
            let stem = RunFile.fileNameStem(target: target)
            XCTAssertFalse(stem.contains("/") || stem.contains(" ") || stem.hasPrefix("."), stem)
        }
        XCTAssertEqual(RunFile.fileNameStem(target: "plugin:/some/where/my lib.so"), "plugin-my_lib")
        XCTAssertEqual(RunFile.fileNameStem(target: "gmm25"), "gmm25")
    }

    /// Every value in a Slurm script is one quoted word: running the script's task with `echo` as the executable
    /// prints the settings literally, and nothing in them runs.
    func testSlurmScriptQuotesEveryWord() throws {
        let marker = directory + "/injected"
        let nasty = ["prior=$(touch \(marker))", "reward=`touch \(marker)`;touch \(marker)", "data=a b*"]
        let run = SweepSpec.Run(settings: nasty, fileName: "run.h5")
        let script = try SlurmScript(name: "s", directory: directory + "/sweep", runs: [run], executable: "/bin/echo").text()
        try script.write(toFile: directory + "/job.sh", atomically: true, encoding: .utf8)
        let p = Process(), pipe = Pipe()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [directory + "/job.sh"]
        p.environment = ["SLURM_ARRAY_TASK_ID": "0", "PATH": "/usr/bin:/bin"]
        p.standardOutput = pipe
        try p.run()
        p.waitUntilExit()
        let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(printed, (["train"] + nasty + ["threads=1", "--out", directory + "/sweep/run.h5", "--resume"]).joined(separator: " ") + "\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "a setting was executed by the script")
        XCTAssertThrowsError(try SlurmScript(name: "s", directory: directory + "/a\nb", runs: [run], executable: "/bin/echo").text())
        for folder in ["/it's here", "/a b", "/x#y"] {  // sbatch would split, truncate or reject these in #SBATCH --output
            XCTAssertThrowsError(try SlurmScript(name: "s", directory: directory + folder, runs: [run], executable: "/bin/echo").text()) {
                XCTAssertTrue("\($0)".contains("#SBATCH line cannot hold"), "\($0)")
            }
        }
    }

    /// `/config` holds what ran, with HDF5 types: booleans as h5py bools, the σ² and evaluation steps actually used
    /// instead of "default", and a plug-in given by a relative path as an absolute one (the YAML keeps the settings
    /// as given, for --resume).
    func testConfigStoresWhatRan() throws {
        let path = directory + "/run.h5"
        _ = try Job(config: try RunConfig.parse(tiny + ["langevin=false", "local_search=false"]), outputPath: path).run()
        let config = try XCTUnwrap(try HDF5.read(path).group("config"))
        XCTAssertEqual(config.attribute("langevin"), .bool(false))
        XCTAssertEqual(config.attribute("exploration_anneal"), .bool(true))
        XCTAssertEqual(config.attribute("sigma2"), .double(Double(try TargetCatalog.resolve("gmm25").defaultSigma2)))
        XCTAssertEqual(config.attribute("eval_steps"), .int(10))
        XCTAssertEqual(config.attribute("hidden"), .int(16))
        XCTAssertEqual(config.attribute("idem_sigma_min"), .string("unused by objective=tb"))
        XCTAssertTrue(config.attribute("yaml")!.description.contains("sigma2: default"))
        let here = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(directory))
        defer { FileManager.default.changeCurrentDirectoryPath(here) }
        let relative = try RunConfig.parse(["target=plugin:./lib/x.so", "prior=runs/p.h5", "data=d.h5:samples"].map { $0 })
        XCTAssertEqual(relative.target, "plugin:" + URL(fileURLWithPath: directory + "/lib/x.so").standardizedFileURL.path)
        XCTAssertTrue(relative.prior.hasPrefix("/") && relative.prior.hasSuffix("/runs/p.h5"), relative.prior)
        XCTAssertTrue(relative.data.hasPrefix("/") && relative.data.hasSuffix("/d.h5:samples"), relative.data)
    }

    /// Structurally wrong run files (well-formed HDF5 with inconsistent content, as a hand edit or another tool
    /// would leave) give a run-file error naming the problem on eval and resume, never a trap.
    func testInconsistentRunFilesAreRefused() throws {
        let path = directory + "/good.h5"
        _ = try Job(config: try RunConfig.parse(tiny), outputPath: path).run()
        let good = try HDF5.read(path)
        func edited(_ change: (inout Node, inout Node) -> Void) -> Node {
            var root = good, checkpoint = good.group("checkpoint")!
            change(&root, &checkpoint)
            root.put("checkpoint", checkpoint)
            return root
        }
        let cases: [(Node, String)] = [
            (edited { _, c in c.put("network_adam_m", .float(shape: [3], values: [0, 0, 0])) }, "network_adam_m has 3 values"),
            (edited { _, c in c.set("iteration", .double(1e300)) }, "iteration = 1e+300 is not a count"),
            (edited { _, c in c.set("network_adam_step", .int(-5)) }, "network_adam_step = -5.0 is not a count"),
            (edited { _, c in
                var values = good.group("checkpoint")!.dataset("network")!.floats
                values[0] = .nan
                c.put("network", .float(shape: [values.count], values: values))
            }, "network holds non-finite values"),
            (edited { r, _ in
                var train = good.group("train")!
                train.put("loss", .double(shape: [7], values: [Double](repeating: 1, count: 7)))
                r.put("train", train)
            }, "the /train columns have different lengths"),
            (edited { r, _ in r.set("format_version", .int(99)) }, "format_version 99"),
        ]
        for (k, (root, message)) in cases.enumerated() {
            let file = directory + "/bad\(k).h5"
            try HDF5.write(root, to: file)
            XCTAssertThrowsError(try RunFile.restore(try HDF5.read(file), path: file), "case \(k)") {
                XCTAssertTrue("\($0)".contains(message), "case \(k): \($0)")
            }
        }
    }
}

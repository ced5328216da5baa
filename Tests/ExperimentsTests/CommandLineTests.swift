import XCTest
import Foundation
@testable import Experiments
@testable import RunStore
import TestSupport

/// The `dsampler` binary on bad input: every case ends with a clear message and an exit status below 128 (an
/// error, never a signal), before any training. The binary is the one built beside this test bundle.
final class CommandLineTests: ScratchFolderTestCase {
    /// The built `dsampler` (beside the test bundle in the build folder).
    static var binary: String { Binary.path }

    /// Runs the binary with `arguments` (with a time limit) and returns its status, whether it died by a signal,
    /// and what it printed.
    func dsampler(_ arguments: [String], seconds: Double = 60) throws -> (status: Int32, signalled: Bool, output: String) {
        try Binary.run(arguments, seconds: seconds)
    }

    func assertRefused(_ arguments: [String], _ message: String, line: UInt = #line) throws {
        let (status, signalled, output) = try dsampler(arguments)
        XCTAssertFalse(signalled, "\(arguments) died by signal \(status): \(output)", line: line)
        XCTAssertTrue(status > 0 && status < 128, "\(arguments) exited \(status): \(output)", line: line)
        XCTAssertTrue(output.contains(message), "\(arguments): expected '\(message)' in: \(output)", line: line)
        XCTAssertNil(output.range(of: #"(iteration|epoch|sweep) +\d+/"#, options: .regularExpression), "\(arguments) started training", line: line)
    }

    /// Sizes, counts and combinations out of range, for train, reference, bench, sweep and eval.
    func testBadValuesAreRefusedBeforeWork() throws {
        let out = ["--out", directory + "/r.h5"]
        try assertRefused(["train", "hidden=99999999"] + out, "bad value '99999999' for hidden: expected an integer from 1 to 4096")
        try assertRefused(["train", "batch_size=10000000000000000000000"] + out, "for batch_size: expected an integer from 1 to")
        try assertRefused(["train", "threads=0"] + out, "threads: expected an integer from 1 to 256")
        try assertRefused(["train", "steps=0"] + out, "steps: expected an integer from 1")
        try assertRefused(["train", "steps=100000", "batch_size=1000000"] + out, "exceeds the limit of 2147483648 values per array")
        try assertRefused(["train", "objective=vargrad", "batch_size=1"] + out, "at least 2 for objective=vargrad")
        try assertRefused(["train", "local_search=true", "ls_burn_in=200", "ls_sweeps=200"] + out, "fewer than ls_sweeps (200)")
        try assertRefused(["train", "target=dw4", "objective=mala", "mala_budget=10", "eval_paths=100"] + out, "at least eval_paths × (1 + 2 × 1) = 300")
        try assertRefused(["train", "target=dw4", "objective=mala", "mala_budget=6400", "eval_paths=64", "ls_kernel=hmc", "hmc_leapfrog=1000"] + out,
                          "at least eval_paths × (1 + 2 × 1000) = 128064")
        try assertRefused(["reference", "dw4", "--leapfrog", "3", "--out", directory + "/ref.h5"], "--leapfrog applies to --kernel hmc")
        // A dry run only lists: it makes no folder, lock or log.
        let (dryStatus, _, listed) = try dsampler(["sweep", "iterations=10", "seed=0,1", "--name", "dry", "--out", directory + "/dry", "--dry-run"])
        XCTAssertTrue(listed.contains("to run: "), listed)
        XCTAssertEqual(dryStatus, 1, "runs remain, so the sweep is not done: \(listed)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/dry"))
        try assertRefused(["train", "lr=nan"] + out, "bad value 'nan' for lr")
        try assertRefused(["train", "lr=0x10"] + out, "bad value '0x10' for lr")  // not read as hexadecimal 16
        try assertRefused(["train", "iterations=5", "--out", "/proc/version/run.h5"], "cannot")
        try assertRefused(["reference", "gmm25", "--thin", "0", "--out", directory + "/ref.h5"], "--thin must be from 1")
        try assertRefused(["reference", "gmm25", "--burn-in", "10", "--sweeps", "10", "--out", directory + "/ref.h5"], "--burn-in must be")
        try assertRefused(["reference", "gmm25", "--chains", "0", "--out", directory + "/ref.h5"], "--chains must be from 1")
        try assertRefused(["bench", "--repeats", "0"], "--repeats must be from 1")
        try assertRefused(["sweep", "seed=0", "--jobs", "0", "--out", directory + "/sw"], "--jobs must be from 1")
        try assertRefused(["sweep", "seed=0", "--name", "../x"], "bad sweep name")
        let held = try FileLock(for: directory + "/busy", folder: true, purpose: "running sweep busy")
        try assertRefused(["sweep", "seed=0", "iterations=5", "--out", directory + "/busy"], "is in use by another process")
        held.release()
        try assertRefused(["report", directory + "/missing"], "is not a folder")
        try assertRefused(["train", "iterations=5", "--out", ""], "names no file")
        _ = try Job(config: try RunConfig.parse(["iterations=5", "batch_size=16", "steps=5", "hidden=8", "eval_paths=16"]),
                       outputPath: directory + "/tiny.h5").run()
        try assertRefused(["eval", directory + "/tiny.h5", "--paths", "1"], "--paths must be from 2")
        // A failed state is evaluated as it stands, with a note that says what it is.
        let diverged = directory + "/diverged.h5"
        XCTAssertThrowsError(try Job(config: try RunConfig.parse(["iterations=5", "batch_size=16", "steps=5", "hidden=8", "eval_paths=16",
                                                                  "lr=1e30", "lr_log_z=1e30"]), outputPath: diverged).run())
        let (status, _, output) = try dsampler(["eval", diverged])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("note: \(diverged) has status failed: ") && output.contains("not of a finished run"), output)
    }

    /// Truncations and byte flips of a real run file never kill `eval`, `report`, `train --resume` or `plot` by a
    /// signal: each ends with a run-file error or succeeds (a flip in padding changes nothing). Bounded: 40 mutants
    /// (DSAMPLER_MUTANTS=N for more).
    func testMutatedRunFilesNeverCrash() throws {
        let good = directory + "/good.h5"
        let settings = ["iterations=20", "batch_size=16", "steps=5", "hidden=8", "eval_paths=16", "threads=1"]
        _ = try Job(config: try RunConfig.parse(settings), outputPath: good).run()
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        var rng = SystemRandomNumberGenerator()
        var outcomes: [String: Int] = [:]
        let mutants = Int(ProcessInfo.processInfo.environment["DSAMPLER_MUTANTS"] ?? "") ?? 40
        for k in 0..<mutants {
            var mutant = bytes
            if k < 12 {
                mutant = Array(bytes.prefix(bytes.count * k / 12))  // truncations from 0 to 11/12 of the file
            } else {
                for _ in 0..<(1 + k % 4) { mutant[Int.random(in: 0..<mutant.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng) }
            }
            let path = directory + "/m\(k).h5"
            try Data(mutant).write(to: URL(fileURLWithPath: path))
            for command in [["eval", path, "--threads", "1"], ["train"] + settings + ["iterations=25", "--out", path, "--resume"]] {
                let (status, signalled, output) = try dsampler(command, seconds: 60)
                XCTAssertFalse(signalled, "\(command) on mutant \(k) died by signal \(status): \(output.suffix(400))")
                XCTAssertLessThan(status, 128, "\(command) on mutant \(k)")
                if k < 12 && status != 0 {  // a truncated file is the damage the error names, not a run so far
                    XCTAssertFalse(output.contains("run file so far"), "\(command) on mutant \(k): \(output.suffix(400))")
                }
                outcomes["\(command[0]) exit \(status)", default: 0] += 1
            }
        }
        let (status, signalled, output) = try dsampler(["report", directory])
        XCTAssertFalse(signalled)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("Skipped (not readable run files)"), output)
        print("mutation outcomes: \(outcomes.sorted { $0.key < $1.key })")
    }

    /// SIGTERM and SIGINT write a checkpoint marked `interrupted` (with the iteration) and exit with 128 + the
    /// signal; when the run is stuck inside a plug-in that never returns, the watchdog writes the last checkpoint
    /// with a status saying where it stopped. The interrupted run then resumes to completion.
    func testSignalsCheckpointAndAHangingPluginLeavesItsStatus() throws {
        func start(_ arguments: [String], grace: String = "10") throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.binary)
            p.arguments = arguments
            p.environment = ProcessInfo.processInfo.environment.merging(["DSAMPLER_GRACE_SECONDS": grace]) { $1 }
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        let settings = ["batch_size=16", "steps=5", "hidden=8", "eval_paths=16", "threads=1", "log_every=10"]
        for (signal, status) in [(SIGTERM, Int32(143)), (SIGINT, 130)] {
            let path = directory + "/sig\(signal).h5"
            let long = ["train", "iterations=4000", "batch_size=64", "steps=100", "hidden=16", "eval_paths=16", "threads=1", "--out", path]
            let p = try start(long)
            Thread.sleep(forTimeInterval: 1.5)
            kill(p.processIdentifier, signal)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .exit)
            XCTAssertEqual(p.terminationStatus, status)
            let root = try HDF5.read(path)
            XCTAssertEqual(root.attribute("status"), .string("interrupted"))
            let iteration = try XCTUnwrap(root.group("checkpoint")?.attribute("iteration")?.doubleValue)
            XCTAssertGreaterThan(iteration, 0)
            XCTAssertTrue(root.attribute("error")!.description.contains("after iteration \(Int(iteration))"))
            XCTAssertLessThan(iteration, 4000, "the run finished before the signal; the test needs a slower run")
            // It resumes and finishes.
            let (done, _, output) = try dsampler(long + ["--resume"])
            XCTAssertEqual(done, 0, output)
            XCTAssertEqual(try HDF5.read(path).attribute("status"), .string("complete"))
            // Resumed again (a requeued job), the complete run is left byte for byte as it is, and that is no error.
            let finished = try Data(contentsOf: URL(fileURLWithPath: path))
            let (again, _, said) = try dsampler(long + ["--resume"])
            XCTAssertEqual(again, 0, said)
            XCTAssertTrue(said.contains("is already complete (4000 iterations) and left as it is") && said.contains("elbo "), said)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), finished)
            guard signal == SIGINT else { continue }
            /// Runs `arguments`, interrupts it after 1.5 s, and returns its exit status and standard error.
            func interrupted(_ arguments: [String]) throws -> (Int32, String) {
                let errors = directory + "/interrupted.err"
                try Data().write(to: URL(fileURLWithPath: errors))
                let p = Process()
                p.executableURL = URL(fileURLWithPath: Self.binary)
                p.arguments = arguments
                p.standardOutput = FileHandle.nullDevice
                p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
                try p.run()
                Thread.sleep(forTimeInterval: 1.5)
                kill(p.processIdentifier, SIGINT)
                p.waitUntilExit()
                return (p.terminationStatus, try String(contentsOfFile: errors, encoding: .utf8))
            }
            // An interrupted replacement says where the run it replaces is kept (after its first checkpoint: here every
            // 100 iterations); resumed to the end, it removes it.
            let (stopped, message) = try interrupted(long + ["--overwrite", "--checkpoint-every", "100"])
            XCTAssertEqual(stopped, 130)
            XCTAssertTrue(message.contains("(the run it replaces is kept at ") && message.contains("/sig\(signal).replaced.h5 until it completes)"), message)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/sig\(signal).replaced.h5")), finished)
            let (resumed, _, resumedSaid) = try dsampler(long + ["--resume"])
            XCTAssertEqual(resumed, 0, resumedSaid)
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/sig\(signal).replaced.h5"))
            // Interrupted before its first checkpoint, a replacement leaves the complete run as it was and says where
            // its own state went.
            let complete = try Data(contentsOf: URL(fileURLWithPath: path))
            let (stoppedEarly, earlyMessage) = try interrupted(long + ["--overwrite", "--checkpoint-every", "0"])
            XCTAssertEqual(stoppedEarly, 130)
            XCTAssertTrue(earlyMessage.contains("before this run's first checkpoint: the complete run it was to replace is kept as it was")
                          && earlyMessage.contains("/sig\(signal).failed.h5; start again with --overwrite"), earlyMessage)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), complete)
            // So does a continuation of it (--resume with more iterations), which is to be resumed again.
            let longer = long.map { $0 == "iterations=4000" ? "iterations=100000" : $0 }
            let (stoppedContinuing, continuingMessage) = try interrupted(longer + ["--resume", "--checkpoint-every", "0"])
            XCTAssertEqual(stoppedContinuing, 130)
            XCTAssertTrue(continuingMessage.contains("the complete run it continued is kept as it was")
                          && continuingMessage.contains("/sig\(signal).failed.h5; continue it again with --resume"), continuingMessage)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), complete)
        }
        // A closed standard output (`train … | head -2`) ends the run after a checkpoint, as an interruption.
        let piped = directory + "/piped.h5"
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/bash")
        shell.arguments = ["-c", "'\(Self.binary)' train iterations=100000 " + settings.joined(separator: " ") + " --out '\(piped)' | head -2 > /dev/null; "
                           + "exit ${PIPESTATUS[0]}"]
        try shell.run()
        shell.waitUntilExit()
        XCTAssertEqual(shell.terminationStatus, 1)
        let pipedRoot = try HDF5.read(piped)
        XCTAssertEqual(pipedRoot.attribute("status"), .string("interrupted"))
        XCTAssertTrue(pipedRoot.attribute("error")!.description.contains("a closed standard output"))
        let hanging = try PluginBuilder.build("""
            #include <stdint.h>
            #include <unistd.h>
            static int calls = 0;
            int32_t dsampler_dim(void) { return 2; }
            int32_t dsampler_log_density(int64_t n, const double *x, double *lp, double *g) {
                if (++calls > 300) for (;;) pause();  /* hangs for good after 300 calls */
                for (int64_t i = 0; i < n; i++) {
                    lp[i] = -(x[2 * i] * x[2 * i] + x[2 * i + 1] * x[2 * i + 1]) / 2;
                    if (g) { g[2 * i] = -x[2 * i]; g[2 * i + 1] = -x[2 * i + 1]; }
                }
                return 0;
            }
            """, named: "hang", in: directory)
        let path = directory + "/hang.h5"
        let p = try start(["train", "target=plugin:" + hanging, "iterations=1000"] + settings + ["--out", path, "--checkpoint-every", "50"],
                          grace: "1")
        Thread.sleep(forTimeInterval: 3)
        XCTAssertTrue(p.isRunning, "the run should be stuck in the plug-in")
        p.terminate()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 143)
        let root = try HDF5.read(path)
        XCTAssertEqual(root.attribute("status"), .string("interrupted"))
        let error = root.attribute("error")!.description
        XCTAssertTrue(error.contains("inside the target's code") && error.contains("iteration 300"), error)
    }

    /// OPENBLAS_CORETYPE naming kernels this CPU cannot run (AVX-512 ones on an AVX2 machine) is dropped with a
    /// warning instead of dying by SIGILL at the first product; a runnable value is left as it is. Needs a CPU without
    /// AVX-512 for the first half.
    func testUnrunnableOpenBLASCoreTypeIsIgnored() throws {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
            .first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = "Sandybridge"  // AVX, which every x86-64 CPU of this decade has
        let runnable = try Binary.run(["bench", "tb-gmm25", "--threads", "1", "--repeats", "1", "--iterations", "1"], seconds: 120, environment: environment)
        XCTAssertEqual(runnable.status, 0, runnable.output)
        XCTAssertTrue(runnable.output.contains("Sandybridge") && !runnable.output.contains("warning: OPENBLAS_CORETYPE"), runnable.output)
        try XCTSkipIf(flags.contains("avx512f"), "this CPU runs AVX-512 kernels")
        environment["OPENBLAS_CORETYPE"] = "SkylakeX"
        let run = try Binary.run(["bench", "tb-gmm25", "--threads", "1", "--repeats", "1", "--iterations", "1"], seconds: 120, environment: environment)
        XCTAssertFalse(run.signalled, run.output)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("warning: OPENBLAS_CORETYPE=SkylakeX selects kernels that need avx512f, which this CPU lacks; ignored"),
                      run.output)
        XCTAssertTrue(run.output.contains("bench sgemm-peak gflops=") && !run.output.contains("SkylakeX MAX_THREADS"), run.output)
    }

    /// A sweep run's log keeps every attempt: a failed run retried with `--retry-failed` appends after a marker line,
    /// so the first failure's error stays readable beside the retry's.
    func testSweepLogsKeepEveryAttempt() throws {
        let sweep = ["sweep", "target=gmm25", "objective=tb", "iterations=20", "batch_size=16", "steps=5", "hidden=8",
                     "eval_paths=32", "lr=1e30", "lr_log_z=1e30", "--name", "diverging", "--out", directory + "/s", "--jobs", "1"]
        let first = try dsampler(sweep, seconds: 120)
        XCTAssertTrue(first.status != 0 && first.output.contains("FAILED") && first.output.contains("--retry-failed"), first.output)
        let logs = try FileManager.default.contentsOfDirectory(atPath: directory + "/s/logs")
        XCTAssertEqual(logs.count, 1, "\(logs)")
        let path = directory + "/s/logs/" + logs[0]
        let once = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(once.contains("error:") && !once.contains("--- dsampler sweep: "), once)
        let again = try dsampler(sweep + ["--retry-failed"], seconds: 120)
        XCTAssertTrue(again.output.contains("FAILED"), again.output)
        let twice = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(twice.hasPrefix(once), "the first attempt's lines are kept as they were:\n\(twice)")
        let rest = twice.dropFirst(once.count)
        XCTAssertTrue(rest.hasPrefix("--- dsampler sweep: the run starts again at "), String(rest))
        XCTAssertEqual(twice.components(separatedBy: "dsampler train: ").count - 1, 2, twice)
        XCTAssertTrue(rest.contains("error:"), String(rest))
        // A run whose log is a folder or a link fails alone, with the reason, and the link's target is untouched; the
        // other runs go on. A log left with a partial last line gets the marker on a line of its own.
        let grid = ["sweep", "target=gmm25", "objective=tb", "iterations=10", "batch_size=16", "steps=5", "hidden=8",
                    "eval_paths=32", "seed=0,1,2", "--name", "odd", "--out", directory + "/odd", "--jobs", "2"]
        let listed = try dsampler(grid + ["--dry-run"]).output.split(separator: "\n").filter { $0.hasPrefix("to run: ") }
        let names = listed.map { String($0.dropFirst(8).prefix { $0 != " " }.dropLast(3)) }
        XCTAssertEqual(names.count, 3, "\(listed)")
        let logs3 = directory + "/odd/logs/"
        try FileManager.default.createDirectory(atPath: logs3 + names[0] + ".log", withIntermediateDirectories: true)
        try Data("kept".utf8).write(to: URL(fileURLWithPath: directory + "/victim.txt"))
        try FileManager.default.createSymbolicLink(atPath: logs3 + names[1] + ".log", withDestinationPath: directory + "/victim.txt")
        try Data("partial".utf8).write(to: URL(fileURLWithPath: logs3 + names[2] + ".log"))
        let odd = try dsampler(grid, seconds: 120)
        XCTAssertFalse(odd.signalled, odd.output)
        XCTAssertEqual(odd.status, 1, odd.output)
        XCTAssertTrue(odd.output.contains("FAILED: \(names[0]).h5 — cannot open the log") && odd.output.contains("it is a folder"), odd.output)
        XCTAssertTrue(odd.output.contains("FAILED: \(names[1]).h5 — cannot open the log") && odd.output.contains("it is a symbolic link"), odd.output)
        XCTAssertTrue(odd.output.contains("done: \(names[2]).h5"), odd.output)
        XCTAssertEqual(try String(contentsOfFile: directory + "/victim.txt", encoding: .utf8), "kept")
        XCTAssertTrue(try String(contentsOfFile: logs3 + names[2] + ".log", encoding: .utf8).hasPrefix("partial\n--- dsampler sweep: "))
        try assertRefused(grid + ["--dry-run", "--slurm", directory + "/s.sbatch"], "--dry-run only lists the runs and --slurm writes")
    }

    /// A full disk: the first checkpoint that does not fit stops the run with the real cause, a clean exit 1 (no
    /// crash in the HDF5 library at exit) and no temporary files left behind. Needs a small tmpfs (root); skipped
    /// where mounting is not allowed.
    func testFullDiskIsReportedCleanly() throws {
        let small = directory + "/small"
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=120k", "tmpfs", small]
        mount.standardError = FileHandle.nullDevice
        guard (try? mount.run()) != nil, ({ mount.waitUntilExit(); return mount.terminationStatus == 0 })() else {
            throw XCTSkip("cannot mount a small tmpfs here (needs root)")
        }
        defer {
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = [small]
            try? umount.run()
            umount.waitUntilExit()
        }
        let (status, signalled, output) = try dsampler(["train", "iterations=1000", "batch_size=32", "steps=20", "hidden=64",
                                                        "threads=1", "--checkpoint-every", "100", "--out", small + "/run.h5"])
        XCTAssertFalse(signalled, output)
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("no space left on device"), output)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: small).filter { $0.contains(".tmp.") }, [])
    }

    /// Files edited with h5py so that an attribute holds an array where one number belongs (unsealed, as another
    /// tool would leave them) are refused by `eval`, `train --resume` and `report`, never read into a scalar; a
    /// `plot` whose output name is a planted symbolic link replaces the link and leaves its target alone.
    func testHandEditedFilesAndPlantedLinks() throws {
        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else { throw XCTSkip("no /usr/bin/python3 with h5py (Scripts/setup)") }
        let settings = ["iterations=20", "batch_size=16", "steps=5", "hidden=8", "eval_paths=16", "threads=1"]
        let good = directory + "/good.h5"
        _ = try Job(config: try RunConfig.parse(settings), outputPath: good).run()
        let edit = """
            import h5py, numpy as np, shutil, sys
            for k, (group, key) in enumerate([("eval", "ess"), ("checkpoint", "iteration"), ("/", "format_version"), ("config", "hidden")]):
                path = sys.argv[1] + "/edited%d.h5" % k
                shutil.copy(sys.argv[1] + "/good.h5", path)
                with open(path, "r+b") as f: f.write(b"\\0" * 512)  # drop the seal, as a foreign tool's copy would
                with h5py.File(path, "r+") as h: h[group].attrs[key] = np.zeros(1000)
            """
        try edit.write(toFile: directory + "/edit.py", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [directory + "/edit.py", directory]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw XCTSkip("h5py could not edit the file") }
        for k in 0..<4 {
            let path = directory + "/edited\(k).h5"
            for command in [["eval", path], ["train"] + settings + ["iterations=25", "--out", path, "--resume"]] {
                let (status, signalled, output) = try dsampler(command)
                XCTAssertFalse(signalled, "\(command): \(output)")
                XCTAssertEqual(status, 1, "\(command): \(output)")
                XCTAssertTrue(output.contains("1000 values where one belongs"), "\(command): \(output)")
            }
        }
        let (status, signalled, output) = try dsampler(["report", directory])
        XCTAssertFalse(signalled)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("Skipped (not readable run files)") && output.contains("| gmm25 |"), output)
        // plot: a link planted at the output name.
        let victim = directory + "/victim.txt"
        try "keep me".write(toFile: victim, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: directory + "/good.png", withDestinationPath: victim)
        let plotted = try dsampler(["plot", good, "--out", directory])
        XCTAssertFalse(plotted.signalled)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "keep me", "plot wrote through a planted link")
        XCTAssertTrue(plotted.output.contains("is a symbolic link"), plotted.output)
    }
}

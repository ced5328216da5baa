import ArgumentParser
import Foundation
import Experiments
import RunStore

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a grid of training runs in parallel, one run file each; rerunning skips complete runs.",
        discussion: """
            A grid is a YAML spec (name, settings, cells; any value may be a list) and/or key=a,b,c settings, e.g.
              dsampler sweep target=gmm25,funnel objective=tb,vargrad seed=0,1,2 iterations=2000 --name quick
            Each run trains with threads=1 in its own process (log in DIR/logs/, appended to when the run starts again). Killed runs resume from their last
            checkpoint; failed runs are reported and left alone unless --retry-failed.
            """)

    @Argument(help: "A YAML sweep spec (optional) followed by key=a,b,c settings.") var arguments: [String] = []
    @Option(help: "Sweep name (default: the spec's name, or 'sweep').") var name: String?
    @Option(help: "Output directory (default: Results/runs/<name>/).") var out: String?
    @Option(help: "Runs at a time.") var jobs = max(1, ProcessInfo.processInfo.activeProcessorCount)
    @Flag(help: "Run again the runs whose file says they failed.") var retryFailed = false
    @Flag(help: "Only list the runs and their state (exit status 0 only when every run is complete, as for a sweep that ran).") var dryRun = false
    @Option(help: "Write a Slurm job-array script for the runs still to do instead of running them (submit it with sbatch).")
    var slurm: String?

    func validate() throws {
        guard jobs >= 1 && jobs <= 256 else { throw ValidationError("--jobs must be from 1 to 256 (got \(jobs))") }
        if dryRun && slurm != nil { throw ValidationError("--dry-run only lists the runs and --slurm writes a script for them; give one") }
    }

    func run() throws {
        var spec = try loadSpec()
        if let name {
            try SweepSpec.checkName(name)
            spec.name = name
        }
        let directory = out ?? "Results/runs/\(spec.name)"
        // A dry run only reads: no folder, lock or log is made, and nothing is removed.
        if !dryRun { try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true) }
        // One sweep per folder at a time: a second one would train every run again beside the first.
        let lock = dryRun ? nil : try FileLock(for: directory, folder: true, purpose: "running sweep \(spec.name)")
        defer { lock?.release() }
        let runs = spec.runs()
        var pending: [SweepSpec.Run] = [], failed: [(SweepSpec.Run, String)] = []
        var complete = 0
        for run in runs {
            switch SweepSpec.state(of: directory + "/" + run.fileName) {
            case .complete: complete += 1
            case .failed(let error) where !retryFailed: failed.append((run, error))
            case .failed where dryRun: pending.append(run)
            case .failed:
                // Retry from what is kept: drop the failure record, and the run file only if it is the failed state.
                let file = directory + "/" + run.fileName
                try? FileManager.default.removeItem(atPath: RunOutput.failedPath(of: file))
                if case .failed? = (try? HDF5.read(file)).map({ _ in SweepSpec.state(of: file) }) {
                    try FileManager.default.removeItem(atPath: file)
                }
                pending.append(run)
            case .unfinished, .missing: pending.append(run)
            }
        }
        print("sweep \(spec.name): \(runs.count) run\(runs.count == 1 ? "" : "s") in \(directory): \(complete) complete, \(failed.count) failed, "
              + "\(pending.count) to run (\(jobs) at a time)")
        if let slurm {
            let script = SlurmScript(name: spec.name, directory: directory, runs: pending,
                                     executable: URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path)
            try AtomicFile.write(Data(try script.text().utf8), to: slurm)
            print("sweep \(spec.name): wrote \(slurm) (\(pending.count) array tasks); submit with: sbatch \(slurm)")
            return
        }
        if dryRun {
            for run in pending { print("to run: \(run.fileName)  \(run.settings.joined(separator: " "))") }
        } else {
            let outcomes = try SweepRunner(directory: directory, jobs: jobs).run(pending)
            complete += outcomes.filter { $0.error == nil }.count
            failed += outcomes.compactMap { o in o.error.map { (o.run, $0) } }
        }
        for (run, error) in failed { print("failed: \(run.fileName): \(error)") }
        let remaining = runs.count - complete - failed.count
        print("sweep \(spec.name): \(complete) complete, \(failed.count) failed, \(remaining) remaining"
              + (failed.isEmpty || retryFailed ? "" : "; --retry-failed runs the failed ones again (from a kept checkpoint where there is one)"))
        if !failed.isEmpty || remaining > 0 { throw ExitCode(1) }
    }

    func loadSpec() throws -> SweepSpec {
        guard let first = arguments.first, first.hasSuffix(".yaml") || first.hasSuffix(".yml") else {
            guard !arguments.isEmpty else { throw ValidationError("give a YAML spec or key=a,b,c settings") }
            return try SweepSpec(name: name ?? "sweep", assignments: arguments)
        }
        guard let text = try? String(contentsOfFile: first, encoding: .utf8) else {
            throw ValidationError("cannot read the sweep spec \(first)")
        }
        return try SweepSpec(yaml: text, extra: Array(arguments.dropFirst()))
    }
}

/// Runs sweep runs as child `dsampler train` processes, `jobs` at a time. Each child is told the sweep's process
/// id and exits if the sweep dies, so a killed sweep leaves no orphan writing its files.
struct SweepRunner {
    let directory: String
    let jobs: Int

    struct Outcome {
        let run: SweepSpec.Run
        let error: String?
    }

    func run(_ runs: [SweepSpec.Run]) throws -> [Outcome] {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        let slots = DispatchSemaphore(value: jobs), group = DispatchGroup(), outcomes = Outcomes()
        for run in runs {
            slots.wait()
            let file = directory + "/" + run.fileName
            let logPath = directory + "/logs/" + (run.fileName as NSString).deletingPathExtension + ".log"
            // A run that cannot start (its log cannot be opened) fails alone; the others go on.
            func failed(_ error: String) {
                outcomes.append(Outcome(run: run, error: error), report: "FAILED: \(run.fileName) — \(error)")
                slots.signal()
            }
            let log: FileHandle
            do { log = try Self.openLog(logPath) } catch { failed("\(error)"); continue }
            let child = Process()
            child.executableURL = URL(fileURLWithPath: executable)
            child.arguments = ["train"] + run.settings + ["threads=1", "--out", file, "--resume",
                                                          "--parent-pid", "\(getpid())"]
            child.standardOutput = log
            child.standardError = log
            group.enter()
            child.terminationHandler = { p in
                try? log.close()
                // Done means the run file says complete, whatever the exit status.
                let state = SweepSpec.state(of: file)
                let error: String? = p.terminationStatus == 0 && state == .complete ? nil
                    : Self.failure(file: file, log: logPath, status: p.terminationStatus,
                                   signalled: p.terminationReason == .uncaughtSignal, state: state)
                outcomes.append(Outcome(run: run, error: error),
                                report: "\(error == nil ? "done" : "FAILED"): \(run.fileName)\(error.map { " — " + $0 } ?? "")")
                slots.signal()
                group.leave()
            }
            outcomes.say("start: \(run.fileName)  \(run.settings.joined(separator: " "))")
            do { try child.run() } catch {
                try? log.close()
                failed("could not start dsampler train: \(error)")
                group.leave()
            }
        }
        group.wait()
        return outcomes.all
    }

    /// Outcomes collected from termination handlers, and the sweep's output lines, under one lock.
    final class Outcomes: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [Outcome] = []
        var all: [Outcome] { lock.withLock { items } }
        func say(_ line: String) { lock.withLock { print(line); fflush(nil) } }
        func append(_ o: Outcome, report: String) { lock.withLock { items.append(o); print(report); fflush(nil) } }
    }

    /// The first words of the line that starts each later attempt's part of a run's log.
    static let attemptMarker = "--- dsampler sweep: the run starts again"

    /// The run's log, opened to append: a resumed or retried run keeps its earlier attempts' lines (a failure's error
    /// among them), and its own follow a marker line. Only a regular file of its own is written: a link is not
    /// followed (it could point outside the sweep's folder) and a pipe is not waited on.
    static func openLog(_ path: String) throws -> FileHandle {
        // Read and write: the last byte is read back to see whether the earlier attempt ended its line.
        let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
        guard fd >= 0 else {
            let reason = errno == ELOOP ? "it is a symbolic link" : errno == EISDIR ? "it is a folder" : String(cString: strerror(errno))
            throw ValidationError("cannot open the log \(path): \(reason); remove it or move it away")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw ValidationError("cannot open the log \(path): it is not a regular file; remove it or move it away")
        }
        _ = fcntl(fd, F_SETFL, O_APPEND)  // blocking writes, as for any file the child opens itself
        let log = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        let end = lseek(fd, 0, SEEK_END)
        if end > 0 {
            // After a partial last line (a run killed while writing), the marker starts a line of its own.
            var last: UInt8 = 0
            let newline = pread(fd, &last, 1, end - 1) == 1 && last == UInt8(ascii: "\n")
            let stamp = ISO8601DateFormatter().string(from: Date())
            try log.write(contentsOf: Data("\(newline ? "" : "\n")\(attemptMarker) at \(stamp) ---\n".utf8))
        }
        return log
    }

    /// The error stored in the run file, or else the last error line of the run's latest attempt in its log (or,
    /// unless a signal ended it, its last line that is not the settings line). Reads at most the log's last 64 KiB.
    static func failure(file: String, log: String, status: Int32, signalled: Bool = false, state: SweepSpec.FileState) -> String {
        if case .failed(let error) = state { return error }
        var text = ""
        if let handle = FileHandle(forReadingAtPath: log) {
            let size = (try? handle.seekToEnd()) ?? 0
            try? handle.seek(toOffset: size > 65_536 ? size - 65_536 : 0)
            text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
            try? handle.close()
        }
        let latest = text.components(separatedBy: attemptMarker).last ?? text
        let lines = latest.split(separator: "\n").dropFirst(text.contains(attemptMarker) ? 1 : 0).map(String.init)
        let reason = lines.last { $0.hasPrefix("error:") } ?? (signalled ? nil : lines.last { !$0.hasPrefix("dsampler train:") })
        let what = signalled ? "killed by signal \(status)"
            : status == 0 ? "exited 0 but its run file is \(state == .missing ? "missing" : "not complete")" : "exit status \(status)"
        return what + (reason.map { ": " + $0 } ?? "")
    }
}

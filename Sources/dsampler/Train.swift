import ArgumentParser
import Foundation
import Experiments
import Evaluation
import Objectives
import RunStore

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a diffusion sampler and write one HDF5 run file.",
        discussion: "Settings are key=value pairs, e.g. target=gmm25 objective=tb exploration=0.2 iterations=5000.\n"
            + RunConfig.keys.map { "  \($0.name): \($0.help)" }.joined(separator: "\n"))

    @Argument(help: "key=value settings.") var settings: [String] = []
    @Option(help: "Run file to write (default: Results/runs/<target>-<objective>-<hash>-seed<seed>.h5).") var out: String?
    @Flag(help: ArgumentHelp("Continue from the checkpoint in the run file, if it exists (same settings; raise iterations= to train a "
                             + "finished run further; these may change: " + RunConfig.resumable.joined(separator: ", ") + ")."))
    var resume = false
    @Flag(help: "Replace an existing run file at --out (without it, an existing file is refused unless --resume).")
    var overwrite = false
    @Option(help: "Iterations between intermediate checkpoint writes (0 = only at the end).") var checkpointEvery = 1000
    @Option(help: .hidden) var parentPid: Int32?

    func run() throws {
        let config: RunConfig
        do { config = try RunConfig.parse(settings) } catch {
            writeToStandardError("error: \(error)\n")
            throw ExitCode(2)
        }
        if resume && overwrite {
            writeToStandardError("error: --resume continues the run file and --overwrite replaces it; give one\n")
            throw ExitCode(2)
        }
        if let parentPid { exitWhenOrphaned(parent: parentPid) }
        Interruption.install()
        // Absolute from the start: a target's code (a Python module's os.chdir) must not move the run file.
        let given = out ?? RunFile.defaultPath(for: config)
        let outputPath = given.isEmpty ? given : URL(fileURLWithPath: given).standardizedFileURL.path
        print("dsampler train: " + config.entries.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
        fflush(nil)  // stdout, before any error on the unbuffered stderr, in a log that holds both
        do {
            var job = Job(config: config, outputPath: outputPath)
            job.checkpointEvery = checkpointEvery
            var progress: Progress?
            defer { progress?.finish() }  // also when training fails, before the error is printed
            let (learner, report) = try job.run(mode) { l, values in
                if progress == nil { progress = Progress(total: l.totalIterations, every: l.logEvery, unit: l.unit) }
                progress?.update(l, values)
            }
            progress?.finish()
            print(([learner.trainingSummary] + Summary.lines(report)).joined(separator: "\n"))
            print("run file: \(outputPath)")
        } catch let done as RunAlreadyComplete {
            // Not an error: `Scripts/run` and a requeued Slurm task resume every run, finished or not.
            print("dsampler: \(done)\n" + (done.figures.isEmpty ? "it stores no /eval figures" : "its figures (/eval):"))
            for (name, value) in done.figures { print("  " + name.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%.6g", value)) }
            print("run file: \(outputPath)")
        } catch let stop as Interrupted {
            writeToStandardError("dsampler: \(stop)\nrun file: \(outputPath)\n")
            throw ExitCode(stop.exitStatus)
        } catch {
            // Refusals (an existing file, a lock, a bad destination) and kept files already say where things are.
            let refused = error is RunFileError || error is FileLock.Held
            // A complete file there is an earlier run that this one did not touch (it failed before replacing it); one
            // whose status cannot be read is a damaged file the error is about, not a run so far.
            let status = refused || !FileManager.default.fileExists(atPath: outputPath) ? nil : RunOutput.status(of: outputPath)
            let kept = status == nil ? "" : status == "complete" ? "\(outputPath) is kept as it was\n" : "run file so far: \(outputPath)\n"
            writeToStandardError("error: \(error)\n\(kept)")
            throw ExitCode(1)
        }
    }
}

extension Train {
    /// How an existing run file is treated: continued, replaced, or refused.
    var mode: RunOutput.Mode { resume ? .resume : overwrite ? .overwrite : .new }
}

/// Stops when `parent` is no longer this process's parent (a sweep that was killed), so no orphan keeps writing
/// the sweep's files: the run writes a checkpoint with status `interrupted`, which the rerun resumes.
func exitWhenOrphaned(parent: Int32) {
    Thread.detachNewThread {
        while getppid() == parent { Thread.sleep(forTimeInterval: 0.5) }
        Interruption.request("the end of the sweep that started this run", exitStatus: 3)
    }
}

/// Progress output: an updating line on a terminal, plain periodic lines otherwise; the same for every method.
final class Progress {
    let total: Int, every: Int, unit: String
    let isTerminal = isatty(STDOUT_FILENO) != 0
    var lastDraw = 0.0

    init(total: Int, every: Int, unit: String) { (self.total, self.every, self.unit) = (total, every, unit) }

    /// The values of one iteration: `loss` and `log_z` first, then the others by name.
    static func describe(_ values: [String: Double]) -> String {
        let first = ["loss", "log_z"].filter { values[$0] != nil }
        return (first + values.keys.filter { !first.contains($0) }.sorted()).map { key in
            "\(key) " + String(format: "%10.4f", values[key]!)
        }.joined(separator: "  ")
    }

    func update(_ l: any Learner, _ values: [String: Double]) {
        let now = l.seconds
        let due = isTerminal ? (now - lastDraw > 0.25 || l.iteration == total) : (l.iteration % every == 0 || l.iteration == total)
        guard due else { return }
        lastDraw = now
        let rate = Double(l.iteration) / max(now, 1e-9)
        let eta = Double(total - l.iteration) / max(rate, 1e-9)
        let bound = l.totalIsBound  // an adaptive schedule: `total` caps the run, so there is no ETA
        let line = String(format: "%@ %6d/%@%d  ", unit, l.iteration, bound ? "≤" : "", total) + Self.describe(values)
            + String(format: "  %6.1f %@/s  ", rate, unit) + (bound ? "" : String(format: "ETA %5.0fs  ", eta))
            + String(format: "%ld gradient evaluations", l.budget.gradient)
        if isTerminal { print("\r" + line, terminator: "") } else { print(line) }
        Interruption.flushOrStop()
    }

    var finished = false

    /// Ends the updating line (once).
    func finish() {
        if isTerminal && !finished { print("") }
        finished = true
    }
}

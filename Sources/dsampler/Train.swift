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
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if resume && overwrite {
            FileHandle.standardError.write(Data("error: --resume continues the run file and --overwrite replaces it; give one\n".utf8))
            throw ExitCode(2)
        }
        if let parentPid { exitWhenOrphaned(parent: parentPid) }
        Interruption.install()
        let outputPath = out ?? RunFile.defaultPath(for: config)
        print("dsampler train: " + config.entries.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
        do {
            switch config.method.family {
            case .energyMatching: try trainEnergyMatching(config, outputPath: outputPath)
            case .mcmc: try runMALA(config, outputPath: outputPath)
            case .pathSpace: try trainPaths(config, outputPath: outputPath)
            }
            print("run file: \(outputPath)")
        } catch let stop as Interrupted {
            FileHandle.standardError.write(Data("dsampler: \(stop)\nrun file: \(outputPath)\n".utf8))
            throw ExitCode(stop.exitStatus)
        } catch {
            // Refusals (an existing file, a lock, a bad destination) and kept files already say where things are.
            let refused = error is RunFileError || error is FileLock.Held
            let kept = !refused && FileManager.default.fileExists(atPath: outputPath) ? "run file so far: \(outputPath)\n" : ""
            FileHandle.standardError.write(Data("error: \(error)\n\(kept)".utf8))
            throw ExitCode(1)
        }
    }
}

extension Train {
    /// How an existing run file is treated: continued, replaced, or refused.
    var mode: RunOutput.Mode { resume ? .resume : overwrite ? .overwrite : .new }

    /// The path-space objectives (TB and relatives, PIS, MLE, RTB): iterations of simulated or replayed paths.
    func trainPaths(_ config: RunConfig, outputPath: String) throws {
        var job = RunJob(config: config, outputPath: outputPath)
        job.checkpointEvery = checkpointEvery
        let progress = Progress(total: config.iterations, every: config.logEvery)
        defer { progress.finish() }  // also when training fails, before the error is printed
        let (trainer, report) = try job.run(mode) { t, out in progress.update(t, out) }
        progress.finish()
        print(Summary.lines(report, trainer: trainer).joined(separator: "\n"))
    }

    /// `objective=idem`: epochs of reverse-SDE generation and score regression, then particle or sample metrics.
    func trainEnergyMatching(_ config: RunConfig, outputPath: String) throws {
        var job = EnergyMatchingJob(config: config, outputPath: outputPath)
        job.checkpointEvery = max(1, checkpointEvery / 100)
        let (trainer, report) = try job.run(mode) { t, loss in
            print(String(format: "epoch %5d/%d  loss %10.4f  %8.1f s  %ld gradient evaluations", t.epoch, config.iterations,
                         loss, t.seconds, t.gradientEvaluations)
                  + (t.learningRate != config.learningRate ? "  lr \(t.learningRate)" : "")
                  + (t.refinementAcceptance.map { String(format: "  buffer MALA acceptance %.2f", $0) } ?? "")
                  + (t.discardedSamples > 0 ? "  (\(t.discardedSamples) non-finite samples discarded so far)" : ""))
            Interruption.flushOrStop()
        }
        print(String(format: "trained %d epochs in %.1f s (%ld gradient and %ld energy evaluations; %d generated samples "
                     + "discarded as non-finite)", trainer.epoch, trainer.seconds, trainer.gradientEvaluations,
                     trainer.energyEvaluations, trainer.discardedSamples))
        print(Summary.lines(report).joined(separator: "\n"))
    }

    /// `objective=mala`: the matched-budget MCMC baseline, scored like iDEM.
    func runMALA(_ config: RunConfig, outputPath: String) throws {
        let (report, acceptance, seconds) = try MatchedBudgetMALA(config: config, outputPath: outputPath).run(mode)
        print(String(format: "ran %d MALA chains for %ld gradient evaluations in %.1f s (acceptance %.3f after adaptation)",
                     config.evalPaths, config.malaBudget, seconds, acceptance))
        print(Summary.lines(report).joined(separator: "\n"))
    }
}

/// Stops when `parent` is no longer this process's parent (a sweep that was killed), so no orphan keeps writing
/// the sweep's files: the run writes a checkpoint with status `interrupted`, which the rerun resumes.
func exitWhenOrphaned(parent: Int32) {
    Thread.detachNewThread {
        while getppid() == parent { Thread.sleep(forTimeInterval: 0.5) }
        Interruption.request("the end of the sweep that started this run", exitStatus: 3)
    }
}

/// Progress output: an updating line on a terminal, plain periodic lines otherwise.
final class Progress {
    let total: Int, every: Int
    let isTerminal = isatty(STDOUT_FILENO) != 0
    var lastDraw = 0.0

    init(total: Int, every: Int) { self.total = total; self.every = every }

    func update(_ t: Trainer, _ out: ObjectiveOutput) {
        let now = t.seconds
        let due = isTerminal ? (now - lastDraw > 0.25 || t.iteration == total) : (t.iteration % every == 0 || t.iteration == total)
        guard due else { return }
        lastDraw = now
        let rate = Double(t.iteration) / max(now, 1e-9)
        let eta = Double(total - t.iteration) / max(rate, 1e-9)
        let line = String(format: "iter %6d/%d  loss %10.4f  log Z %9.4f  %6.1f it/s  ETA %5.0fs",
                          t.iteration, total, out.loss, out.logZEstimate, rate, eta)
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

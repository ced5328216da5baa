import Foundation
import RunStore
import Evaluation
import Densities

/// One run of any method from settings to a finished run file: train (writing a resumable checkpoint every
/// `checkpointEvery` path-space iterations, or the learner's equivalent), evaluate, write. An interruption writes
/// the checkpoint with status `interrupted`; a failure writes what was done beside the run file with the error
/// before it propagates (see `RunOutput`).
public struct Job {
    /// The run's settings.
    public var config: RunConfig
    /// The run file.
    public var outputPath: String
    /// Path-space iterations between intermediate writes of the run file (0 = only at the end); iDEM writes every
    /// hundredth of this in epochs, MCMC every this many sweeps (`Learner.checkpointInterval`).
    public var checkpointEvery = 1000
    /// A custom target to train on instead of the catalog's `target=`.
    public var target: (any Target)?

    /// A job writing `config`'s run to `outputPath`.
    public init(config: RunConfig, outputPath: String) {
        self.config = config
        self.outputPath = outputPath
    }

    /// Runs the job. With `.resume` and an existing run file at `outputPath` from the same settings, training
    /// continues from its checkpoint; `.new` refuses an existing file (see `RunOutput` for the rules). `onStep`
    /// sees the learner and the values of every iteration.
    /// - Throws: `Interrupted` after writing the checkpoint, the training or evaluation error after writing what
    ///   was done, `RunFileError` and `FileLock.Held` for refused destinations, `RunAlreadyComplete` (the file untouched)
    ///   when `.resume` finds a complete run of these settings with nothing left to train.
    @discardableResult
    public func run(_ mode: RunOutput.Mode = .new, onStep: (any Learner, [String: Double]) -> Void = { _, _ in }) throws
        -> (learner: any Learner, report: EvaluationReport) {
        let config = self.config.training(on: target)
        if mode == .resume { try refuseCompleteRun(config) }
        let output = try RunOutput(path: outputPath, mode: mode)
        defer { output.release() }
        var provenance = Provenance(seed: config.seed, threads: config.threads)
        let learner: any Learner
        if mode == .resume, output.existed {
            let root = try HDF5.read(outputPath)
            guard root.attribute("status") != .string("failed") else {
                throw RunFileError(message: RunFileError.failedState(outputPath, error: root.attribute("error")?.description))
            }
            let stored = try RunFile.config(of: root, path: outputPath)
            guard config.continues(stored) else {
                throw RunFileError(message: RunFileError.otherSettings(outputPath, differing: config.differences(from: stored),
                                                                    method: config.method))
            }
            learner = try RunFile.restore(root, path: outputPath, config: config, target: target, training: true)
            provenance = Provenance(seed: config.seed, threads: config.threads, resuming: root, at: learner.iteration)
        } else {
            learner = try Learners.make(config, target: target)
        }
        // Once, as the file was when the target loaded (not re-read at every checkpoint: a plug-in can be large).
        if target == nil { provenance.targetDigest = RunFile.targetDigest(config.target) }
        let every = learner.checkpointInterval(checkpointEvery)
        // Before any work, so that a bad live-log path (a link, a folder) leaves no run file behind.
        let logPath = LiveLog.path(for: outputPath), replacedLog = LiveLog.path(for: output.replacedPath)
        let previousLog = output.existed ? try? Data(contentsOf: URL(fileURLWithPath: logPath)) : nil
        if output.replacing, let previousLog { try AtomicFile.write(previousLog, to: replacedLog) }  // beside the replaced run
        let log = try LiveLog(runPath: outputPath, learner: learner)
        // A run that stops before it writes the file leaves a kept previous run and its log as they were; its own log
        // goes beside them, as its state does. A previous file that is not kept (a failed state) is replaced by the
        // stopped state, and its log by this run's.
        func restorePreviousLog(stoppedAs status: String) {
            guard let previousLog, !output.hasWritten else { return }
            try? FileManager.default.removeItem(atPath: replacedLog)
            guard output.keepsFile(stoppedAs: status) else { return }
            let failedLog = LiveLog.path(for: output.failedPath)
            try? FileManager.default.removeItem(atPath: failedLog)
            try? FileManager.default.moveItem(atPath: logPath, toPath: failedLog)
            try? AtomicFile.write(previousLog, to: logPath)
        }
        do {
            try learner.train { l, values in
                if l.history.last?.iteration == l.iteration { try log.append(l.history.last!, kind: "train") }
                if config.evaluation.every > 0, l.iteration % config.evaluation.every == 0 {
                    let start = DispatchTime.now().uptimeNanoseconds
                    var values = try l.monitor()
                    // What the evaluation cost, beside the training seconds it is not part of.
                    values["eval_seconds"] = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                    l.monitored.append(l.point(values))
                    try log.append(l.monitored.last!, kind: "eval")
                }
                onStep(l, values)
                try Interruption.check(iteration: l.iteration, unit: l.unit)
                if every > 0, l.iteration % every == 0, l.iteration < l.totalIterations {
                    try output.write(RunFile.node(l, provenance: provenance, status: "running"))
                }
            }
            let report = try learner.evaluate()
            provenance.endTime = Date()
            try output.write(RunFile.node(learner, provenance: provenance, status: "complete", report: report))
            return (learner, report)
        } catch var stop as Interrupted {
            provenance.endTime = Date()
            if output.replacing && output.hasWritten { stop.replacedRun = output.replacedPath }
            if output.keepsFile(stoppedAs: "interrupted") {  // not yet replaced
                stop.stateBeside = output.failedPath
                stop.continuedCompleteRun = output.resuming
            }
            restorePreviousLog(stoppedAs: "interrupted")
            try output.writeInterrupted(RunFile.node(learner, provenance: provenance, status: "interrupted", error: "\(stop)"))
            throw stop
        } catch {
            provenance.endTime = Date()
            restorePreviousLog(stoppedAs: "failed")
            throw output.writeFailure(RunFile.node(learner, provenance: provenance, status: "failed", error: "\(error)"), error: error)
        }
    }
}

extension Job {
    /// Throws `RunAlreadyComplete` when the file at `outputPath` is a complete run that `config` continues and whose
    /// learner, restored for evaluation (so without the data or prior files it trained from), has nothing left to
    /// train (`iteration` ≥ `totalIterations`: for MCMC and annealing runs, whose length is their budget or schedule,
    /// whatever `iterations=` says). After the destination checks a new run gets, it only reads, so it runs before the
    /// lock is taken (files are replaced atomically); anything it cannot read goes on to `run`, which reports it.
    func refuseCompleteRun(_ config: RunConfig) throws {
        try RunOutput.checkDestination(outputPath)
        guard FileManager.default.fileExists(atPath: outputPath), let root = try? HDF5.read(outputPath),
              root.attribute("status") == .string("complete"), let stored = try? RunFile.config(of: root, path: outputPath),
              config.continues(stored),
              let learner = try? RunFile.restore(root, path: outputPath, config: config, target: target, training: false),
              learner.iteration >= learner.totalIterations else { return }
        let notApplied = zip(config.entries, stored.entries).filter { $0.0.1 != $0.1.1 }
        throw RunAlreadyComplete(path: outputPath, count: learner.iteration, unit: learner.unit,
                                 lengthIsIterations: learner.lengthIsIterations,
                                 notApplied: notApplied.map { "\($0.0.0)=\($0.0.1)" },
                                 figures: (root.group("eval")?.attributes ?? []).compactMap { a in a.value.doubleValue.map { (a.name, $0) } })
    }
}

/// `--resume` of a complete run with nothing left to train: the run file is left as it is.
public struct RunAlreadyComplete: Error, CustomStringConvertible {
    /// The run file.
    public let path: String
    /// Iterations, epochs (iDEM), sweeps (MCMC) or temperatures (SMC, AIS) done, and what they are called.
    public let count: Int, unit: String
    /// Whether `iterations=` sets the run's length (not for MCMC and annealing runs).
    public let lengthIsIterations: Bool
    /// Settings given as `key=value` that differ from the stored ones and were not applied.
    public let notApplied: [String]
    /// The stored `/eval` figures, by name.
    public let figures: [(name: String, value: Double)]

    public var description: String {
        "\(path) is already complete (\(count) \(unit)\(count == 1 ? "" : "s")) and left as it is"
            + (lengthIsIterations ? "; raise iterations= to train it further (give this file as --out: without --out, other "
               + "settings name another file)" : "")
            + (notApplied.isEmpty ? "" : "; with nothing to train, these were not applied: " + notApplied.joined(separator: ", "))
    }
}

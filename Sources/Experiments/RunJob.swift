import Foundation
import RunStore
import Evaluation
import Objectives
import Densities

/// One training run from settings to a finished run file: train (writing a resumable checkpoint file every
/// `checkpointEvery` iterations), evaluate, write. A failure writes the file with `status = failed` and the
/// error before it propagates, so whatever was done stays readable.
public struct RunJob {
    /// The run's settings.
    public var config: RunConfig
    /// The run file.
    public var outputPath: String
    /// Iterations between intermediate writes of the run file (0 = only at the end).
    public var checkpointEvery = 1000
    /// A custom target to train on instead of the built-in one named in `config`.
    public var target: (any Target)?

    /// A job writing `config`'s run to `outputPath`.
    public init(config: RunConfig, outputPath: String) {
        self.config = config
        self.outputPath = outputPath
    }

    /// Runs the job. With `.resume` and an existing run file at `outputPath` from the same settings, training
    /// continues from its checkpoint; `.new` refuses an existing file (see `RunOutput` for the rules).
    public func run(_ mode: RunOutput.Mode = .new, onStep: (Trainer, ObjectiveOutput) -> Void = { _, _ in }) throws
        -> (trainer: Trainer, report: EvaluationReport) {
        let output = try RunOutput(path: outputPath, mode: mode)
        defer { output.release() }
        var provenance = Provenance(seed: config.seed, threads: config.threads)
        let trainer: Trainer
        if mode == .resume, output.existed {
            guard target == nil else { throw RunFileError(message: "resuming runs on custom targets is not supported yet") }
            let root = try HDF5.read(outputPath)
            guard config.continues(try RunFile.config(of: root, path: outputPath)) else {
                throw RunFileError(message: RunFileError.otherSettings(outputPath))
            }
            trainer = try RunFile.restore(root, path: outputPath, config: config)
            provenance = Provenance(seed: config.seed, threads: config.threads, resuming: root, at: trainer.iteration)
        } else {
            trainer = try Trainer(config: config, target: target)
        }
        do {
            try trainer.train { t, out in
                onStep(t, out)
                try Interruption.check(iteration: t.iteration)
                if checkpointEvery > 0, t.iteration % checkpointEvery == 0, t.iteration < config.iterations {
                    try output.write(RunFile.node(t, provenance: provenance, status: "running"))
                }
            }
            let report = try Evaluator(paths: config.evalPaths, seed: config.seed).evaluate(trainer.network, sampler: trainer.evaluationSampler())
            provenance.endTime = Date()
            try output.write(RunFile.node(trainer, provenance: provenance, status: "complete", report: report))
            return (trainer, report)
        } catch let stop as Interrupted {
            provenance.endTime = Date()
            try output.writeInterrupted(RunFile.node(trainer, provenance: provenance, status: "interrupted", error: "\(stop)"))
            throw stop
        } catch {
            provenance.endTime = Date()
            throw output.writeFailure(RunFile.node(trainer, provenance: provenance, status: "failed", error: "\(error)"), error: error)
        }
    }
}

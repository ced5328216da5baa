import Foundation
import Numerics
import Densities
import Evaluation
import RunStore

/// The MCMC counterpart of a learned sampler (`objective=mala`): `eval_paths` MALA chains started where iDEM's
/// reverse SDE starts (N(0, σ_max²·I), centre-of-mass free for particles), run for `mala_budget` gradient
/// evaluations in total; the first half of the sweeps adapts per-chain step sizes toward acceptance 0.574, and the
/// chains' final states are the samples, scored exactly like iDEM's.
public struct MatchedBudgetMALA {
    /// The run's settings (`mala_budget`, `eval_paths`, `ls_step`, target).
    public var config: RunConfig
    /// Where the run file is written.
    public var outputPath: String

    /// A baseline run writing `outputPath`.
    public init(config: RunConfig, outputPath: String) {
        self.config = config
        self.outputPath = outputPath
    }

    /// Runs the chains, evaluates and writes the run file; returns the report and the acceptance after adaptation.
    public func run(_ mode: RunOutput.Mode = .new) throws -> (report: EnergyMatchingReport, acceptance: Double, seconds: Double) {
        let output = try RunOutput(path: outputPath, mode: mode)
        defer { output.release() }
        // One pass with nothing to resume: `--resume` of the same run recomputes it (the same numbers, by the seed).
        if mode == .resume, output.existed, !config.continues(try RunFile.config(of: try HDF5.read(outputPath), path: outputPath)) {
            throw RunFileError(message: RunFileError.otherSettings(outputPath))
        }
        BLAS.setThreads(1)
        var provenance = Provenance(seed: config.seed, threads: 1)
        let job = EnergyMatchingJob(config: config, outputPath: outputPath)
        let (_, target, settings, scale) = try job.resolve()
        let kernel = KernelChoice(name: config.lsKernel, leapfrogSteps: config.hmcLeapfrog).kernel
        let chains = config.evalPaths, sweeps = max(2, config.malaBudget / (chains * kernel.gradientEvaluationsPerStep))
        let start = DispatchTime.now().uptimeNanoseconds
        var rng = Xoshiro256(seed: config.seed, stream: 1 << 53)
        var x = rng.gaussianMatrix(rows: chains, cols: target.dimension)
        for k in x.storage.indices { x.storage[k] *= settings.schedule.sigmaMax * scale }
        let driver = ChainDriver(kernel: kernel, sweeps: sweeps, adaptationSweeps: sweeps / 2, initialStepSize: config.lsStep)
        let outcome = try driver.run(from: ChainState(target: target, positions: x), target: target, rng: &rng)
        let (state, acceptance) = (outcome.state, outcome.acceptance)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let report = try job.score(samples: state.positions)
        provenance.endTime = Date()
        var root = RunFile.header(config, provenance: provenance, status: "complete", resolved: EnergyMatchingJob.resolved(settings))
        var checkpoint = Node()  // nothing to resume: the run is one pass; the counters keep the budget beside the metrics
        checkpoint.set("grad_evals", .int(Int64(outcome.gradientEvaluations)))
        checkpoint.set("seconds", .double(seconds))
        checkpoint.set("sweeps", .int(Int64(sweeps)))
        checkpoint.set("acceptance", .double(acceptance))
        root.put("checkpoint", checkpoint)
        root.put("eval", EnergyMatchingJob.evalNode(report))
        root.put("samples", .float(shape: [report.samples.rows, report.samples.cols], values: report.samples.storage))
        try output.write(root)
        return (report, acceptance, seconds)
    }
}

import ArgumentParser
import Foundation
import Experiments
import Densities
import Numerics
import Objectives
import RunStore

struct ScoreErrorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score-error",
        abstract: "An iDEM run's learned score against its Monte-Carlo regression target, per diffusion time.",
        discussion: """
            Clean configurations (exact samples, or the reference set's test rows) are noised to each time t and \
            scored with the run's network (its weight average unless --last-weights) and its own estimator (K, clip). At t = 0 the target is \
            nearly −∇E: a slope below 1 there means forces weaker than the target's, which heats the samples. \
            With --target conditional and reference rows (target draws), S is unbiased at every t, so the mean \
            squared errors of two runs differ by exactly the difference of their true squared errors.
            """)

    @Argument(help: "An iDEM run file with a checkpoint.") var file: String
    @Option(help: "Clean configurations per time.") var rows = 200
    @Option(parsing: .upToNextOption, help: "Diffusion times in [0, 1].") var times: [Float] = [0, 0.1, 0.2, 0.3, 0.5, 0.7, 1]
    @Option(help: "Worker threads for the estimates (default: the run's threads).") var threads: Int?
    @Flag(help: "Noise the newest rows of the run's replay buffer (the training distribution) instead of reference rows.")
    var buffer = false
    @Option(help: "The regression target: mc or conditional (default: the run's idem_target).") var target: String?
    @Flag(help: "Score with the last trained weights instead of their moving average (idem_ema).") var lastWeights = false

    func validate() throws {
        guard rows >= 1 else { throw ValidationError("--rows must be at least 1 (got \(rows))") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1 (got \(threads))") }
        if let bad = times.first(where: { !(0...1).contains($0) }) {
            throw ValidationError("--times must lie in [0, 1] (got \(bad))")
        }
    }

    func run() throws {
        let root = try HDF5.read(file)
        var config = try RunFile.config(of: root, path: file)
        guard config.method.family == .energyMatching else {
            throw ValidationError("\(file) is an objective=\(config.objective) run; score-error profiles iDEM runs")
        }
        config.threads = threads ?? config.threads
        if let target { try config.set("idem_target", target) }  // the key's own check and message
        guard let learner = try RunFile.restore(root, path: file, config: config) as? EnergyMatchingLearner else {
            throw ValidationError("\(file) holds no iDEM checkpoint")
        }
        let trainer = learner.trainer
        let (clean, source) = try cleanRows(learner, config: config)
        let weights = lastWeights || trainer.averagedParameters == nil ? "last weights" : "weight average"
        print("\(file), epoch \(trainer.epoch): \(source); s = learned (\(weights)), S = \(config.idem.conditionalTargets ? "conditional" : "Monte-Carlo") target")
        print("     t    sigma   mean|s-S|²/d   mean|S|²/d   rel. error   slope <s,S>/<S,S>")
        for e in try trainer.scoreErrors(clean: clean, times: times, averaged: !lastWeights) {
            print(String(format: "%6.3f %8.4f %14.3f %12.3f %12.3f %10.3f", e.t, e.sigma, e.meanSquaredError,
                         e.targetMeanSquare, e.relativeError, e.slope))
        }
    }

    /// The clean configurations in the sampler's coordinates: the newest buffer rows, or the set `eval` compares
    /// with (exact samples or reference test rows, centred for particle targets), and what they are.
    private func cleanRows(_ learner: EnergyMatchingLearner, config: RunConfig) throws -> (Matrix, String) {
        if buffer {
            let newest = learner.trainer.newestBufferRows(rows)
            return (newest, "the newest \(newest.rows) buffer rows")
        }
        guard let set = try Comparison.set(for: learner.target, config: config, catalog: true, rows: rows) else {
            throw ValidationError("target \(config.target) has neither an exact sampler nor a reference set; use --buffer")
        }
        return (learner.fromTarget(set.rows), set.description)
    }
}

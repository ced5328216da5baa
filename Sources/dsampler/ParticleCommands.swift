import ArgumentParser
import Foundation
import Experiments
import Densities
import Evaluation
import Numerics
import RunStore

/// The first `rows` rows of the test split of `target`'s reference set, or an error that says how to make one.
private func referenceRows(_ target: String, _ rows: Int) throws -> (path: String, x: Matrix) {
    guard let reference = try TargetCatalog.referenceTest(target, rows: rows) else {
        throw ValidationError("target \(target) has no reference set; make one with `dsampler reference \(target) --out FILE`")
    }
    return (reference.path, reference.rows)
}

/// Quantiles 10 / 50 / 90 % of `values`, formatted.
private func deciles(_ values: [Double]) -> String {
    [0.1, 0.5, 0.9].map { String(format: "%.2f", values.quantile($0)) }.joined(separator: " / ")
}

struct Forces: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-particle force norms ‖∇ᵢE‖ on a particle target's reference configurations, against score clips.",
        discussion: """
            iDEM clips its Monte-Carlo score per particle; near t = 0 that estimate is the exact −∇E, so the share \
            above a clip is the share of the regression target that the clip bends at equilibrium.
            """)

    @Argument(help: "A particle target with a reference set (dw4, lj13, lj55).") var target: String
    @Option(help: "Test-split rows to profile.") var rows = 1000
    @Option(help: "Clip values to report (repeatable).") var clip: [Double] = [20, 50, 100]

    func validate() throws {
        guard rows >= 1 else { throw ValidationError("--rows must be at least 1 (got \(rows))") }
    }

    func run() throws {
        let t = try TargetCatalog.resolve(target)
        guard let particles = t.particleStructure else {
            throw ValidationError("target \(target) is not a particle system; forces are profiled per particle (dw4, lj13, lj55)")
        }
        let (path, x) = try referenceRows(target, rows)
        let profile = try ForceProfile(target: t, particles: particles, configurations: x)
        let q = [0.1, 0.5, 0.9, 0.99].map { String(format: "%.1f", profile.quantile($0)) }
        print("\(target): \(x.rows) test rows of \(path), per-particle ‖∇E‖ quantiles 10/50/90/99 %: " + q.joined(separator: " / "))
        for c in clip { print(String(format: "  clip %g: %.1f %% of particles above", c, 100 * profile.shareAbove(c))) }
    }
}

struct QuenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quench",
        abstract: "Quench a particle run's samples and the reference set to their local minima; split energy into basin and vibration.",
        discussion: """
            Steepest descent on the target's energy from each configuration. If the quenched energies of the samples \
            match the reference's but their energies do not, the excess is vibrational: the right structures, too hot.
            """)

    @Argument(help: "A run file of a particle target (its /samples).") var file: String
    @Option(help: "Samples and test rows to quench.") var rows = 500
    @Option(help: "Descent steps.") var steps = 5000
    @Flag(help: "Quench the newest rows of an iDEM run's replay buffer (its training distribution) instead of its samples.")
    var buffer = false

    func validate() throws {
        guard rows >= 1 else { throw ValidationError("--rows must be at least 1 (got \(rows))") }
        guard steps >= 0 else { throw ValidationError("--steps must be 0 or more (got \(steps))") }
    }

    func run() throws {
        let root = try HDF5.read(file)
        let config = try RunFile.config(of: root, path: file)
        let t = try TargetCatalog.resolve(config.target)
        let (model, what) = try configurations(root, config: config, target: t)
        let n = model.rows
        let (path, reference) = try referenceRows(config.target, n)
        var quench = Quench()
        quench.steps = steps
        print("energy E, quenched E_q and E − E_q: quantiles 10 / 50 / 90 %; ‖∇E‖ after the descent: median")
        for (name, x) in [("model (\(what) of \(file))", model), ("reference (\(reference.rows) test rows of \(path))", reference)] {
            let energies = try t.logDensity(x).map { -$0 }
            let q = try quench.run(t, from: x)
            print(name)
            print("  E \(deciles(energies))   E_q \(deciles(q.energies))   E − E_q \(deciles(zip(energies, q.energies).map { $0 - $1 }))"
                  + String(format: "   ‖∇E‖ %.2g", q.gradientNorms.quantile(0.5)))
        }
    }

    /// The first `rows` samples, or with `--buffer` the newest `rows` buffer rows (in the target's coordinates).
    private func configurations(_ root: Node, config: RunConfig, target: any Target) throws -> (Matrix, String) {
        guard target.particleStructure != nil else {
            throw ValidationError("\(file) is a run on \(config.target), not on a particle target (dw4, lj13, lj55)")
        }
        if buffer {
            guard config.method.family == .energyMatching else {
                throw ValidationError("\(file) is an objective=\(config.objective) run with no iDEM replay buffer; drop --buffer to quench its samples")
            }
            guard let learner = try RunFile.restore(root, path: file, config: config) as? EnergyMatchingLearner else {
                throw ValidationError("\(file) holds no iDEM checkpoint")
            }
            let newest = learner.toTarget(learner.trainer.newestBufferRows(rows))
            return (newest, "the newest \(newest.rows) buffer rows")
        }
        guard let samples = root.dataset("samples") else {
            throw ValidationError("\(file) holds no samples (a run still in progress? try --buffer for an iDEM checkpoint)")
        }
        let n = min(rows, samples.shape[0]), d = samples.shape[1]
        return (Matrix(rows: n, cols: d, storage: Array(samples.floats[0..<(n * d)])), "\(n) samples")
    }
}

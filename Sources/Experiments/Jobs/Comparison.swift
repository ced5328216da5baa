import Foundation
import Numerics
import Densities
import Evaluation
import Objectives

/// The set every method's samples are compared with, chosen the same way for all: exact samples when the target
/// has a sampler (with a second exact set for the W₂ floor), else the first rows of its reference set's test split;
/// centred for particle targets, whose samplers live in the centre-of-mass-free frame.
public enum Comparison {
    /// `rows` (default `eval_paths`) rows to compare a model of `target` with, drawn from the run's seed, or nil when
    /// the target has neither an exact sampler nor a reference set. `catalog` says whether `target` is the catalog's
    /// `config.target` (whose spec may name a reference set) rather than a custom one.
    /// - Throws: `RunFileError` when the reference set cannot be read.
    public static func set(for target: any Target, config: RunConfig, catalog: Bool, rows: Int? = nil) throws -> ComparisonSet? {
        let n = rows ?? config.evaluation.paths
        var rng = Xoshiro256(seed: config.seed, stream: Evaluator.exactStream)
        var set: ComparisonSet
        if let exact = target.exactSamples(count: n, rng: &rng) {
            set = ComparisonSet(rows: exact, description: "\(n) exact samples", isExact: true,
                                second: target.exactSamples(count: n, rng: &rng))
        } else if catalog, let (path, test) = try TargetCatalog.referenceTest(config.target, rows: n) {
            set = ComparisonSet(rows: test, description: "test split of \(path) (first \(test.rows) rows)", isExact: false)
        } else {
            return nil
        }
        if let p = target.particleStructure {
            removeCentreOfMass(&set.rows.storage, particles: p)
            set.description += ", centred"
        }
        return set
    }

    /// A report of sample-scored `samples` (target coordinates): the sample metrics, against `comparison` when the
    /// target has one. `logDensity`: log R at the samples when known (not evaluated again).
    /// - Throws: what the target throws.
    static func report(samples: Matrix, target: any Target, comparison: ComparisonSet?,
                       logDensity: [Double]? = nil) throws -> EvaluationReport {
        var report = EvaluationReport(samples: samples, logZTrue: target.logZ)
        report.sampleMetrics = try SampleMetrics(samples: samples, target: target, comparison: comparison, logDensity: logDensity)
        return report
    }
}

/// A run's comparison set, drawn (with its W₂ floor) at the first evaluation and reused by the later ones
/// (`eval_every`), which compare with the same rows: the draw and the floor's exact OT are done once per run.
final class ComparisonCache {
    private var drawn = false
    private var value: ComparisonSet?

    /// The set, made by `make` the first time.
    func get(_ make: () throws -> ComparisonSet?) rethrows -> ComparisonSet? {
        if !drawn { (value, drawn) = (try make(), true) }
        return value
    }
}

import Numerics
import Densities
import NeuralSDE

/// Everything `Evaluator` measures about a trained sampler.
public struct EvaluationReport: Sendable {
    /// ELBO, importance-weighted log Z and ESS from on-policy paths.
    public var onPolicy: LogZEstimates
    /// EUBO from bridge paths started at exact target samples (nil without an exact sampler).
    public var eubo: Double?
    /// Exact W₂ between the first min(paths, 2000) model samples and as many exact target samples (nil without an
    /// exact sampler).
    public var w2: Double?
    /// Mode coverage of the model samples (mixtures only).
    public var coverage: ModeCoverage?
    /// The model's terminal samples, one per on-policy path.
    public var samples: Matrix
    /// log w of every on-policy path.
    public var logWeights: [Double]
    /// The target's known log Z, if any.
    public var logZTrue: Double?
}

/// Scores a drift network on its target: log Z bounds and estimates, sample distances, mode coverage.
public struct Evaluator {
    /// Number of on-policy paths (and of exact samples for EUBO and W₂).
    public var paths: Int = 2000
    /// Paths simulated at once (bounds the activation memory).
    public var chunk: Int = 500
    /// Seed of the evaluation streams (independent of training streams).
    public var seed: UInt64

    /// An evaluator with `paths` paths and the given seed.
    public init(paths: Int = 2000, seed: UInt64) {
        self.paths = paths
        self.seed = seed
    }

    /// Evaluates `net` with `sampler` (which fixes the target, σ² and grid).
    public func evaluate(_ net: DriftNetwork, sampler: PathSampler) throws -> EvaluationReport {
        let target = sampler.target, d = net.dimension
        var samples: [Float] = [], logWeights: [Double] = []
        for (k, range) in chunks().enumerated() {
            let batch = try sampler.sampleForward(net, batchSize: range.count, seed: seed, stream: Self.evalStream + UInt64(k),
                                                  context: "evaluation")
            samples += batch.terminalStates.storage
            logWeights += batch.logWeights
        }
        var report = EvaluationReport(onPolicy: LogZEstimates(logWeights: logWeights), eubo: nil, w2: nil, coverage: nil,
                                      samples: Matrix(rows: paths, cols: d, storage: samples), logWeights: logWeights,
                                      logZTrue: target.logZ)
        var rng = Xoshiro256(seed: seed, stream: Self.exactStream)
        if let exact = target.exactSamples(count: paths, rng: &rng) {
            var upper: [Double] = []
            for (k, range) in chunks().enumerated() {
                let terminal = Matrix(rows: range.count, cols: d,
                                      storage: Array(exact.storage[(range.lowerBound * d)..<(range.upperBound * d)]))
                upper += try sampler.sampleBackward(net, terminal: terminal, seed: seed, stream: Self.euboStream + UInt64(k),
                                                    context: "evaluation (EUBO)").logWeights
            }
            report.eubo = upper.reduce(0, +) / Double(upper.count)
            report.w2 = Wasserstein.evaluationW2(samples, exact.storage, dimension: d)
        }
        if let centres = target.modeCentres {
            report.coverage = ModeCoverage(samples: samples, dimension: d, centres: centres, weights: target.modeWeights)
        }
        return report
    }

    private func chunks() -> [Range<Int>] {
        stride(from: 0, to: paths, by: chunk).map { $0..<min($0 + chunk, paths) }
    }

    static let evalStream: UInt64 = 1 << 40
    static let euboStream: UInt64 = 1 << 41
    static let exactStream: UInt64 = 1 << 42
}

import Numerics
import Densities
import NeuralSDE

/// Everything an evaluation measures about a sampler: the one metrics record of every method. Path-space methods
/// fill the log-weight estimates; every method fills the sample metrics that apply to its target.
public struct EvaluationReport: Sendable {
    /// The model's samples in the target's own coordinates, [n, d]: terminal states of on-policy paths, the reverse
    /// SDE's samples (iDEM) or the chains' final states (MCMC).
    public var samples: Matrix
    /// log w = log R(x_T) + S_B − S_F of every on-policy path (path-space methods), [n].
    public var logWeights: [Double]?
    /// ELBO, importance-weighted log Z and ESS from `logWeights`.
    public var onPolicy: LogZEstimates?
    /// EUBO from bridge paths started at exact target samples (path-space methods on targets with an exact sampler).
    public var eubo: Double?
    /// The target's known log Z, if any.
    public var logZTrue: Double?
    /// The metrics of the samples: on the target's energy, and against the comparison set when there is one.
    public var sampleMetrics: SampleMetrics?

    /// A report of `samples` with nothing measured yet.
    public init(samples: Matrix, logZTrue: Double?) {
        self.samples = samples
        self.logZTrue = logZTrue
    }
}

/// The set model samples are compared with, in the target's own coordinates.
public struct ComparisonSet: Sendable {
    /// Exact target samples or the first rows of a reference set's test split, [n, d].
    public var rows: Matrix
    /// What they are, e.g. "2000 exact samples" or "test split of …/dw4.h5 (first 2000 rows), centred".
    public var description: String
    /// Whether `rows` are exact independent target samples (which EUBO needs).
    public var isExact: Bool
    /// The W₂ between `rows` and a second, independent exact set of the same size (exact samplers only): the
    /// finite-sample floor of W₂, computed once with the set.
    public var floor: Double?

    /// A comparison set; with `second`, an independent exact set of the same size, its W₂ floor.
    public init(rows: Matrix, description: String, isExact: Bool, second: Matrix? = nil) {
        (self.rows, self.description, self.isExact) = (rows, description, isExact)
        floor = second.map { Wasserstein.evaluationW2($0.storage, rows.storage, dimension: rows.cols) }
    }
}

/// Metrics of model samples: the mean energy under the target, and distances to a comparison set (exact samples
/// or a reference set) when the target has one. Every method's samples are scored here, so a metric added here
/// (and named in `RunFile.metrics`) appears in the run files of every method.
public struct SampleMetrics: Sendable {
    /// Mean energy E = −log R of the samples whose energy is finite (nil when none is): the target's own measure
    /// of where the samples sit, defined for every target.
    public var energyMean: Double?
    /// What the samples were compared with (nil without a comparison set).
    public var comparison: String?
    /// Exact W₂ (Euclidean cost, not squared) between the first min(n, 2000) model samples and as many rows of the
    /// comparison set (`Wasserstein.evaluationW2`).
    public var w2: Double?
    /// The same W₂ between two independent exact sets: the finite-sample floor of `w2` (exact samplers only).
    public var w2Floor: Double?
    /// The debiased Sinkhorn divergence (ε = 10⁻³, squared-Euclidean cost) between the same rows as `w2`, within its
    /// certified bracket (`SinkhornDivergence`).
    public var sinkhorn: SinkhornDivergence?
    /// Energy and interatomic-distance metrics (particle systems only).
    public var particles: ParticleMetrics?
    /// Mode coverage (mixtures only).
    public var coverage: ModeCoverage?
    /// PQMass two-sample test against the comparison set (100 regions, 20 tessellations), when both hold enough rows.
    public var pqmass: PQMass?
    /// Median-heuristic Gaussian-kernel MMD against the comparison set (the first min(n, 2000) rows a side).
    public var mmd: Double?

    /// Scores `samples` (target coordinates, [n, d]) of `target`, against `comparison` when given. `logDensity`, when
    /// given, is log R at the samples already (n values; e.g. a path's terminal reward), which is not evaluated again.
    /// - Throws: what the target throws while energies are evaluated.
    public init(samples: Matrix, target: any Target, comparison: ComparisonSet?, logDensity known: [Double]? = nil) throws {
        let d = target.dimension
        precondition(known.map { $0.count == samples.rows } ?? true, "SampleMetrics: \(known?.count ?? 0) log R values for \(samples.rows) samples")
        let energies = try (known ?? target.logDensity(samples)).map { -$0 }.filter(\.isFinite)
        energyMean = energies.isEmpty ? nil : energies.reduce(0, +) / Double(energies.count)
        if let comparison {
            self.comparison = comparison.description
            (w2, sinkhorn) = Wasserstein.evaluationTransport(samples.storage, comparison.rows.storage, dimension: d)
            w2Floor = comparison.floor
            if samples.rows + comparison.rows.rows > 2 * 100 {
                pqmass = PQMass(samples.storage, comparison.rows.storage, dimension: d)
            }
            let rows = Wasserstein.evaluationSamples
            if samples.rows >= 2 && comparison.rows.rows >= 2 {
                mmd = MaximumMeanDiscrepancy.medianHeuristic(Array(samples.storage.prefix(rows * d)),
                                                              Array(comparison.rows.storage.prefix(rows * d)), dimension: d)
            }
            if let p = target.particleStructure {
                particles = try ParticleMetrics(target: target, particles: p, model: samples, reference: comparison.rows)
            }
        }
        if let centres = target.modeCentres {
            coverage = ModeCoverage(samples: samples.storage, dimension: d, centres: centres, weights: target.modeWeights)
        }
    }

    /// How W₂ is computed, for run files and printouts.
    public static let w2Definition = "exact OT, Euclidean cost, W2 not squared"
}

/// Scores a drift network on its target: log Z bounds and estimates from on-policy paths, EUBO, sample metrics.
public struct Evaluator {
    /// Number of on-policy paths (and of exact samples for EUBO).
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

    /// Evaluates `net` with `sampler` (which fixes the target, σ² and grid) against `comparison`.
    /// - Throws: what the target throws.
    public func evaluate(_ net: DriftNetwork, sampler: PathSampler, comparison: ComparisonSet?) throws -> EvaluationReport {
        let target = sampler.target, d = net.dimension
        var logReward: [Double] = []
        let (samples, logWeights) = try onPolicy(net, sampler: sampler, logReward: &logReward)
        var report = EvaluationReport(samples: samples, logZTrue: target.logZ)
        report.logWeights = logWeights
        report.onPolicy = LogZEstimates(logWeights: logWeights)
        if let comparison, comparison.isExact, comparison.rows.rows >= paths {
            var upper: [Double] = []
            for (k, range) in chunks().enumerated() {
                let terminal = Matrix(rows: range.count, cols: d,
                                      storage: Array(comparison.rows.storage[(range.lowerBound * d)..<(range.upperBound * d)]))
                upper += try sampler.sampleBackward(net, terminal: terminal, seed: seed, stream: Self.euboStream + UInt64(k),
                                                    context: "evaluation (EUBO)").logWeights
            }
            report.eubo = upper.reduce(0, +) / Double(upper.count)
        }
        report.sampleMetrics = try SampleMetrics(samples: samples, target: target, comparison: comparison, logDensity: logReward)
        return report
    }

    /// Terminal states and log weights of `paths` on-policy paths.
    /// - Throws: what the target throws.
    public func onPolicy(_ net: DriftNetwork, sampler: PathSampler) throws -> (samples: Matrix, logWeights: [Double]) {
        var logReward: [Double] = []
        return try onPolicy(net, sampler: sampler, logReward: &logReward)
    }

    /// `onPolicy(_:sampler:)`, with the paths' log R(x_T) appended to `logReward`.
    private func onPolicy(_ net: DriftNetwork, sampler: PathSampler,
                          logReward: inout [Double]) throws -> (samples: Matrix, logWeights: [Double]) {
        var samples: [Float] = [], logWeights: [Double] = []
        for (k, range) in chunks().enumerated() {
            let batch = try sampler.sampleForward(net, batchSize: range.count, seed: seed, stream: Self.evalStream + UInt64(k),
                                                  context: "evaluation")
            samples += batch.terminalStates.storage
            logWeights += batch.logWeights
            logReward += batch.logReward
        }
        return (Matrix(rows: paths, cols: net.dimension, storage: samples), logWeights)
    }

    private func chunks() -> [Range<Int>] {
        stride(from: 0, to: paths, by: chunk).map { $0..<min($0 + chunk, paths) }
    }

    static let evalStream: UInt64 = 1 << 40
    static let euboStream: UInt64 = 1 << 41
    /// The stream of the comparison set's exact samples.
    public static let exactStream: UInt64 = 1 << 42
}

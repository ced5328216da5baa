import Foundation
import Numerics
import NeuralSDE
import Objectives
import Training
import Evaluation

/// The speed benchmark behind `dsampler bench`: training iterations of fixed cases, median of repeats.
public enum Benchmark {
    /// One case: a name and the settings it trains with.
    public struct Case: Sendable {
        public let name: String
        /// `key=value` settings on top of the benchmark's defaults.
        public let settings: [String]
    }

    /// The cases, each at the paper's batch size 300, T = 100 and 64 hidden units.
    public static let cases: [Case] = [
        Case(name: "tb-gmm25", settings: ["target=gmm25", "objective=tb", "exploration=0.2"]),
        Case(name: "tb-funnel", settings: ["target=funnel", "objective=tb"]),
        Case(name: "tb-manywell", settings: ["target=manywell", "objective=tb"]),
        Case(name: "tb-manywell-langevin", settings: ["target=manywell", "objective=tb", "langevin=true"]),
        Case(name: "pis-funnel", settings: ["target=funnel", "objective=pis"]),
        Case(name: "subtb-gmm25", settings: ["target=gmm25", "objective=subtb"]),
        Case(name: "fl-subtb-gmm25", settings: ["target=gmm25", "objective=fl-subtb"]),
        // Scaling: ten times the batch, and ten times the steps, of tb-gmm25.
        Case(name: "tb-gmm25-batch3000", settings: ["target=gmm25", "objective=tb", "exploration=0.2", "batch_size=3000"]),
        Case(name: "tb-gmm25-steps1000", settings: ["target=gmm25", "objective=tb", "exploration=0.2", "steps=1000"]),
    ]

    /// One measured case.
    public struct Result: Sendable {
        public let name: String
        /// Median over repeats of the mean time per iteration (per cycle for local search).
        public let millisecondsPerIteration: Double
        /// Dense-layer floating-point work per iteration divided by the median time (for local search: millions
        /// of gradient evaluations per second).
        public let gflops: Double
        /// Names of the two figures in `line`.
        var labels = ("ms_per_iter", "gflops")
        /// `gflops` as a share of the machine's measured GEMM peak (training cases, when the peak was measured).
        public var peakShare: Double?
        /// Further figures, `name=value`, printed last (the evaluation case's far-point W₂s).
        var extras: [(String, Double)] = []
        /// The one-line form `bench NAME ms_per_iter=… gflops=… [peak_share=…]` that the command prints.
        public var line: String {
            String(format: "bench %@ %@=%.2f %@=%.1f", name, labels.0, millisecondsPerIteration, labels.1, gflops)
                + (peakShare.map { String(format: " peak_share=%.2f", $0) } ?? "")
                + extras.map { String(format: " %@=%.1f", $0.0, $0.1) }.joined()
        }
    }

    /// Runs `benchCase` with `warmup` untimed iterations, then `repeats` timed groups of `iterations`. With `probe`,
    /// each group sits between two GEMM-peak measurements (each followed by one untimed iteration, so that the BLAS
    /// threads' spinning after the product is not timed), and the share of the peak is the median over groups of the
    /// group's rate over the better of its two neighbouring peaks: on a shared machine whose speed drifts by tens of
    /// per cent within a minute, a rate and a peak measured seconds apart would describe different machines.
    public static func run(_ benchCase: Case, threads: Int, warmup: Int = 3, repeats: Int = 5,
                           iterations: Int = 10, probe: GEMMPeakProbe? = nil) throws -> Result {
        var config = try RunConfig.parse(benchCase.settings + ["threads=\(threads)"])
        config.iterations = warmup + repeats * iterations + (probe == nil ? 0 : repeats + 1)
        let trainer = try PathSpaceLearner(config: config).trainer
        let flops = denseFlops(config, dimension: trainer.target.dimension)
        for _ in 0..<warmup { try trainer.step() }
        func measurePeak() throws -> Double? {
            guard let probe else { return nil }
            let rate = probe.measure()
            try trainer.step()
            return rate
        }
        var times: [Double] = [], peaks: [Double] = []
        if let rate = try measurePeak() { peaks.append(rate) }
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<iterations { try trainer.step() }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 / Double(iterations))
            if let rate = try measurePeak() { peaks.append(rate) }
        }
        let median = Self.median(times)
        var result = Result(name: benchCase.name, millisecondsPerIteration: median, gflops: flops / (median * 1e6))
        if probe != nil {
            let paired = pairedPeakShare(flops: flops, milliseconds: times, peaks: peaks)
            result.peakShare = paired.share
            result.extras = [("peak_gflops", paired.peak)]
        }
        return result
    }

    /// The share of the GEMM peak over timed groups of iterations (`flops` per iteration, `milliseconds` per iteration
    /// in each group, `peaks` in GFLOP/s measured before the first group and after each): each group's rate over the
    /// better of the two peaks around it, then the median over groups; `peak` is the median of those group peaks.
    static func pairedPeakShare(flops: Double, milliseconds: [Double], peaks: [Double]) -> (share: Double, peak: Double) {
        precondition(peaks.count == milliseconds.count + 1, "a peak before each group and after the last")
        let groupPeaks = milliseconds.indices.map { max(peaks[$0], peaks[$0 + 1]) }
        return (median(milliseconds.indices.map { flops / (milliseconds[$0] * 1e6) / groupPeaks[$0] }), median(groupPeaks))
    }

    /// The middle value (the upper one of an even count).
    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    /// The single-precision GEMM peak of this machine under the BLAS and kernel in use: the best GFLOP/s of
    /// `repeats` 2048×2048×2048 products on `threads` workers (`GEMMPeakProbe`), after one warm-up product (the
    /// `bench sgemm-peak` line). Training cases report their dense-layer rate as a share of the peak (their workers run one BLAS thread
    /// each, `threads` of them), measured beside each of their timed groups (`run`).
    public static func gemmPeak(threads: Int, repeats: Int = 3) -> Double {
        let probe = GEMMPeakProbe(threads: threads)
        _ = probe.measure()
        return (0..<repeats).map { _ in probe.measure() }.max()!
    }

    /// One 2048×2048×2048 single-precision product through `BLAS.gemm` (OpenBLAS at this size) on fixed operands, its
    /// columns split among `threads` workers that each run one BLAS thread, as training runs its products. (OpenBLAS's
    /// own threads, asked for two, spun in `sched_yield` for a while after each product and took CPU from the training
    /// iterations timed next: 0.6 s of one core over a two-thread tb-funnel bench, session 32.)
    public final class GEMMPeakProbe {
        let threads: Int
        static let size = 2048
        private let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>

        /// Operands of 16 MB each, allocated once; products run on `threads` BLAS threads.
        public init(threads: Int) {
            let count = Self.size * Self.size
            self.threads = threads
            (a, b, c) = (Memory.allocateFloats(count), Memory.allocateFloats(count), Memory.allocateFloats(count))
            a.initialize(repeating: 0.5, count: count)
            b.initialize(repeating: 0.25, count: count)
            c.initialize(repeating: 0, count: count)
        }
        deinit { [a, b, c].forEach { $0.deallocate() } }

        /// GFLOP/s of one product, timed alone.
        public func measure() -> Double {
            let n = Self.size, (a, b, c) = (UncheckedPointers(a), UncheckedPointers(b), UncheckedPointers(c))
            BLAS.setThreads(1)
            let start = DispatchTime.now().uptimeNanoseconds
            parallelChunks(n, parts: threads) { _, columns in
                BLAS.gemm(m: n, n: columns.count, k: n, a: a.pointer, lda: n, b: b.pointer + columns.lowerBound, ldb: n,
                          c: c.pointer + columns.lowerBound, ldc: n)
            }
            return 2 * Double(n * n * n) / Double(DispatchTime.now().uptimeNanoseconds - start)
        }

        /// A pointer the workers share; they write disjoint columns of C.
        private struct UncheckedPointers: @unchecked Sendable {
            let pointer: UnsafeMutablePointer<Float>
            init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
        }
    }

    /// Density cases: one batched evaluation of log R and its gradient at 300 points.
    public static let densityCases = ["lgcp-logp": "lgcp"]

    /// Times `repeats` evaluations of log R and ∇log R for a batch of 300 points drawn around the origin
    /// (the median is reported; GFLOP/s counts the 2·n·d² of the precision GEMM for the Cox process).
    public static func runDensity(_ name: String, repeats: Int = 11) throws -> Result {
        BLAS.setThreads(1)  // as during training: one BLAS thread per worker
        let target = try TargetCatalog.resolve(densityCases[name]!)
        var rng = Numerics.Xoshiro256(seed: 0)
        let x = rng.gaussianMatrix(rows: 300, cols: target.dimension)
        _ = try target.logDensityAndGradient(x)
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try target.logDensityAndGradient(x)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        let median = times.sorted()[times.count / 2], d = Double(target.dimension)
        return Result(name: name, millisecondsPerIteration: median, gflops: 2 * 300 * d * d / (median * 1e6))
    }

    /// The local-search case: one cycle of the trainer's default MALA local search on manywell.
    public static let localSearchCase = "ls-manywell"

    /// Times `repeats` local-search cycles (300 chains × 200 sweeps of the default kernel, MALA, 100 of them adapting) on
    /// manywell, started from exact samples as a replay buffer would hold them; reports the median cycle.
    public static func runLocalSearch(threads: Int, repeats: Int = 5) throws -> Result {
        BLAS.setThreads(1)
        let target = try TargetCatalog.resolve("manywell")
        var rng = Numerics.Xoshiro256(seed: 0)
        let start = target.exactSamples(count: 300, rng: &rng)!
        let config = RunConfig()
        let search = LocalSearch(config.localSearchSettings)
        var times: [Double] = [], evaluations = 0
        for r in 0..<repeats {
            var chainRNG = Numerics.Xoshiro256(seed: UInt64(r))
            let begin = DispatchTime.now().uptimeNanoseconds
            evaluations = try search.run(from: start, target: target, rng: &chainRNG).gradientEvaluations
            times.append(Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e6)
        }
        let median = times.sorted()[times.count / 2]
        var result = Result(name: localSearchCase, millisecondsPerIteration: median,
                            gflops: Double(evaluations) / (median * 1e3))
        result.labels = ("ms_per_cycle", "mgrad_evals_per_s")
        return result
    }

    /// The iDEM case: one outer epoch on LJ13 at the CPU settings of the Results (see `idemSettings`).
    public static let energyMatchingCase = "idem-lj13"
    /// EGNN 3×64, 100 reverse-SDE steps generating 500 samples, 100 regression steps of 256 points with K = 500.
    public static let idemSettings = ["target=lj13", "objective=idem", "hidden=64", "idem_layers=3", "idem_steps=100",
                                      "idem_generate=500", "idem_inner=100", "batch_size=256", "idem_samples=500"]

    /// Times `repeats` outer epochs, generation on `threads` threads; reports the median epoch and the GFLOP/s of
    /// the EGNN work (forward passes of generation, forward and backward of regression).
    public static func runEnergyMatching(threads: Int, repeats: Int) throws -> Result {
        BLAS.setThreads(1)
        let config = try RunConfig.parse(idemSettings + ["threads=\(threads)"])
        let trainer = try EnergyMatchingLearner(config: config).trainer
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try trainer.trainEpoch()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        let median = times.sorted()[times.count / 2]
        // Dense EGNN work per configuration and layer: per edge the distance column, the second edge layer and the
        // coordinate MLP (H→H→1); per node the two first-layer blocks of the edge MLP and the node MLP (2H→H→H).
        let n = 13.0, h = Double(config.hidden), layers = Double(config.idem.layers)
        let perConfiguration = layers * 2 * (n * (n - 1) * (h + h * h + h * h + h) + n * (2 * h * h + 2 * h * h + h * h))
        let forwardConfigurations = Double(config.idem.integrationSteps * config.idem.samplesPerEpoch)
        let regressionConfigurations = Double(config.idem.innerSteps * config.batchSize) * 3  // forward + backward ≈ 3 forwards
        var result = Result(name: energyMatchingCase, millisecondsPerIteration: median,
                            gflops: perConfiguration * (forwardConfigurations + regressionConfigurations) / (median * 1e6))
        result.labels = ("ms_per_epoch", "gflops")
        return result
    }

    /// The evaluation case: what `dsampler eval RUN --paths 2000` does for a TB run on gmm25 once the file is read.
    public static let evaluationCase = "eval-gmm25"

    /// Times `repeats` full evaluations of a TB drift network on gmm25 (at its initial weights, T = 100): drawing the
    /// 2000 exact comparison samples and the second set with the W₂ floor between them, 2000 on-policy paths, the
    /// EUBO's 2000 backward paths and the sample metrics with W₂ against the set. Reports the median evaluation and
    /// the median of as many exact W₂ computations between two independent 2000-sample sets (`w2_ms`), with one
    /// point of the second set moved to 10¹⁵ (`w2_far_ms`: a far point whose costs round to steps of 10¹⁴), and with
    /// one point of the first set moved to 10⁷ (`w2_far_row_ms`: a diverged model sample, whose row's costs round to
    /// steps far above the bulk's ε; 3.7 s before 2026-12-02's auction change).
    public static func runEvaluation(threads: Int, repeats: Int) throws -> Result {
        let config = try RunConfig.parse(["target=gmm25", "objective=tb", "threads=\(threads)"])
        let learner = try PathSpaceLearner(config: config)
        var evaluations: [Double] = [], assignments: [Double] = [], farAssignments: [Double] = [], farRowAssignments: [Double] = []
        let setSize = 2000
        for r in 0..<repeats {
            var start = DispatchTime.now().uptimeNanoseconds
            let set = try Comparison.set(for: learner.evaluationTarget, config: config, catalog: true)
            _ = try Evaluator(paths: config.evaluation.paths, seed: config.seed).evaluate(
                learner.evaluationNetwork, sampler: learner.evaluationSampler(), comparison: set)
            evaluations.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            var rng = Numerics.Xoshiro256(seed: UInt64(r), stream: 7)
            let target = learner.evaluationTarget
            let a = target.exactSamples(count: setSize, rng: &rng)!, b = target.exactSamples(count: setSize, rng: &rng)!
            start = DispatchTime.now().uptimeNanoseconds
            _ = Wasserstein.exactW2(a.storage, b.storage, dimension: target.dimension)
            assignments.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            var far = b.storage
            far[(setSize / 3) * target.dimension] = 1e15
            start = DispatchTime.now().uptimeNanoseconds
            _ = Wasserstein.exactW2(a.storage, far, dimension: target.dimension)
            farAssignments.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            var farRow = a.storage
            farRow[(setSize / 3) * target.dimension] = 1e7
            start = DispatchTime.now().uptimeNanoseconds
            _ = Wasserstein.exactW2(farRow, b.storage, dimension: target.dimension)
            farRowAssignments.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        var result = Result(name: evaluationCase, millisecondsPerIteration: evaluations.sorted()[repeats / 2],
                            gflops: assignments.sorted()[repeats / 2])
        result.labels = ("ms_per_eval", "w2_ms")
        result.extras = [("w2_far_ms", farAssignments.sorted()[repeats / 2]), ("w2_far_row_ms", farRowAssignments.sorted()[repeats / 2])]
        return result
    }

    /// Multiply-adds ×2 of the state network per iteration: forward, plus backward (δ and weight gradients,
    /// no input gradient for the first layer).
    static func denseFlops(_ c: RunConfig, dimension d: Int) -> Double {
        let rows = Double(c.batchSize * c.steps), h = Double(c.hidden), dd = Double(d)
        let forward = 2 * rows * (dd * h + 2 * h * h + h * dd)
        return forward + 2 * forward - 2 * rows * dd * h
    }
}

import Foundation
import Numerics

/// The speed benchmark behind `dsampler bench`: training iterations of fixed cases, median of repeats.
public enum Benchmark {
    /// One case: a name and the settings it trains with.
    public struct Case: Sendable {
        public let name: String
        public let settings: [String]
    }

    /// The cases, each at the paper's batch size 300, T = 100 and 64 hidden units.
    public static let cases: [Case] = [
        Case(name: "tb-gmm25", settings: ["target=gmm25", "objective=tb", "exploration=0.2"]),
        Case(name: "tb-funnel", settings: ["target=funnel", "objective=tb"]),
        Case(name: "tb-manywell", settings: ["target=manywell", "objective=tb"]),
        Case(name: "tb-manywell-langevin", settings: ["target=manywell", "objective=tb", "langevin=true"]),
        Case(name: "pis-funnel", settings: ["target=funnel", "objective=pis"]),
    ]

    /// One measured case.
    public struct Result: Sendable {
        public let name: String
        /// Median over repeats of the mean time per iteration.
        public let millisecondsPerIteration: Double
        /// Dense-layer floating-point work per iteration divided by the median time.
        public let gflops: Double
        public var line: String {
            String(format: "bench %@ ms_per_iter=%.2f gflops=%.1f", name, millisecondsPerIteration, gflops)
        }
    }

    /// Runs `benchCase` with `warmup` untimed iterations, then `repeats` timed groups of `iterations`.
    public static func run(_ benchCase: Case, threads: Int, warmup: Int = 3, repeats: Int = 5,
                           iterations: Int = 10) throws -> Result {
        var config = try RunConfig.parse(benchCase.settings + ["threads=\(threads)"])
        config.iterations = warmup + repeats * iterations
        let trainer = try Trainer(config: config)
        for _ in 0..<warmup { try trainer.step() }
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<iterations { try trainer.step() }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 / Double(iterations))
        }
        let median = times.sorted()[times.count / 2]
        return Result(name: benchCase.name, millisecondsPerIteration: median,
                      gflops: denseFlops(config, dimension: trainer.target.dimension) / (median * 1e6))
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

    /// Multiply-adds ×2 of the state network per iteration: forward, plus backward (δ and weight gradients,
    /// no input gradient for the first layer).
    static func denseFlops(_ c: RunConfig, dimension d: Int) -> Double {
        let rows = Double(c.batchSize * c.steps), h = Double(c.hidden), dd = Double(d)
        let forward = 2 * rows * (dd * h + 2 * h * h + h * dd)
        return forward + 2 * forward - 2 * rows * dd * h
    }
}

import Foundation
import Numerics
import NeuralSDE

extension Benchmark {
    /// The products case: every dense-layer product of a TB iteration timed alone, operands in cache.
    public static let productsCase = "gemm-shapes"

    /// One product of the state network as `DriftNetwork` hands it to `BLAS.gemm` (row-major C (m × n) = op(A)·B
    /// with op(A) = Aᵀ for weight gradients, which add onto C), and how many of it one iteration makes.
    struct Product {
        let name: String
        let transA: Bool
        let m: Int, n: Int, k: Int
        let perIteration: Int
        var flops: Double { 2 * Double(m * n * k) }
    }

    /// The products of one iteration at batch B, T steps, H hidden units and dimension d: per step the forward pass
    /// (x·W₀, two h·W, h·W_out over B rows), per backward tile of `PathSampler.tileRows` rows the gradients (hᵀ·δ_out,
    /// δ_out·W_outᵀ, two hᵀ·δ and δ·Wᵀ, xᵀ·δ₀). The same multiply-adds as `denseFlops`.
    static func products(dimension d: Int, batch: Int = 300, steps: Int = 100, hidden h: Int = 64) -> [Product] {
        let tile = max(1, PathSampler.tileRows / batch) * batch, tiles = steps * batch / tile
        return [
            Product(name: "x·W0", transA: false, m: batch, n: h, k: d, perIteration: steps),
            Product(name: "h·W", transA: false, m: batch, n: h, k: h, perIteration: 2 * steps),
            Product(name: "h·Wout", transA: false, m: batch, n: d, k: h, perIteration: steps),
            Product(name: "hT·dout", transA: true, m: h, n: d, k: tile, perIteration: tiles),
            Product(name: "dout·WoutT", transA: false, m: tile, n: h, k: d, perIteration: tiles),
            Product(name: "hT·delta", transA: true, m: h, n: h, k: tile, perIteration: 2 * tiles),
            Product(name: "delta·WT", transA: false, m: tile, n: h, k: h, perIteration: 2 * tiles),
            Product(name: "xT·delta", transA: true, m: d, n: h, k: tile, perIteration: tiles),
        ]
    }

    /// Times each product of a tb-gmm25 (d = 2) and a tb-manywell (d = 32) iteration on one thread through
    /// `BLAS.gemm` (libxsmm's kernels where it has them, else OpenBLAS; `LIBXSMM_TARGET=generic` sends all to
    /// OpenBLAS), operands in cache: per product the median over `repeats` of the mean over about 10 ms of calls,
    /// then one iteration's products added up (`…:products`), each as a share of `peak` (the one-thread GEMM peak).
    /// Set against the case's own training iteration, this says what share of an iteration's time its products
    /// would take at their in-cache speed.
    public static func runProducts(peak: Double, repeats: Int) -> [Result] {
        BLAS.setThreads(1)
        var results: [Result] = []
        for (label, d) in [("d2", 2), ("d32", 32)] {
            var iterationSeconds = 0.0, iterationFlops = 0.0
            for p in products(dimension: d) {
                let seconds = time(p, repeats: repeats)
                iterationSeconds += seconds * Double(p.perIteration)
                iterationFlops += p.flops * Double(p.perIteration)
                var r = Result(name: "\(productsCase):\(label):\(p.name):\(p.m)x\(p.n)x\(p.k)", millisecondsPerIteration: seconds * 1e6,
                               gflops: p.flops / seconds / 1e9)
                r.labels = ("us_per_call", "gflops")
                r.peakShare = r.gflops / peak
                results.append(r)
            }
            var total = Result(name: "\(productsCase):\(label):products", millisecondsPerIteration: iterationSeconds * 1e3,
                               gflops: iterationFlops / iterationSeconds / 1e9)
            total.peakShare = total.gflops / peak
            results.append(total)
        }
        return results
    }

    /// Seconds per call of `p` on fixed operands (values in [−1, 1)) that start on a cache line, as the iteration's
    /// do (`Memory.allocateFloats`), after a warm-up call.
    private static func time(_ p: Product, repeats: Int) -> Double {
        var rng = Numerics.Xoshiro256(seed: 1)
        let (a, b, c) = (Memory.allocateFloats(p.m * p.k), Memory.allocateFloats(p.k * p.n), Memory.allocateFloats(p.m * p.n))
        defer { [a, b, c].forEach { $0.deallocate() } }
        for i in 0..<(p.m * p.k) { a[i] = 2 * rng.nextUniform() - 1 }
        for i in 0..<(p.k * p.n) { b[i] = 2 * rng.nextUniform() - 1 }
        c.initialize(repeating: 0, count: p.m * p.n)
        let calls = max(1, Int(1e-2 / max(p.flops / 50e9, 1e-7)))  // about 10 ms at 50 GFLOP/s
        var samples: [Double] = []
        func call() {
            BLAS.gemm(transA: p.transA, m: p.m, n: p.n, k: p.k, a: a, lda: p.transA ? p.m : p.k,
                      b: b, ldb: p.n, beta: p.transA ? 1 : 0, c: c, ldc: p.n)
        }
        call()
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<calls { call() }
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(calls))
        }
        return samples.sorted()[samples.count / 2]
    }
}

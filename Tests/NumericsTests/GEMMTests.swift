import XCTest
import Foundation
import CSmallGEMM
@testable import Numerics

/// `BLAS.gemm` sends narrow products to libxsmm and the rest to OpenBLAS; both routes, every transposition, both
/// β values and padded strides must give op(A)·op(B) + β·C. Each entry is checked against the sum in double
/// precision within the float32 error bound of a k-term dot product, γ_k·Σ|a||b| + |β·c|·u.
final class GEMMTests: XCTestCase {
    /// Row-major storage of a rows × cols matrix with row stride `ld` ≥ cols; the padding holds NaN so that a
    /// kernel reading outside the matrix shows.
    struct Stored {
        var values: [Float]
        let rows, cols, ld: Int
        init(rows: Int, cols: Int, ld: Int, rng: inout Xoshiro256) {
            (self.rows, self.cols, self.ld) = (rows, cols, ld)
            values = [Float](repeating: .nan, count: rows * ld)
            for r in 0..<rows { for c in 0..<cols { values[r * ld + c] = 2 * rng.nextUniform() - 1 } }
        }
        subscript(r: Int, c: Int) -> Float { values[r * ld + c] }
    }

    func check(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, beta: Float, pad: Int,
               file: StaticString = #filePath, line: UInt = #line) {
        var rng = Xoshiro256(seed: 7, stream: UInt64(m * 1_000_003 + n * 1009 + k), 0)
        let a = Stored(rows: transA ? k : m, cols: transA ? m : k, ld: (transA ? m : k) + pad, rng: &rng)
        let b = Stored(rows: transB ? n : k, cols: transB ? k : n, ld: (transB ? k : n) + pad, rng: &rng)
        var c = Stored(rows: m, cols: n, ld: n + pad, rng: &rng)
        // β = 0 must not read C: NaN there would survive 0·NaN.
        if beta == 0 { for r in 0..<m { for j in 0..<n { c.values[r * c.ld + j] = .nan } } }
        let before = c
        c.values.withUnsafeMutableBufferPointer { cp in
            BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a.values, lda: a.ld, b: b.values, ldb: b.ld,
                      beta: beta, c: cp.baseAddress!, ldc: c.ld)
        }
        let unit = Double(Float.ulpOfOne) / 2, gamma = Double(k + 2) * unit / (1 - Double(k + 2) * unit)
        var worst = 0.0
        for r in 0..<m {
            for j in 0..<n {
                var exact = 0.0, magnitude = 0.0
                for p in 0..<k {
                    let x = Double(transA ? a[p, r] : a[r, p]), y = Double(transB ? b[j, p] : b[p, j])
                    exact += x * y
                    magnitude += abs(x * y)
                }
                let previous = beta == 0 ? 0 : Double(before[r, j])
                exact += Double(beta) * previous
                let got = Double(c[r, j])
                let bound = gamma * (magnitude + abs(previous)) + 1e-30
                worst = max(worst, abs(got - exact) / bound)
                if !(abs(got - exact) <= bound) {
                    XCTFail("C[\(r),\(j)] = \(got), exact \(exact) (transA \(transA), transB \(transB), \(m)×\(n)×\(k), β \(beta))",
                            file: file, line: line)
                    return
                }
            }
            for j in n..<c.ld { XCTAssert(c[r, j].isNaN, "padding of row \(r) was written", file: file, line: line) }
        }
        XCTAssertLessThanOrEqual(worst, 1, file: file, line: line)
    }

    func testNarrowProductsEveryTransposition() {
        // The layers' shapes: forward (rows × H, K = d or H), δ·Wᵀ, and weight gradients hᵀ·δ with K = rows.
        for (m, n, k) in [(150, 64, 2), (300, 64, 64), (37, 64, 64), (64, 64, 600), (2, 64, 600), (600, 32, 64), (5, 1, 64), (16, 64, 64),
                          (3, 200, 10), (64, 32, 1500), (64, 2, 600), (17, 1, 300), (40, 15, 37)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    for beta: Float in [0, 1] {
                        check(transA: transA, transB: transB, m: m, n: n, k: k, beta: beta, pad: 0)
                        check(transA: transA, transB: transB, m: m, n: n, k: k, beta: beta, pad: 3)
                    }
                }
            }
        }
    }

    /// A weight gradient with fewer than 16 columns goes to libxsmm as its transpose (`narrowWeightGradient`): on the
    /// AVX-512 kernels (skx, clx, cpx: checked here) the same bits as the direct product for 17 to 64 rows and inner dimensions up to the
    /// 13 416 edges of an LJ13 chunk (the EGNN coordinate layer's H → 1 gradient): the same fused multiply-add chain per
    /// value. At 16 rows they differ in the last place, which is why 16 is left out; elsewhere within float32 rounding.
    func testNarrowWeightGradientIsTheDirectProduct() throws {
        try XCTSkipUnless(BLAS.smallKernels, "libxsmm generates no kernels here (LIBXSMM_TARGET=generic)")
        let sameKernels = ["skx", "clx", "cpx"].contains { BLAS.configuration.hasSuffix("libxsmm " + $0) }
        for m in [17, 31, 48, 64] { for n in [1, 2, 10, 15] { for k in [3, 64, 600, 13_416] { for beta: Float in [0, 1] {
            let pad = (m + n + k) % 3  // leading dimensions wider than the operands on some shapes
            let (lda, ldb, ldc) = (m + pad, n + pad, n + pad)
            var rng = Xoshiro256(seed: 5, stream: UInt64(m * 10_007 + n * 101 + k), 0)
            let a = (0..<(k * lda)).map { _ in 2 * rng.nextUniform() - 1 }, b = (0..<(k * ldb)).map { _ in 2 * rng.nextUniform() - 1 }
            var viaGEMM = (0..<(m * ldc)).map { _ in 2 * rng.nextUniform() - 1 }, direct = viaGEMM
            viaGEMM.withUnsafeMutableBufferPointer {
                BLAS.gemm(transA: true, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: $0.baseAddress!, ldc: ldc)
            }
            let done = direct.withUnsafeMutableBufferPointer {
                BLAS.smallGEMM(transA: true, transB: false, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
                               c: $0.baseAddress!, ldc: ldc)
            }
            XCTAssertTrue(done)
            if sameKernels {
                XCTAssertEqual(viaGEMM.map(\.bitPattern), direct.map(\.bitPattern), "\(m)×\(n)×\(k) β = \(beta)")
            } else {  // entries in [−1, 1]: |error| ≤ γ_(k+1)·(k + 1) for each of the two
                let unit = Double(Float.ulpOfOne) / 2, bound = 2 * Double(k + 1) * Double(k + 3) * unit / (1 - Double(k + 3) * unit)
                XCTAssertLessThanOrEqual(zip(viaGEMM, direct).map { abs(Double($0) - Double($1)) }.max()!, bound, "\(m)×\(n)×\(k)")
            }
        } } } }
    }

    /// The backward pass multiplies by weights it transposed itself (`DriftNetwork.transposedStateWeights`) where it
    /// used to pass `transB`: on libxsmm's route (k ≤ 256, where `gemm` copied B transposed before the call) the two
    /// give the same bits. On OpenBLAS's route they agree within float32 rounding: its large kernels gave the same bits
    /// here (k = 1600, the LGCP's first layer), but its small-matrix kernels (SkylakeX with `LIBXSMM_TARGET=generic`)
    /// round the two transpositions differently.
    func testTransposedOperandIsTheOperandStoredTransposed() {
        for (m, n, k) in [(600, 64, 64), (600, 64, 2), (300, 32, 64), (600, 64, 1600), (600, 1600, 64), (17, 130, 64)] {
            var rng = Xoshiro256(seed: 3, stream: UInt64(m * 10_007 + n * 101 + k), 0)
            let a = (0..<(m * k)).map { _ in 2 * rng.nextUniform() - 1 }
            let b = (0..<(n * k)).map { _ in 2 * rng.nextUniform() - 1 }  // n × k: op(B) = Bᵀ is k × n
            var bt = [Float](repeating: 0, count: k * n)
            for j in 0..<n { for p in 0..<k { bt[p * n + j] = b[j * k + p] } }
            var viaFlag = [Float](repeating: 0, count: m * n), viaCopy = viaFlag
            viaFlag.withUnsafeMutableBufferPointer {
                BLAS.gemm(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: $0.baseAddress!, ldc: n)
            }
            viaCopy.withUnsafeMutableBufferPointer {
                BLAS.gemm(m: m, n: n, k: k, a: a, lda: k, b: bt, ldb: n, c: $0.baseAddress!, ldc: n)
            }
            if BLAS.rowsRoundAlone(k: k) {
                XCTAssertEqual(viaFlag.map(\.bitPattern), viaCopy.map(\.bitPattern), "\(m)×\(n)×\(k)")
            } else {  // entries in [−1, 1]: |error| ≤ γ_k·k for each of the two
                let unit = Double(Float.ulpOfOne) / 2, bound = 2 * Double(k) * Double(k + 2) * unit / (1 - Double(k + 2) * unit)
                XCTAssertLessThanOrEqual(zip(viaFlag, viaCopy).map { abs(Double($0) - Double($1)) }.max()!, bound, "\(m)×\(n)×\(k)")
            }
        }
    }

    /// A row's value must not depend on how many rows share the call: samples must not depend on the thread count,
    /// which splits the rows. Every split of 40 rows, at the widths of the layers and outputs (wider ones in panels),
    /// both β. (OpenBLAS alone does not have this property: its Cooperlake kernel gives other values for blocks of
    /// 4j + 1..3 rows at 65 columns, or at 1 and 2 columns; hence the test needs libxsmm's kernels.)
    func testRowsDoNotDependOnTheBlock() throws {
        try XCTSkipUnless(BLAS.smallKernels, "libxsmm generates no kernels on this CPU (LIBXSMM_TARGET=generic?)")
        for (n, k) in [(64, 64), (64, 2), (2, 64), (10, 64), (16, 10), (32, 64), (1, 64), (64, 256), (65, 64), (100, 64), (130, 8)] {
            for beta: Float in [0, 1] {
                var rng = Xoshiro256(seed: 11, stream: UInt64(n * 1000 + k), 0)
                let a = Stored(rows: 40, cols: k, ld: k, rng: &rng), w = Stored(rows: k, cols: n, ld: n, rng: &rng)
                let start = Stored(rows: 40, cols: n, ld: n, rng: &rng)
                var whole = start.values
                whole.withUnsafeMutableBufferPointer { cp in
                    BLAS.gemm(m: 40, n: n, k: k, a: a.values, lda: k, b: w.values, ldb: n, beta: beta, c: cp.baseAddress!, ldc: n)
                }
                for block in 1..<40 {
                    var pieces = start.values
                    pieces.withUnsafeMutableBufferPointer { cp in
                        for first in stride(from: 0, to: 40, by: block) {
                            let rows = min(block, 40 - first)
                            a.values.withUnsafeBufferPointer { ap in
                                BLAS.gemm(m: rows, n: n, k: k, a: ap.baseAddress! + first * k, lda: k, b: w.values, ldb: n,
                                          beta: beta, c: cp.baseAddress! + first * n, ldc: n)
                            }
                        }
                    }
                    XCTAssertEqual(pieces, whole, "\(n) × \(k), β \(beta), blocks of \(block) rows")
                }
            }
        }
    }

    /// A weight gradient's long inner dimension (the batch's rows) goes to libxsmm in blocks, each continuing the
    /// previous block's sums. libxsmm adds over k in order, so every block size must give the one-call product bit
    /// for bit; otherwise training would round differently from before the blocking.
    func testBlockedInnerDimensionIsTheOneCallProduct() throws {
        try XCTSkipUnless(BLAS.smallKernels, "libxsmm generates no kernels on this CPU (LIBXSMM_TARGET=generic?)")
        for (m, n, k) in [(64, 64, 13_416), (128, 64, 1000), (16, 16, 257), (64, 32, 512), (20, 64, 300), (64, 1, 700)] {
            for beta: Float in [0, 1] {
                var rng = Xoshiro256(seed: 5, stream: UInt64(m * 1000 + n), UInt64(k))
                let a = Stored(rows: k, cols: m, ld: m, rng: &rng), b = Stored(rows: k, cols: n, ld: n, rng: &rng)
                let start = Stored(rows: m, cols: n, ld: n, rng: &rng).values
                // Row-major C = Aᵀ·B is libxsmm's column-major Cᵀ = Bᵀ·A, A's storage read transposed.
                func product(block: Int) -> [UInt32] {
                    var c = start
                    let status = c.withUnsafeMutableBufferPointer { cp in
                        dsn_small_sgemm(1, Int32(n), Int32(m), Int32(k), b.values, Int32(n), a.values, Int32(m), beta,
                                        cp.baseAddress!, Int32(n), Int32(block))
                    }
                    XCTAssertEqual(status, 1, "\(m) × \(n) × \(k): no kernel")
                    return c.map(\.bitPattern)
                }
                let whole = product(block: k)
                for block in [256, 100, 64] {
                    XCTAssertEqual(product(block: block), whole, "\(m) × \(n) × \(k), β \(beta), blocks of \(block)")
                }
            }
        }
    }

    func testWideProductsAndOtherScalingsGoToOpenBLASOrPanels() {
        // Beyond libxsmm's route (k > 256 without a transposed A, a weight gradient wider than 64 or taller than 256),
        // and β ∉ {0, 1}; then wider row-wise products, which go to libxsmm in panels of 64 columns.
        check(transA: true, transB: false, m: 20, n: 65, k: 50, beta: 1, pad: 0)
        check(transA: false, transB: true, m: 30, n: 20, k: 400, beta: 0, pad: 2)
        check(transA: true, transB: false, m: 300, n: 20, k: 50, beta: 1, pad: 0)
        check(transA: false, transB: false, m: 17, n: 33, k: 9, beta: 0.5, pad: 1)
        for transB in [false, true] {
            for beta: Float in [0, 1] {
                check(transA: false, transB: transB, m: 40, n: 65, k: 20, beta: beta, pad: 1)
                check(transA: false, transB: transB, m: 7, n: 200, k: 64, beta: beta, pad: 3)
            }
        }
    }

    /// libxsmm's initialisation sets OMP_PROC_BIND=TRUE when no affinity is set; the toolkit puts it back, so that
    /// a Python target's OpenMP threads and child processes are not pinned. Compared with the environment the
    /// process started with (/proc/self/environ, which later changes do not touch).
    func testLibxsmmLeavesTheEnvironmentAlone() throws {
        let initial = try String(contentsOfFile: "/proc/self/environ", encoding: .utf8).split(separator: "\0")
            .first { $0.hasPrefix("OMP_PROC_BIND=") }.map { String($0.dropFirst("OMP_PROC_BIND=".count)) }
        var c = [Float](repeating: 0, count: 64 * 64)
        let a = [Float](repeating: 1, count: 64 * 64)
        c.withUnsafeMutableBufferPointer { BLAS.gemm(m: 64, n: 64, k: 64, a: a, lda: 64, b: a, ldb: 64, c: $0.baseAddress!, ldc: 64) }
        XCTAssertEqual(c[0], 64)
        XCTAssertEqual(ProcessInfo.processInfo.environment["OMP_PROC_BIND"], initial)
    }

    func testEmptyInnerDimension() {
        // k = 0: C ← β·C (OpenBLAS's route; libxsmm is not asked for an empty product).
        var c: [Float] = [1, 2, 3, 4]
        let none: [Float] = [0]
        c.withUnsafeMutableBufferPointer { cp in
            BLAS.gemm(m: 2, n: 2, k: 0, a: none, lda: 1, b: none, ldb: 2, beta: 0, c: cp.baseAddress!, ldc: 2)
        }
        XCTAssertEqual(c, [0, 0, 0, 0])
    }

    /// Product operands start on a cache line (libxsmm's AVX2 weight-gradient kernel reads δ 1.4× slower otherwise):
    /// sizes around glibc's mapping threshold, where its blocks start 16 bytes into a page, included.
    func testAllocatedFloatsStartOnACacheLine() {
        for count in [0, 1, 15, 600 * 64, 32 * 1024, 300 * 100 * 64] {
            let p = Memory.allocateFloats(count)
            defer { p.deallocate() }
            XCTAssertEqual(Int(bitPattern: p) % Memory.cacheLine, 0, "\(count) floats")
            p[max(count, 1) - 1] = 1  // writable to its last value
        }
    }

    /// A row-wise product with a narrow output panel, padded with zero columns on libxsmm's AVX2 code
    /// (`paddedWidth`), has the bits of the direct kernel for the panel's own width, for β = 0 and 1, panels after
    /// a full 64-column one included. Elsewhere nothing is padded, and this compares the direct route with itself.
    func testPaddedNarrowPanelsAreTheDirectProduct() throws {
        try XCTSkipUnless(BLAS.smallKernels, "libxsmm has no kernels here (LIBXSMM_TARGET=generic)")
        var rng = Xoshiro256(seed: 31)
        var padded = 0
        let shapes = [1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 15, 18, 66, 71].flatMap { n in
            [1, 12, 17, 300].flatMap { m in [2, 10, 64, 130].map { k in (m: m, n: n, k: k) } }
        }
        for (m, n, k) in shapes {
            let a = (0..<(m * k)).map { _ in 2 * rng.nextUniform() - 1 }
            let b = (0..<(k * (n + 3))).map { _ in 2 * rng.nextUniform() - 1 }  // ldb = n + 3
            let c0 = (0..<(m * (n + 1))).map { _ in 2 * rng.nextUniform() - 1 }  // ldc = n + 1
            for beta: Float in [0, 1] {
                var got = c0, want = c0
                a.withUnsafeBufferPointer { A in b.withUnsafeBufferPointer { B in
                    got.withUnsafeMutableBufferPointer { C in
                        BLAS.gemm(m: m, n: n, k: k, a: A.baseAddress!, lda: k, b: B.baseAddress!, ldb: n + 3, beta: beta,
                                  c: C.baseAddress!, ldc: n + 1)
                    }
                    want.withUnsafeMutableBufferPointer { C in
                        for first in stride(from: 0, to: n, by: 64) {
                            XCTAssertTrue(BLAS.smallGEMM(transA: false, transB: false, m: m, n: min(64, n - first), k: k,
                                                         a: A.baseAddress!, lda: k, b: B.baseAddress! + first, ldb: n + 3,
                                                         beta: beta, c: C.baseAddress! + first, ldc: n + 1))
                        }
                    }
                } }
                XCTAssertEqual(got.map { $0.bitPattern }, want.map { $0.bitPattern }, "m \(m) n \(n) k \(k) β \(beta)")
                if BLAS.paddedWidth(n % 64) != nil { padded += 1 }
            }
        }
        if BLAS.padsNarrowPanels { XCTAssertGreaterThan(padded, 0) }
    }

    /// Our AVX2 weight-gradient kernel (`dsn_weight_gradient`, used on libxsmm's `hsw` code) must give libxsmm's bits:
    /// every shape it takes (16–64 columns, any rows up to 256, k across its 64-row slices), with leading dimensions
    /// beyond the widths, against libxsmm's transposed product for the same call.
    func testOwnWeightGradientIsLibxsmmsProduct() throws {
        try XCTSkipUnless(BLAS.ownsWeightGradients, "only libxsmm's AVX2 code (hsw) hands weight gradients to our kernel")
        var rng = Xoshiro256(seed: 32)
        var shapes = [(m: 64, n: 64, k: 600), (m: 64, n: 32, k: 600), (m: 32, n: 64, k: 600), (m: 2, n: 64, k: 600)]
        for m in [1, 3, 5, 6, 7, 13, 64, 200] { for n in [16, 48] { for k in [1, 63, 64, 65, 1000] { shapes.append((m, n, k)) } } }
        for (m, n, k) in shapes {
            let lda = m + 2, ldb = n + 5, ldc = n + 3
            let a = (0..<(k * lda)).map { _ in 2 * rng.nextUniform() - 1 }
            // A fifth of δ exactly zero, as after clipped outputs.
            let b = (0..<(k * ldb)).map { i in i % 5 == 0 ? 0 : 2 * rng.nextUniform() - 1 }
            let c0 = (0..<(m * ldc)).map { _ in 2 * rng.nextUniform() - 1 }
            var got = c0, want = c0
            a.withUnsafeBufferPointer { A in b.withUnsafeBufferPointer { B in
                got.withUnsafeMutableBufferPointer { C in
                    BLAS.gemm(transA: true, m: m, n: n, k: k, a: A.baseAddress!, lda: lda, b: B.baseAddress!, ldb: ldb,
                              beta: 1, c: C.baseAddress!, ldc: ldc)
                }
                want.withUnsafeMutableBufferPointer { C in
                    XCTAssertTrue(BLAS.smallGEMM(transA: true, transB: false, m: m, n: n, k: k, a: A.baseAddress!, lda: lda,
                                                 b: B.baseAddress!, ldb: ldb, beta: 1, c: C.baseAddress!, ldc: ldc))
                }
            } }
            XCTAssertEqual(got.map { $0.bitPattern }, want.map { $0.bitPattern }, "m \(m) n \(n) k \(k)")
            XCTAssertNotEqual(got, c0, "m \(m) n \(n) k \(k): nothing was added")
        }
    }
}

import XCTest
import Foundation
@testable import Evaluation
import Numerics

/// The Sinkhorn divergence's certified bracket against a plain Sinkhorn iterated to convergence (from zero
/// potentials, checked by its marginals), and its exact values on sets it must price exactly.
final class SinkhornTests: XCTestCase {
    /// OT_ε(a, b) to convergence, independently of the bracket: log-domain Sinkhorn from zero potentials, ε-scaled
    /// (from 1 down by halves), warms Newton's method on the semi-dual F(g) = ⟨g, β⟩ + ⟨f(g), α⟩ (f(g) the exact
    /// row update; g₀ held at its value, F being invariant to a common shift), iterated until the column marginal
    /// is exact to 10⁻⁹ (10⁻⁷ at worst, rounding: F is then within 10⁻⁹ of OT_ε). (Sinkhorn alone needs 10⁵ steps and more at these ε.)
    private func converged(_ a: [Float], _ b: [Float], d: Int, epsilon: Double) -> Double {
        let n = a.count / d
        let c = (0..<(n * n)).map { k in
            (0..<d).reduce(0.0) { let e = Double(b[(k % n) * d + $1] - a[(k / n) * d + $1]); return $0 + e * e }
        }
        // Row i's softmax π_ij ∝ e^{(g_j − C_ij)/ε} and f_i(g) = −ε log(1/n Σ_j e^{(g_j − C_ij)/ε}).
        func rows(_ g: [Double], _ e: Double) -> (f: [Double], pi: [[Double]]) {
            var f = [Double](repeating: 0, count: n), pi: [[Double]] = []
            for i in 0..<n {
                let v = (0..<n).map { (g[$0] - c[i * n + $0]) / e }, m = v.max()!
                let w = v.map { exp($0 - m) }, total = w.reduce(0, +)
                f[i] = -e * (m + log(total / Double(n)))
                pi.append(w.map { $0 / total })
            }
            return (f, pi)
        }
        func semiDual(_ g: [Double], _ e: Double) -> Double { (g.reduce(0, +) + rows(g, e).f.reduce(0, +)) / Double(n) }
        var g = [Double](repeating: 0, count: n)
        var scales = [epsilon]
        while scales.last! < 1 { scales.append(scales.last! * 2) }
        for e in scales.reversed() {
            for _ in 0..<500 {
                let f = rows(g, e).f
                for j in 0..<n {
                    let v = (0..<n).map { (f[$0] - c[$0 * n + j]) / e }, m = v.max()!
                    g[j] = -e * (m + log(v.reduce(0) { $0 + exp($1 - m) } / Double(n)))
                }
            }
        }
        var error = Double.infinity
        for _ in 0..<100 where error > 1e-9 {
            let pi = rows(g, epsilon).pi
            // Gradient n·∂F/∂g_j = 1 − Σ_i π_ij; Hessian −(1/nε) Σ_i (diag π_i − π_i π_iᵀ), on coordinates 1..<n.
            let column = (0..<n).map { j in pi.reduce(0.0) { $0 + $1[j] } }
            error = column.map { abs($0 - 1) }.max()!
            let m = n - 1
            var h = [Double](repeating: 0, count: m * m), r = (1..<n).map { 1 - column[$0] }
            for p in pi { for j in 1..<n { for k in 1..<n { h[(j - 1) * m + k - 1] += ((j == k ? p[j] : 0) - p[j] * p[k]) / epsilon } } }
            // Solve h·Δ = r (h positive definite on these coordinates) by Gaussian elimination.
            for k in 0..<m {
                for i in (k + 1)..<m where h[i * m + k] != 0 {
                    let factor = h[i * m + k] / h[k * m + k]
                    for j in k..<m { h[i * m + j] -= factor * h[k * m + j] }
                    r[i] -= factor * r[k]
                }
            }
            var step = [Double](repeating: 0, count: m)
            for k in stride(from: m - 1, through: 0, by: -1) {
                step[k] = (r[k] - ((k + 1)..<m).reduce(0.0) { $0 + h[k * m + $1] * step[$1] }) / h[k * m + k]
            }
            // Damped: halve until F does not fall.
            var t = 1.0
            let now = semiDual(g, epsilon)
            while t > 1e-6 {
                var trial = g
                for j in 1..<n { trial[j] += t * step[j - 1] }
                if semiDual(trial, epsilon) >= now - 1e-15 * abs(now) { g = trial; break }
                t /= 2
            }
        }
        XCTAssertLessThan(error, 1e-7, "reference OT_ε at ε = \(epsilon) did not converge")
        return semiDual(g, epsilon)
    }

    private func bracket(_ a: [Float], _ b: [Float], d: Int, epsilon: Double) -> SinkhornDivergence {
        let (costs, optimum) = Wasserstein.assignment(a, b, dimension: d)!
        return SinkhornDivergence.bracket(a, b, dimension: d, costs: costs, assignment: optimum.columns, prices: optimum.prices,
                                          epsilon: epsilon)
    }

    func testBracketHoldsTheConvergedDivergence() {
        var rng = Xoshiro256(seed: 11)
        let d = 2, n = 24
        let a = (0..<(n * d)).map { _ in rng.nextGaussian() }, b = (0..<(n * d)).map { _ in rng.nextGaussian() * 1.5 + 0.5 }
        for epsilon in [0.003, 0.01, 0.05] {
            let reference = converged(a, b, d: d, epsilon: epsilon)
                - 0.5 * (converged(a, a, d: d, epsilon: epsilon) + converged(b, b, d: d, epsilon: epsilon))
            let s = bracket(a, b, d: d, epsilon: epsilon)
            XCTAssertLessThanOrEqual(abs(s.value - reference), s.bound + 1e-10, "ε = \(epsilon): \(s) vs \(reference)")
            // The Sinkhorn iterations tighten the starting bracket (± ε log n) more than tenfold here.
            XCTAssertLessThanOrEqual(s.bound, 0.1 * epsilon * log(Double(n)), "ε = \(epsilon)")
        }
    }

    func testBenchmarkEpsilonOnSeparatedSets() {
        var rng = Xoshiro256(seed: 5)
        let d = 3, n = 400
        let a = (0..<(n * d)).map { _ in rng.nextGaussian() }, b = (0..<(n * d)).map { _ in rng.nextGaussian() + 1 }
        let s = bracket(a, b, d: d, epsilon: SinkhornDivergence.epsilon)
        let w2 = Wasserstein.exactW2(a, b, dimension: d)
        // S_ε lies within ε log n of W₂², and the bracket is iterated to its tolerance.
        XCTAssertLessThanOrEqual(abs(s.value - w2 * w2), s.bound + SinkhornDivergence.epsilon * log(Double(n)))
        XCTAssertLessThanOrEqual(s.bound, SinkhornDivergence.relativeTolerance * max(1, s.value))
    }

    func testExactCases() {
        // One point a side: the only coupling, S_ε = ‖x − y‖² exactly.
        let one = bracket([0, 0], [3, 4], d: 2, epsilon: 1e-3)
        XCTAssertEqual(one.value, 25, accuracy: 1e-12)
        XCTAssertEqual(one.bound, 0)
        // A set against a permutation of itself: S_ε = 0.
        var rng = Xoshiro256(seed: 2)
        let x = (0..<(300 * 2)).map { _ in rng.nextGaussian() }
        let shuffled = (0..<300).reversed().flatMap { [x[2 * $0], x[2 * $0 + 1]] }
        let same = bracket(x, shuffled, d: 2, epsilon: 1e-3)
        XCTAssertLessThanOrEqual(abs(same.value), same.bound)
        XCTAssertLessThanOrEqual(same.bound, 1e-4)
    }
}

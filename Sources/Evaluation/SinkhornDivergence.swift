import Foundation

/// The debiased Sinkhorn divergence between two equal-size empirical measures with squared-Euclidean cost — the
/// Beyond-ELBOs benchmark's "Sinkhorn distance" (ott-jax `sinkhorn_divergence` on point clouds, ε = 10⁻³,
/// BENCHMARK-TASKS.md §4) — evaluated within a certified bracket.
///
/// S_ε(α, β) = OT_ε(α, β) − ½ OT_ε(α, α) − ½ OT_ε(β, β) (Genevay, Peyré & Cuturi 2018, "Learning generative models
/// with Sinkhorn divergences", AISTATS; Feydy et al. 2019, "Interpolating between optimal transport and MMD using
/// Sinkhorn divergences", AISTATS, eq. 3), where OT_ε(α, β) = min over couplings P of ⟨P, C⟩ + ε KL(P ‖ α⊗β),
/// C_ij = ‖x_i − y_j‖² and α, β put 1/n on each point. (ott-jax's −εH(P) form differs from the KL form by a
/// constant that cancels in S_ε when both sets have n points.)
///
/// At ε = 10⁻³ against costs of order one and more, Sinkhorn's iterations from zero potentials need thousands of
/// steps. Each OT_ε is bracketed instead:
/// - below by the entropic dual objective D(f, g) = ⟨f, α⟩ + ⟨g, β⟩ − ε(⟨e^{(f⊕g − C)/ε}, α⊗β⟩ − 1), which weak
///   duality makes ≤ OT_ε for any potentials: started from the exact assignment's dual prices (from zero for
///   OT_ε(α, α), whose optimal assignment is the identity) and raised by log-domain Sinkhorn iterations, each of
///   which leaves the row marginal exact, so that D = ⟨f, α⟩ + ⟨g, β⟩ after it;
/// - above by the primal value of a feasible coupling: the optimal assignment, W₂² + ε log n (the identity, ε log n,
///   for OT_ε(α, α)).
/// So S_ε ∈ [W₂² − ε log n, W₂² + ε log n] before any iteration. Terms of the sums below e^{−40} are skipped (they
/// change D by under 10⁻¹⁵).
public struct SinkhornDivergence: Sendable, Equatable {
    /// The midpoint of the bracket (squared distance units).
    public var value: Double
    /// The bracket's half-width: S_ε lies in value ± bound (up to double rounding).
    public var bound: Double
    /// Sinkhorn iterations run on each of the three problems.
    public var iterations: Int

    /// The benchmark's ε (absolute, in squared distance units).
    public static let epsilon = 1e-3
    /// Iterations stop once `bound` ≤ `relativeTolerance` · max(1, |value|)…
    public static let relativeTolerance = 1e-4
    /// …or after this many.
    public static let maxIterations = 50

    /// S_ε between the rows of `a` and `b` (both n × d, row-major, the costs of `costs`), given the optimal
    /// assignment of `costs` and its column prices (`LinearAssignment.optimum`).
    static func bracket(_ a: [Float], _ b: [Float], dimension d: Int, costs: SquaredDistances,
                        assignment: [Int], prices: [Double], epsilon: Double = epsilon) -> SinkhornDivergence {
        let n = costs.count
        if n == 0 { return SinkhornDivergence(value: 0, bound: 0, iterations: 0) }
        let logN = log(Double(n))
        var w = 0.0
        for i in 0..<n { w += costs.cost(i, assignment[i]) }
        w /= Double(n)
        let rowDuals = (0..<n).map { costs.cost($0, assignment[$0]) - prices[assignment[$0]] }
        var ab = Potentials(DenseCosts(costs, symmetric: false), f: rowDuals, g: prices, epsilon: epsilon)
        var aa = Potentials(DenseCosts(SquaredDistances(a, a, dimension: d), symmetric: true), epsilon: epsilon)
        var bb = Potentials(DenseCosts(SquaredDistances(b, b, dimension: d), symmetric: true), epsilon: epsilon)
        let upper = (ab: w + epsilon * logN, aa: epsilon * logN, bb: epsilon * logN)
        func current() -> SinkhornDivergence {
            let low = ab.lower - 0.5 * (upper.aa + upper.bb), high = upper.ab - 0.5 * (aa.lower + bb.lower)
            return SinkhornDivergence(value: 0.5 * (low + high), bound: 0.5 * (high - low), iterations: ab.iterations)
        }
        while true {
            let s = current()
            if s.bound <= relativeTolerance * max(1, abs(s.value)) || s.iterations >= maxIterations { return s }
            ab.iterate(); aa.iterate(); bb.iterate()
        }
    }

    /// An n×n cost matrix stored row-major, and its transpose (the same array when symmetric), so that both
    /// Sinkhorn half-steps run along contiguous rows. The rows of a `SquaredDistances`: the same numbers.
    struct DenseCosts {
        let n: Int
        let rows: [Double], columns: [Double]
        init(_ costs: SquaredDistances, symmetric: Bool) {
            let n = costs.count
            var c = [Double](repeating: 0, count: n * n)
            c.withUnsafeMutableBufferPointer { out in
                for i in 0..<n { (out.baseAddress! + i * n).update(from: costs.row(i), count: n) }
            }
            var t = c
            if !symmetric { for i in 0..<n { for j in 0..<n { t[j * n + i] = c[i * n + j] } } }
            (self.n, rows, columns) = (n, c, t)
        }
    }

    /// Potentials of one entropic problem and the best dual objective seen.
    struct Potentials {
        let costs: DenseCosts
        let epsilon: Double
        var f: [Double], g: [Double]
        /// The largest D(f, g) so far: a lower bound of OT_ε.
        var lower: Double
        var iterations = 0

        init(_ costs: DenseCosts, f: [Double]? = nil, g: [Double]? = nil, epsilon: Double) {
            let n = costs.n
            (self.costs, self.epsilon) = (costs, epsilon)
            (self.f, self.g) = (f ?? [Double](repeating: 0, count: n), g ?? [Double](repeating: 0, count: n))
            lower = -.infinity
            lower = dualObjective()
        }

        /// D(f, g) computed in full (the starting potentials leave neither marginal exact).
        func dualObjective() -> Double {
            let n = costs.n, nn = Double(n)
            var total = 0.0
            costs.rows.withUnsafeBufferPointer { c in
                g.withUnsafeBufferPointer { g in
                    for i in 0..<n { total += Self.sumExp(c.baseAddress! + i * n, g.baseAddress!, n: n, offset: f[i], epsilon: epsilon) }
                }
            }
            return f.reduce(0, +) / nn + g.reduce(0, +) / nn - epsilon * (total / (nn * nn) - 1)
        }

        /// One Sinkhorn iteration in the log domain: g_j ← −ε log(1/n Σ_i e^{(f_i − C_ij)/ε}), then the same for f;
        /// after it, D(f, g) = ⟨f, α⟩ + ⟨g, β⟩.
        mutating func iterate() {
            Self.update(&g, costs.columns, f, epsilon: epsilon)
            Self.update(&f, costs.rows, g, epsilon: epsilon)
            iterations += 1
            let nn = Double(costs.n)
            lower = max(lower, f.reduce(0, +) / nn + g.reduce(0, +) / nn)
        }

        /// q_i ← −ε log(1/n Σ_k e^{(p_k − c_ik)/ε}) = m_i − ε log Σ_k e^{−(c_ik − p_k − m_i)/ε} + ε log n, with
        /// m_i = min_k c_ik − p_k.
        static func update(_ q: inout [Double], _ c: [Double], _ p: [Double], epsilon: Double) {
            let n = p.count, shift = epsilon * log(Double(n))
            c.withUnsafeBufferPointer { c in
                p.withUnsafeBufferPointer { p in
                    for i in 0..<n {
                        let row = c.baseAddress! + i * n
                        let m = LinearAssignment.Kernels.minimum(row, p.baseAddress!, 0, n)
                        q[i] = m - epsilon * log(sumExp(row, p.baseAddress!, n: n, offset: m, epsilon: epsilon)) + shift
                    }
                }
            }
        }

        /// Σ_k e^{−(c_k − p_k − offset)/ε} over the terms above e^{−40} (the rest add under n²·e^{−40}·ε, below
        /// 10⁻¹⁵, to any dual objective), 8 at a time: most blocks lie far above the minimum and take no exp.
        static func sumExp(_ c: UnsafePointer<Double>, _ p: UnsafePointer<Double>, n: Int, offset: Double, epsilon: Double) -> Double {
            typealias V = SIMD8<Double>
            let cut = 40 * epsilon, o = V(repeating: offset)
            var total = 0.0, k = 0
            while k + 8 <= n {
                let r = UnsafeRawPointer(c + k).loadUnaligned(as: V.self) - UnsafeRawPointer(p + k).loadUnaligned(as: V.self) - o
                if any(r .< V(repeating: cut)) {
                    for lane in 0..<8 where r[lane] < cut { total += exp(-r[lane] / epsilon) }
                }
                k += 8
            }
            while k < n {
                let r = c[k] - p[k] - offset
                if r < cut { total += exp(-r / epsilon) }
                k += 1
            }
            return total
        }
    }
}

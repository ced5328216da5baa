import Foundation
import Numerics

/// Bayesian logistic regression on a data set: the posterior over weights w ∈ ℝ^d (d = features + 1 for the
/// intercept), as in the Beyond-ELBOs benchmark (Blessing et al. 2024: Credit, Cancer, Ionosphere, Sonar).
///
/// log R(w) = Σᵢ [yᵢ log σ(sᵢ) + (1 − yᵢ) log σ(−sᵢ)] + log prior(w), with sᵢ = xᵢᵀw, or sᵢ = −xᵢᵀw for the
/// benchmark's sign-flipped Credit and Cancer likelihoods (equivalent under w → −w). The prior is N(0, τ²I) with
/// its normalising constants, or flat (none), which leaves log Z finite only for non-separable data. Rows xᵢ are the
/// preprocessed features with a leading 1. Evaluation is in double precision: two GEMMs per batch (logits, then
/// the gradient Xᵀ·∂), since the log-likelihood sums hundreds of terms of order one.
public struct LogisticRegression: HessianVectorProducts {
    /// How raw feature columns are rescaled before the intercept is prepended.
    public enum Preprocessing: String, Sendable {
        /// Divide by the population standard deviation, no centring (the benchmark's Credit and Cancer).
        case scale
        /// Subtract the mean and divide by the population standard deviation; a constant column is only centred
        /// (the benchmark's Ionosphere and Sonar).
        case standardise
    }

    public let name: String
    public let dimension: Int
    public let defaultSigma2: Float
    /// Observations n.
    public let observations: Int
    /// Whether sᵢ = −xᵢᵀw (P(y = 1) = σ(−xᵀw)).
    public let flipped: Bool
    /// Prior standard deviation τ, or nil for a flat prior.
    public let priorStd: Double?
    /// The design matrix, n × d row-major, with the leading column of ones.
    public let design: [Double]
    /// Labels yᵢ ∈ {0, 1}.
    public let labels: [Double]

    /// The posterior for raw `features` (n rows of d − 1 values) and labels yᵢ ∈ {0, 1}.
    /// - Precondition: at least one row, every row of the same length, finite values, labels 0 or 1.
    public init(name: String, features: [[Double]], labels: [Double], preprocessing: Preprocessing, flipped: Bool,
                priorStd: Double?, defaultSigma2: Float = 1) {
        let n = features.count, p = features.first?.count ?? 0
        precondition(n > 0 && p > 0 && features.allSatisfy { $0.count == p } && labels.count == n,
                     "LogisticRegression: need n rows of equal length and n labels")
        precondition(labels.allSatisfy { $0 == 0 || $0 == 1 }, "LogisticRegression: labels must be 0 or 1")
        var design = [Double](repeating: 1, count: n * (p + 1))
        for j in 0..<p {
            let column = features.map { $0[j] }
            let mean = column.reduce(0, +) / Double(n)
            let std = (column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)).squareRoot()
            let centre = preprocessing == .standardise ? mean : 0
            let divisor = std > 0 ? std : 1
            for i in 0..<n { design[i * (p + 1) + 1 + j] = (column[i] - centre) / divisor }
        }
        self.name = name
        self.dimension = p + 1
        self.defaultSigma2 = defaultSigma2
        self.observations = n
        self.flipped = flipped
        self.priorStd = priorStd
        self.design = design
        self.labels = labels
    }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) throws {
        let d = dimension, n = observations, sign: Double = flipped ? -1 : 1
        let w = (0..<(count * d)).map { Double(x[$0]) }
        var logits = [Double](repeating: 0, count: count * n)  // count × n: row b holds s_i for every i
        w.withUnsafeBufferPointer { W in
            design.withUnsafeBufferPointer { X in
                logits.withUnsafeMutableBufferPointer { L in
                    BLAS.dgemm(transB: true, m: count, n: n, k: d, alpha: sign, a: W.baseAddress!, lda: d,
                               b: X.baseAddress!, ldb: d, c: L.baseAddress!, ldc: n)
                }
            }
        }
        for b in 0..<count {
            var total = 0.0
            for i in 0..<n {
                // One exponential serves both log σ(s) = −(max(−s, 0) + log1p(e)) and σ(s), e = exp(−|s|).
                let s = logits[b * n + i], y = labels[i], e = exp(-abs(s))
                let logSigmoid = -(max(-s, 0) + log1p(e))
                total += y * logSigmoid + (1 - y) * (logSigmoid - s)
                // ∂/∂s = y − σ(s); ∂/∂(xᵀw) carries the sign.
                logits[b * n + i] = sign * (y - (s >= 0 ? 1 / (1 + e) : e / (1 + e)))
            }
            logDensity[b] = total + logPrior(w, row: b)
        }
        guard let gradient else { return }
        var g = [Double](repeating: 0, count: count * d)
        logits.withUnsafeBufferPointer { D in
            design.withUnsafeBufferPointer { X in
                g.withUnsafeMutableBufferPointer { G in
                    BLAS.dgemm(m: count, n: d, k: n, a: D.baseAddress!, lda: n, b: X.baseAddress!, ldb: d,
                               c: G.baseAddress!, ldc: d)
                }
            }
        }
        let precision = priorStd.map { 1 / ($0 * $0) } ?? 0
        for k in 0..<(count * d) { gradient[k] = Float(g[k] - precision * w[k]) }
    }

    /// ∇²log R(w)·v = −Xᵀ·diag(σ(s)(1 − σ(s)))·X·v − v/τ² per row (the sign of s cancels): three GEMMs per batch.
    public func hessianVectorProducts(_ x: Matrix, _ v: Matrix) throws -> Matrix {
        precondition(x.rows == v.rows && x.cols == dimension && v.cols == dimension, "\(name): Hessian-vector shapes")
        let count = x.rows, d = dimension, n = observations
        let w = x.storage.map(Double.init), u = v.storage.map(Double.init)
        var logits = [Double](repeating: 0, count: count * n), projected = logits
        design.withUnsafeBufferPointer { X in
            w.withUnsafeBufferPointer { W in
                logits.withUnsafeMutableBufferPointer { L in
                    BLAS.dgemm(transB: true, m: count, n: n, k: d, a: W.baseAddress!, lda: d, b: X.baseAddress!, ldb: d, c: L.baseAddress!, ldc: n)
                }
            }
            u.withUnsafeBufferPointer { U in
                projected.withUnsafeMutableBufferPointer { P in
                    BLAS.dgemm(transB: true, m: count, n: n, k: d, a: U.baseAddress!, lda: d, b: X.baseAddress!, ldb: d, c: P.baseAddress!, ldc: n)
                }
            }
        }
        for k in 0..<(count * n) {
            let e = exp(-abs(logits[k]))
            projected[k] *= e / ((1 + e) * (1 + e))  // σ(s)(1 − σ(s)), symmetric in s
        }
        var out = [Double](repeating: 0, count: count * d)
        projected.withUnsafeBufferPointer { P in
            design.withUnsafeBufferPointer { X in
                out.withUnsafeMutableBufferPointer { G in
                    BLAS.dgemm(m: count, n: d, k: n, alpha: -1, a: P.baseAddress!, lda: n, b: X.baseAddress!, ldb: d, c: G.baseAddress!, ldc: d)
                }
            }
        }
        let precision = priorStd.map { 1 / ($0 * $0) } ?? 0
        return Matrix(rows: count, cols: d, storage: (0..<(count * d)).map { Float(out[$0] - precision * u[$0]) })
    }

    /// log N(w; 0, τ²I) of row `b`, or 0 under the flat prior.
    private func logPrior(_ w: [Double], row b: Int) -> Double {
        guard let tau = priorStd else { return 0 }
        var squared = 0.0
        for k in 0..<dimension { squared += w[b * dimension + k] * w[b * dimension + k] }
        return -0.5 * squared / (tau * tau) - Double(dimension) * (log(tau) + 0.5 * log(2 * Double.pi))
    }
}

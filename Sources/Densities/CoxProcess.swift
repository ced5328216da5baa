import Foundation
import Numerics

/// The log-Gaussian Cox process on a grid (Møller, Syversveen & Waagepetersen 1998), as used by AFT, CRAFT and
/// DDS on the Finnish pines data: latent intensities x ∈ ℝ^{M²} with the Gaussian prior N(μ1, K),
/// K_{uv} = σ²·exp(−‖u − v‖/(M·β)) over grid indices u, v, and the Poisson likelihood Π_c exp(x_c·y_c − a·e^{x_c})
/// of the point counts y_c per cell, a = 1/M² (the data are scaled to the unit square).
///
/// log R(x) = Σ_c (x_c·y_c − a·e^{x_c}) + log N(x; μ1, K); its normaliser log Z has no agreed value (512.6 and
/// 501.8 are both quoted). The prior precision K⁻¹ and log det K come from one Cholesky factorisation at
/// construction; a batch then costs one double-precision GEMM against K⁻¹ (float32 loses the quadratic form to
/// cancellation: K is ill-conditioned).
public struct LogGaussianCoxProcess: Target {
    public let name: String
    /// Grid side M (dimension M²).
    public let gridSize: Int
    public let defaultSigma2: Float
    public var dimension: Int { gridSize * gridSize }
    /// Points per cell, row-major over the grid.
    public let counts: [Double]
    /// Prior mean μ.
    public let mean: Double
    private let model: Model

    /// Immutable precision matrix shared by copies (1600² doubles for M = 40).
    private final class Model: Sendable {
        let precision: [Double]
        let logNormaliser: Double  // −½ log det(2πK)
        init(precision: [Double], logNormaliser: Double) {
            self.precision = precision
            self.logNormaliser = logNormaliser
        }
    }

    /// The process on an M×M grid for `points` in the window `xRange × yRange`, with prior variance σ², scale β
    /// and mean log(n) − σ²/2 (n the number of points), as in Møller et al. (1998).
    public init(name: String = "lgcp", points: [(Double, Double)], xRange: ClosedRange<Double>, yRange: ClosedRange<Double>,
                gridSize: Int = 40, priorVariance: Double = 1.91, beta: Double = 1.0 / 33, defaultSigma2: Float = 1) throws {
        let m = gridSize
        var counts = [Double](repeating: 0, count: m * m)
        for (x, y) in points {
            let i = min(m - 1, max(0, Int((x - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * Double(m))))
            let j = min(m - 1, max(0, Int((y - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound) * Double(m))))
            counts[i * m + j] += 1
        }
        let d = m * m
        var kernel = [Double](repeating: 0, count: d * d)
        for u in 0..<d {
            for v in 0..<d {
                let di = Double(u / m - v / m), dj = Double(u % m - v % m)
                kernel[u * d + v] = priorVariance * exp(-(di * di + dj * dj).squareRoot() / (Double(m) * beta))
            }
        }
        let (precision, logDet) = try SymmetricPositiveDefinite.inverseAndLogDeterminant(kernel, n: d)
        self.name = name
        self.gridSize = m
        self.counts = counts
        self.mean = log(Double(points.count)) - priorVariance / 2
        self.defaultSigma2 = defaultSigma2
        model = Model(precision: precision, logNormaliser: -0.5 * (logDet + Double(d) * log(2 * Double.pi)))
    }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) throws {
        let d = dimension, a = 1 / Double(d)
        var centred = [Double](repeating: 0, count: count * d)
        for k in 0..<(count * d) { centred[k] = Double(x[k]) - mean }
        var q = [Double](repeating: 0, count: count * d)  // (x − μ)·K⁻¹
        centred.withUnsafeBufferPointer { r in
            model.precision.withUnsafeBufferPointer { p in
                q.withUnsafeMutableBufferPointer { out in
                    BLAS.dgemm(m: count, n: d, k: d, a: r.baseAddress!, lda: d, b: p.baseAddress!, ldb: d,
                               c: out.baseAddress!, ldc: d)
                }
            }
        }
        for row in 0..<count {
            var value = model.logNormaliser
            for c in 0..<d {
                let k = row * d + c
                let xc = Double(x[k]), rate = a * exp(xc)
                value += xc * counts[c] - rate - 0.5 * centred[k] * q[k]
                gradient?[k] = Float(counts[c] - rate - q[k])
            }
            logDensity[row] = value
        }
    }
}

import Foundation
import Numerics

/// m symmetric double wells and d − m standard Gaussian coordinates:
/// log R(x) = −Σ_{i<m} (x_i² − δ)² − ½ Σ_{i≥m} x_i², the "many well" of Underdamped Diffusion Bridges (d = 50,
/// m = 5, δ = 2) and of SCLD (MW54: d = m = 5, δ = 4). Not the 32-D FAB `manywell`, whose wells are asymmetric.
///
/// log Z = m·log I(δ) + (d − m)·½ log 2π with I(δ) = ∫ exp(−(x² − δ)²) dx by composite Simpson quadrature in
/// double precision; exact samples draw each well coordinate by rejection from a two-Gaussian envelope.
public struct QuarticWells: Target {
    public let name: String
    public let dimension: Int
    public let defaultSigma2: Float
    /// Number of double-well coordinates m (the first m) and the wells' offset δ (minima at ±√δ).
    public let wells: Int
    public let delta: Double
    public let logZ: Double?
    /// Envelope constant of the rejection sampler: max over x of exp(−(x²−δ)²)/q(x).
    private let envelope: Double

    /// - Precondition: 1 ≤ m ≤ d, δ > 0.
    public init(name: String, dimension: Int, wells: Int, delta: Double, defaultSigma2: Float = 1) {
        precondition(wells >= 1 && wells <= dimension && delta > 0, "QuarticWells: need 1 ≤ m ≤ d and δ > 0")
        self.name = name
        self.dimension = dimension
        self.wells = wells
        self.delta = delta
        self.defaultSigma2 = defaultSigma2
        let integral = Self.integral(delta)
        logZ = Double(wells) * log(integral) + Double(dimension - wells) * 0.5 * log(2 * Double.pi)
        // The envelope's ratio is largest near the wells; a fine grid plus 1 % margin bounds it (tails decay as e^{−x⁴}).
        let reach = delta.squareRoot() + 4
        envelope = 1.01 * stride(from: -reach, through: reach, by: reach / 20_000).map { x in
            exp(-(x * x - delta) * (x * x - delta)) / Self.proposal(x, delta)
        }.max()!
    }

    /// ∫ exp(−(x² − δ)²) dx over [−(√δ + 8), √δ + 8] by composite Simpson with 200 000 intervals.
    static func integral(_ delta: Double) -> Double {
        let reach = delta.squareRoot() + 8, n = 200_000, h = 2 * reach / Double(n)
        var sum = 0.0
        for k in 0...n {
            let x = -reach + Double(k) * h, f = exp(-(x * x - delta) * (x * x - delta))
            sum += f * (k == 0 || k == n ? 1 : (k % 2 == 1 ? 4 : 2))
        }
        return sum * h / 3
    }

    /// Width of the envelope's Gaussians: the wells' curvature, −d²/dx² log R = 8δ at ±√δ, bounded below by ½.
    static func proposalStd(_ delta: Double) -> Double { max(0.5, 1 / (8 * delta).squareRoot()) * 1.5 }

    /// The envelope density: ½N(√δ, s²) + ½N(−√δ, s²).
    static func proposal(_ x: Double, _ delta: Double) -> Double {
        let s = proposalStd(delta), m = delta.squareRoot()
        let a = (x - m) / s, b = (x + m) / s
        return 0.5 * (exp(-0.5 * a * a) + exp(-0.5 * b * b)) / (s * (2 * Double.pi).squareRoot())
    }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) throws {
        let d = dimension
        for row in 0..<count {
            var total = 0.0
            for j in 0..<d {
                let v = Double(x[row * d + j])
                if j < wells {
                    let w = v * v - delta
                    total -= w * w
                    gradient?[row * d + j] = Float(-4 * v * w)
                } else {
                    total -= 0.5 * v * v
                    gradient?[row * d + j] = Float(-v)
                }
            }
            logDensity[row] = total
        }
    }

    public func exactSamples(count: Int, rng: inout Xoshiro256) -> Matrix? {
        var out = rng.gaussianMatrix(rows: count, cols: dimension)
        let s = Self.proposalStd(delta), m = delta.squareRoot()
        for r in 0..<count {
            for j in 0..<wells {
                while true {
                    let x = (rng.next() & 1 == 0 ? m : -m) + s * Double(rng.nextGaussian())
                    let ratio = exp(-(x * x - delta) * (x * x - delta)) / (envelope * Self.proposal(x, delta))
                    if Double(rng.nextUniform()) < ratio { out[r, j] = Float(x); break }
                }
            }
        }
        return out
    }
}

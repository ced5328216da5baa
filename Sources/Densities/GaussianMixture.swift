import Foundation
import Numerics

/// A mixture of isotropic Gaussians N(μ_k, s²I), equal-weight unless weights are given; log Z = 0.
public struct GaussianMixture: Target {
    public let name: String
    public let dimension: Int
    public let defaultSigma2: Float
    /// Component means, `components × dimension`.
    public let means: [[Float]]
    /// Per-coordinate standard deviation s.
    public let componentStd: Float
    /// Component weights (summing to 1).
    public let weights: [Double]
    /// `means` row-major in one buffer, for the evaluation loop.
    let flatMeans: [Float]
    public var logZ: Double? { 0 }
    public var modeCentres: [[Float]]? { means }
    public var modeWeights: [Double]? { weights }

    /// A mixture with the given means, common standard deviation, default SDE noise and (relative) weights.
    public init(name: String, means: [[Float]], componentStd: Float, defaultSigma2: Float, weights: [Double]? = nil) {
        precondition(!means.isEmpty && means.allSatisfy { $0.count == means[0].count }, "GaussianMixture: ragged means")
        precondition(weights.map { $0.count == means.count && $0.allSatisfy { $0 > 0 } } ?? true,
                     "GaussianMixture: one positive weight per component")
        let w = weights ?? [Double](repeating: 1, count: means.count)
        self.weights = w.map { $0 / w.reduce(0, +) }
        self.name = name
        self.means = means
        flatMeans = means.flatMap { $0 }
        self.dimension = means[0].count
        self.componentStd = componentStd
        self.defaultSigma2 = defaultSigma2
    }

    /// The mixture with one component at each point of `grid`², covariance `variance`·I (gmm9, gmm25).
    /// Components are ordered (a, b) with b varying fastest, which is the order of `weights`.
    public static func grid(name: String, coordinates grid: [Float], variance: Float, sigma2: Float,
                            weights: [Double]? = nil) -> GaussianMixture {
        let means = grid.flatMap { a in grid.map { b in [a, b] } }
        return GaussianMixture(name: name, means: means, componentStd: variance.squareRoot(), defaultSigma2: sigma2, weights: weights)
    }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) {
        let d = dimension, k = means.count
        let invVar = 1 / (Double(componentStd) * Double(componentStd))
        let logNorm = -0.5 * Double(d) * log(2 * Double.pi / invVar)
        let logWeights = weights.map { log($0) }
        var logitStorage = [Double](repeating: 0, count: k)
        flatMeans.withUnsafeBufferPointer { meansBuffer in
            logWeights.withUnsafeBufferPointer { logWeight in
                logitStorage.withUnsafeMutableBufferPointer { logits in
                    let mu = meansBuffer.baseAddress!
                    for r in 0..<count {
                        let xr = x + r * d
                        var top = -Double.infinity
                        for j in 0..<k {
                            var s = 0.0
                            for c in 0..<d { let diff = Double(xr[c] - mu[j * d + c]); s += diff * diff }
                            logits[j] = logWeight[j] - 0.5 * s * invVar
                            top = max(top, logits[j])
                        }
                        var total = 0.0
                        for j in 0..<k {
                            // exp underflows to exactly 0 below −745.2; taking that 0 directly skips glibc's slow
                            // underflow path (errno), which took a fifth of an iDEM epoch on gmm40, without changing a bit.
                            let shifted = logits[j] - top
                            logits[j] = shifted < -746 ? 0 : exp(shifted)
                            total += logits[j]
                        }
                        logDensity[r] = top + log(total) + logNorm
                        guard let gradient else { continue }
                        for c in 0..<d {
                            var g = 0.0
                            for j in 0..<k { g += logits[j] * Double(mu[j * d + c] - xr[c]) }
                            gradient[r * d + c] = Float(g / total * invVar)
                        }
                    }
                }
            }
        }
    }

    var equalWeights: Bool { weights.allSatisfy { $0 == weights[0] } }

    public func exactSamples(count: Int, rng: inout Xoshiro256) -> Matrix? {
        var out = rng.gaussianMatrix(rows: count, cols: dimension)
        for r in 0..<count {
            var j = 0
            if equalWeights {  // the equal-weight draw that the recorded results used
                j = Int(rng.next() % UInt64(means.count))
            } else {
                let u = Double(rng.nextUniform())
                var cumulative = weights[0]
                while u >= cumulative && j < means.count - 1 { j += 1; cumulative += weights[j] }
            }
            for c in 0..<dimension { out[r, c] = means[j][c] + componentStd * out[r, c] }
        }
        return out
    }
}

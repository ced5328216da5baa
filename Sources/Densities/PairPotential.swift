import _Differentiation

/// A particle system defined by two differentiable scalar functions, with gradients from Swift's automatic
/// differentiation — the way to plug in a new pairwise energy without deriving its forces by hand:
///
///     E(x) = Σ_{i<j} φ(‖x_i − x_j‖²) + Σ_i ψ(‖x_i − x̄‖²)
///
/// φ is the pair term (of the squared distance, so no square root is needed), ψ an optional per-site term
/// of the squared distance to the centre of mass (a tether or confining well). log R = −E.
public struct PairPotential: Target {
    public let name: String
    /// Particle count and spatial dimension of a configuration.
    public let particles: ParticleStructure
    public let defaultSigma2: Float
    public var dimension: Int { particles.count * particles.spatialDimension }
    public var particleStructure: ParticleStructure? { particles }
    private let pair: @differentiable(reverse) @Sendable (Double) -> Double
    private let site: (@differentiable(reverse) @Sendable (Double) -> Double)?

    /// A system of `particles` with pair term `pair` and optional per-site term `site`.
    public init(name: String, particles: ParticleStructure, defaultSigma2: Float = 1,
                pair: @escaping @differentiable(reverse) @Sendable (Double) -> Double,
                site: (@differentiable(reverse) @Sendable (Double) -> Double)? = nil) {
        self.name = name
        self.particles = particles
        self.defaultSigma2 = defaultSigma2
        self.pair = pair
        self.site = site
    }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) throws {
        let n = particles.count, dd = particles.spatialDimension, d = dimension
        var g = [Double](repeating: 0, count: d)
        for r in 0..<count {
            let xr = x + r * d
            for k in 0..<d { g[k] = 0 }
            var energy = 0.0
            forEachPair(n) { i, j in
                var s = 0.0
                for k in 0..<dd { let diff = Double(xr[i * dd + k] - xr[j * dd + k]); s += diff * diff }
                let (value, slope) = valueWithGradient(at: s, of: pair)
                energy += value
                for k in 0..<dd {  // ∂s/∂x_i = 2(x_i − x_j)
                    let f = 2 * slope * Double(xr[i * dd + k] - xr[j * dd + k])
                    g[i * dd + k] += f
                    g[j * dd + k] -= f
                }
            }
            if let site {
                var centre = [Double](repeating: 0, count: dd)
                for i in 0..<n { for k in 0..<dd { centre[k] += Double(xr[i * dd + k]) / Double(n) } }
                var meanForce = [Double](repeating: 0, count: dd)
                for i in 0..<n {
                    var c = 0.0
                    for k in 0..<dd { let o = Double(xr[i * dd + k]) - centre[k]; c += o * o }
                    let (value, slope) = valueWithGradient(at: c, of: site)
                    energy += value
                    for k in 0..<dd {
                        let f = 2 * slope * (Double(xr[i * dd + k]) - centre[k])
                        g[i * dd + k] += f
                        meanForce[k] += f / Double(n)
                    }
                }
                // x̄ depends on every particle: subtract the mean of the site forces.
                for i in 0..<n { for k in 0..<dd { g[i * dd + k] -= meanForce[k] } }
            }
            logDensity[r] = -energy
            if let gradient { for k in 0..<d { gradient[r * d + k] = Float(-g[k]) } }
        }
    }
}

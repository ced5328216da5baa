import Numerics

/// A target seen in coordinates y = x / scale: log R_y(y) = log R(scale·y) (up to the constant log-Jacobian,
/// which is dropped, so log Z is not carried over), ∇_y = scale·∇_x. iDEM trains on gmm40 this way (scale 50).
public struct ScaledTarget: Target {
    /// The target in its own coordinates.
    public let base: any Target
    /// x = scale·y.
    public let scale: Float

    /// `base` seen through y = x / `scale`.
    public init(_ base: any Target, scale: Float) {
        precondition(scale > 0, "ScaledTarget: scale must be positive")
        self.base = base
        self.scale = scale
    }

    /// Rows of these coordinates in the base target's: x = scale·y.
    public func toBase(_ y: Matrix) -> Matrix {
        var x = y
        for k in x.storage.indices { x.storage[k] *= scale }
        return x
    }

    /// Rows of the base target's coordinates in these: y = x / scale.
    public func fromBase(_ x: Matrix) -> Matrix {
        var y = x
        for k in y.storage.indices { y.storage[k] /= scale }
        return y
    }

    public var name: String { base.name }
    public var dimension: Int { base.dimension }
    public var defaultSigma2: Float { base.defaultSigma2 / (scale * scale) }
    public var particleStructure: ParticleStructure? { base.particleStructure }
    public var modeCentres: [[Float]]? { base.modeCentres.map { $0.map { $0.map { $0 / scale } } } }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) throws {
        let n = count * dimension
        let scaled = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { scaled.deallocate() }
        for k in 0..<n { scaled[k] = scale * x[k] }
        try base.evaluate(scaled, count: count, logDensity: logDensity, gradient: gradient)
        if let gradient { for k in 0..<n { gradient[k] *= scale } }
    }

    public func exactSamples(count: Int, rng: inout Xoshiro256) -> Matrix? {
        base.exactSamples(count: count, rng: &rng).map(fromBase)
    }
}

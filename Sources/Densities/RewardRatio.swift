import Numerics

/// A reward given as a ratio of two densities, log r = log A − log B (gradients likewise). With a prior p ≈ B,
/// the RTB posterior p·r is ≈ A: the toy of Venkatraman et al. (2024) uses A = a weighted 9-mode mixture and
/// B = gmm25.
public struct RewardRatio: Target {
    public let name: String
    /// The numerator A.
    public let numerator: any Target
    /// The denominator B.
    public let denominator: any Target

    /// log r = log `numerator` − log `denominator`; both must have the same dimension.
    public init(name: String, numerator: any Target, denominator: any Target) {
        precondition(numerator.dimension == denominator.dimension, "RewardRatio: dimensions differ")
        self.name = name
        self.numerator = numerator
        self.denominator = denominator
    }

    public var dimension: Int { numerator.dimension }
    public var defaultSigma2: Float { numerator.defaultSigma2 }
    public var modeCentres: [[Float]]? { numerator.modeCentres }
    public var providesGradient: Bool { numerator.providesGradient && denominator.providesGradient }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) throws {
        try numerator.evaluate(x, count: count, logDensity: logDensity, gradient: gradient)
        var below = [Double](repeating: 0, count: count)
        var belowGradient = gradient == nil ? [] : [Float](repeating: 0, count: count * dimension)
        try belowGradient.withUnsafeMutableBufferPointer { g in
            try denominator.evaluate(x, count: count, logDensity: &below, gradient: gradient == nil ? nil : g.baseAddress)
        }
        for r in 0..<count { logDensity[r] -= below[r] }
        if let gradient { for k in 0..<(count * dimension) { gradient[k] -= belowGradient[k] } }
    }
}

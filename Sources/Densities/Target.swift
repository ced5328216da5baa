import Numerics

/// An unnormalised density p(x) ∝ R(x) = exp(−E(x)) on ℝ^d, evaluated in batches.
///
/// Conform your own type to plug a custom energy into training and evaluation. Only `name`, `dimension`
/// and `evaluate` are required; the rest have neutral defaults.
public protocol Target: Sendable {
    /// Canonical name (`dsampler train target=NAME`).
    var name: String { get }
    /// Dimension d of the state space.
    var dimension: Int { get }
    /// Default SDE noise variance σ² for samplers of this target.
    var defaultSigma2: Float { get }
    /// log Z = log ∫ R(x) dx when known exactly.
    var logZ: Double? { get }
    /// Means of the mixture components, when the target is a mixture (for mode coverage).
    var modeCentres: [[Float]]? { get }
    /// The weights of those modes (summing to 1), when known.
    var modeWeights: [Double]? { get }
    /// How coordinates group into particles, for particle systems (nil otherwise).
    var particleStructure: ParticleStructure? { get }
    /// Whether `evaluate` gives ∇log R (every built-in target does; a value-only Python function does not).
    var providesGradient: Bool { get }

    /// Writes log R(x) for each of the `count` rows of `x` (row-major, `count × dimension`) into `logDensity`
    /// and, when `gradient` is non-nil, ∇ₓ log R(x) into it (same layout as `x`). Built-in targets never
    /// throw; targets backed by external code (plug-ins) throw when that code reports a failure.
    ///
    /// log R is in double precision: it enters log weights, losses and estimators, where only differences
    /// matter, and an energy with a large constant part (a likelihood over many data points, kJ/mol) would lose
    /// those differences to float32 rounding (a constant 10⁸ leaves float32 a resolution of 8).
    func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                  gradient: UnsafeMutablePointer<Float>?) throws

    /// `count` exact, independent samples, or nil when the target has no exact sampler.
    func exactSamples(count: Int, rng: inout Xoshiro256) -> Matrix?
}

extension Target {
    public var defaultSigma2: Float { 1 }
    public var logZ: Double? { nil }
    public var modeCentres: [[Float]]? { nil }
    public var modeWeights: [Double]? { nil }
    public var particleStructure: ParticleStructure? { nil }
    public var providesGradient: Bool { true }
    public func exactSamples(count: Int, rng: inout Xoshiro256) -> Matrix? { nil }

    /// Whether `exactSamples` returns samples.
    public var hasExactSampler: Bool {
        var rng = Xoshiro256(seed: 0)
        return exactSamples(count: 0, rng: &rng) != nil
    }

    /// log R for every row of `x`.
    public func logDensity(_ x: Matrix) throws -> [Double] {
        precondition(x.cols == dimension, "\(name): points have \(x.cols) coordinates, target has \(dimension)")
        var out = [Double](repeating: 0, count: x.rows)
        try x.storage.withUnsafeBufferPointer { xp in
            try out.withUnsafeMutableBufferPointer { try evaluate(xp.baseAddress!, count: x.rows, logDensity: $0.baseAddress!, gradient: nil) }
        }
        return out
    }

    /// log R and ∇ log R for every row of `x`.
    public func logDensityAndGradient(_ x: Matrix) throws -> (logDensity: [Double], gradient: Matrix) {
        precondition(x.cols == dimension, "\(name): points have \(x.cols) coordinates, target has \(dimension)")
        var out = [Double](repeating: 0, count: x.rows)
        var grad = Matrix(rows: x.rows, cols: x.cols)
        try x.storage.withUnsafeBufferPointer { xp in
            try out.withUnsafeMutableBufferPointer { o in
                try grad.storage.withUnsafeMutableBufferPointer { g in
                    try evaluate(xp.baseAddress!, count: x.rows, logDensity: o.baseAddress!, gradient: g.baseAddress!)
                }
            }
        }
        return (out, grad)
    }
}

/// A target that also gives Hessian-vector products ∇²log R(x)·v exactly; samplers that differentiate through the
/// target's score (the annealed Langevin KL, `AnnealedLangevin`) use it instead of differences of the gradient.
public protocol HessianVectorProducts: Target {
    /// ∇²log R(x_r)·v_r for every row r of `x` and `v` (both count × dimension).
    func hessianVectorProducts(_ x: Matrix, _ v: Matrix) throws -> Matrix
}

/// A target's density or gradient was NaN or infinite; training stops on it rather than corrupting the model.
public struct NonFiniteDensityError: Error, CustomStringConvertible {
    /// Target name.
    public let target: String
    /// Where it happened, e.g. "iteration 120".
    public let context: String
    /// A row whose value was not finite.
    public let row: Int

    /// An error for `target` at `context` (e.g. "iteration 120"), first seen in `row`.
    public init(target: String, context: String, row: Int) {
        self.target = target
        self.context = context
        self.row = row
    }

    public var description: String {
        "target \(target) returned a non-finite log-density or gradient at \(context) (row \(row)); "
            + "check the energy for overflow at large |x|, or lower the learning rate / enable gradient clipping"
    }
}

/// A target's own code reported an error (for example a plug-in returning a non-zero status).
public struct TargetFailure: Error, CustomStringConvertible {
    /// Target name.
    public let target: String
    /// Where it happened, e.g. "iteration 120".
    public let context: String
    /// What the target reported.
    public let underlying: any Error

    /// A failure of `target` at `context`.
    public init(target: String, context: String, underlying: any Error) {
        self.target = target
        self.context = context
        self.underlying = underlying
    }

    public var description: String { "target \(target) failed at \(context): \(underlying)" }
}

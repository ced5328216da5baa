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

    /// Writes log R(x) for each of the `count` rows of `x` (row-major, `count × dimension`) into `logDensity`
    /// and, when `gradient` is non-nil, ∇ₓ log R(x) into it (same layout as `x`).
    func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Float>,
                  gradient: UnsafeMutablePointer<Float>?)

    /// `count` exact, independent samples, or nil when the target has no exact sampler.
    func exactSamples(count: Int, rng: inout Xoshiro256) -> Matrix?
}

extension Target {
    public var defaultSigma2: Float { 1 }
    public var logZ: Double? { nil }
    public var modeCentres: [[Float]]? { nil }
    public func exactSamples(count: Int, rng: inout Xoshiro256) -> Matrix? { nil }

    /// Whether `exactSamples` returns samples.
    public var hasExactSampler: Bool {
        var rng = Xoshiro256(seed: 0)
        return exactSamples(count: 0, rng: &rng) != nil
    }

    /// log R for every row of `x`.
    public func logDensity(_ x: Matrix) -> [Float] {
        precondition(x.cols == dimension, "\(name): points have \(x.cols) coordinates, target has \(dimension)")
        var out = [Float](repeating: 0, count: x.rows)
        x.storage.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { evaluate(xp.baseAddress!, count: x.rows, logDensity: $0.baseAddress!, gradient: nil) }
        }
        return out
    }

    /// log R and ∇ log R for every row of `x`.
    public func logDensityAndGradient(_ x: Matrix) -> (logDensity: [Float], gradient: Matrix) {
        precondition(x.cols == dimension, "\(name): points have \(x.cols) coordinates, target has \(dimension)")
        var out = [Float](repeating: 0, count: x.rows)
        var grad = Matrix(rows: x.rows, cols: x.cols)
        x.storage.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { o in
                grad.storage.withUnsafeMutableBufferPointer { g in
                    evaluate(xp.baseAddress!, count: x.rows, logDensity: o.baseAddress!, gradient: g.baseAddress!)
                }
            }
        }
        return (out, grad)
    }
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

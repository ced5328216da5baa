import Foundation
import Numerics
import Densities

/// Steepest descent of a target's energy from each configuration to the local minimum below it (its "inherent
/// structure").
///
/// A sample's energy splits into its minimum's energy and the vibrational rest. A sampler whose quenched energies
/// match the reference's finds the right basins; if its energies are still too high, the excess is vibrational: the
/// samples sit in the right structures but too far from their minima (a blurred score near t = 0, for iDEM).
public struct Quench: Sendable {
    /// Descent steps (energy evaluations).
    public var steps = 5000
    /// Initial step size η of x ← x − η·∇E. Each row adapts its own: ×1.2 after a step that lowered the energy;
    /// a step that raised it is undone and η halved. So the descent is monotone, whatever the stiffness.
    public var stepSize: Float = 1e-4
    /// Largest move per step of any configuration (Euclidean, all coordinates): keeps the first steps out of a
    /// near-collision, where the force is huge, from throwing particles apart.
    public var maxMove: Float = 0.1

    /// Descent with the default schedule.
    public init() {}

    /// The quenched configurations, their energies, and each row's remaining gradient norm ‖∇E‖.
    public struct Result: Sendable {
        /// The configurations after `steps` steps.
        public var configurations: Matrix
        /// E = −log R at the quenched configurations.
        public var energies: [Double]
        /// ‖∇E‖ at the quenched configurations: how far from a minimum the descent stopped.
        public var gradientNorms: [Double]
    }

    /// Quenches every row of `x` under `target`.
    public func run(_ target: any Target, from x: Matrix) throws -> Result {
        var (logR, gradient) = try target.logDensityAndGradient(x)  // ∇ log R = −∇E
        var accepted = x, x = x
        var rates = [Float](repeating: stepSize, count: x.rows)
        func move() throws {
            for r in 0..<x.rows {
                var norm: Float = 0
                for c in 0..<x.cols { norm += gradient[r, c] * gradient[r, c] }
                norm = norm.squareRoot()
                guard norm.isFinite, logR[r].isFinite else { throw NonFiniteDensityError(target: target.name, context: "quench", row: r) }
                let scale = min(rates[r], maxMove / max(norm, .leastNormalMagnitude))
                for c in 0..<x.cols { x[r, c] = accepted[r, c] + scale * gradient[r, c] }
            }
        }
        try move()
        for _ in 0..<steps {
            let (trialLogR, trialGradient) = try target.logDensityAndGradient(x)
            for r in 0..<x.rows {
                if trialLogR[r] >= logR[r] {
                    rates[r] *= 1.2
                    logR[r] = trialLogR[r]
                    for c in 0..<x.cols { accepted[r, c] = x[r, c]; gradient[r, c] = trialGradient[r, c] }
                } else {
                    rates[r] *= 0.5
                }
            }
            try move()
        }
        let norms = (0..<x.rows).map { r in (0..<x.cols).reduce(0.0) { $0 + Double(gradient[r, $1] * gradient[r, $1]) }.squareRoot() }
        return Result(configurations: accepted, energies: logR.map { -$0 }, gradientNorms: norms)
    }
}

import Foundation
import Numerics

/// The state of a population of Markov chains: positions with their cached log-density and gradient, so that a
/// kernel evaluates the target once per proposal.
public struct ChainState: Sendable {
    /// One chain per row.
    public var positions: Matrix
    /// log R at each position (double, as `Target` gives it).
    public var logDensity: [Double]
    /// ∇ log R at each position.
    public var gradient: Matrix

    /// Evaluates `target` at `positions` (projected to the centre-of-mass-free subspace for particle systems).
    public init(target: any Target, positions: Matrix) throws {
        var x = positions
        if let particles = target.particleStructure { removeCentreOfMass(&x.storage, particles: particles) }
        let (logR, grad) = try target.logDensityAndGradient(x)
        self.positions = x
        logDensity = logR
        gradient = grad
    }
}

/// What one kernel application did.
public struct MALAInfo: Sendable {
    /// Whether each chain accepted its proposal.
    public var accepted: [Bool]
    /// Fraction of chains that accepted.
    public var acceptanceRate: Double { Double(accepted.filter { $0 }.count) / Double(max(accepted.count, 1)) }
}

/// Metropolis-adjusted Langevin algorithm: proposal y = x + h·∇log R(x) + √(2h)·ξ, accepted with the
/// Metropolis–Hastings ratio. Particle systems move in the centre-of-mass-free subspace (noise projected;
/// the gradient of a translation-invariant energy already lies in it).
public enum MALA {
    /// One step of every chain with its own step size `stepSizes[c]`; `rng` drives all chains in order.
    public static func step(_ state: ChainState, target: any Target, stepSizes: [Float],
                            rng: inout Xoshiro256) throws -> (ChainState, MALAInfo) {
        let n = state.positions.rows, d = state.positions.cols
        precondition(stepSizes.count == n, "MALA.step: one step size per chain")
        var noise = rng.gaussianMatrix(rows: n, cols: d)
        if let particles = target.particleStructure { removeCentreOfMass(&noise.storage, particles: particles) }
        var proposal = state.positions
        for c in 0..<n {
            let h = stepSizes[c], s = (2 * h).squareRoot()
            for k in 0..<d { proposal[c, k] += h * state.gradient[c, k] + s * noise[c, k] }
        }
        let (logR, grad) = try target.logDensityAndGradient(proposal)
        var next = state
        var accepted = [Bool](repeating: false, count: n)
        for c in 0..<n where logR[c].isFinite {
            let h = stepSizes[c]
            var forward: Float = 0, backward: Float = 0  // ‖y − x − h∇(x)‖², ‖x − y − h∇(y)‖²
            for k in 0..<d {
                let f = proposal[c, k] - state.positions[c, k] - h * state.gradient[c, k]
                let b = state.positions[c, k] - proposal[c, k] - h * grad[c, k]
                forward += f * f
                backward += b * b
            }
            let logRatio = (logR[c] - state.logDensity[c]) + Double(forward - backward) / Double(4 * h)
            if log(Double(rng.nextUniform())) < logRatio {
                accepted[c] = true
                next.logDensity[c] = logR[c]
                for k in 0..<d { next.positions[c, k] = proposal[c, k]; next.gradient[c, k] = grad[c, k] }
            }
        }
        return (next, MALAInfo(accepted: accepted))
    }

    /// `sweeps` steps of every chain from `start`: the first half adapts per-chain step sizes (from
    /// `initialStepSize`) toward acceptance 0.574, the second half keeps them. Returns the final state and the
    /// acceptance rate of the second half.
    public static func run(from start: ChainState, target: any Target, sweeps: Int, initialStepSize: Float,
                           rng: inout Xoshiro256) throws -> (state: ChainState, acceptance: Double) {
        var state = start
        var h = [Float](repeating: initialStepSize, count: start.positions.rows)
        var accepted = 0, proposed = 0
        for sweep in 0..<sweeps {
            let (next, info) = try step(state, target: target, stepSizes: h, rng: &rng)
            state = next
            if sweep < sweeps / 2 {
                h = StepSizeAdaptation().adapt(h, accepted: info.accepted)
            } else {
                accepted += info.accepted.filter { $0 }.count
                proposed += h.count
            }
        }
        return (state, Double(accepted) / Double(max(proposed, 1)))
    }
}

/// Per-chain step-size adaptation toward a target acceptance rate (Robbins–Monro on log h).
public struct StepSizeAdaptation: Sendable {
    /// Acceptance rate aimed at (0.574 is optimal for MALA in high dimension).
    public var targetAcceptance: Double = 0.574
    /// Gain of the log-step update.
    public var rate: Double = 0.05

    /// An adapter with the given target acceptance.
    public init(targetAcceptance: Double = 0.574) { self.targetAcceptance = targetAcceptance }

    /// Step sizes after observing which chains accepted.
    public func adapt(_ stepSizes: [Float], accepted: [Bool]) -> [Float] {
        zip(stepSizes, accepted).map { h, a in Float(Double(h) * exp(rate * ((a ? 1 : 0) - targetAcceptance))) }
    }
}

/// Subtracts each configuration's mean particle position (rows of `x` are configurations).
public func removeCentreOfMass(_ x: inout [Float], particles: ParticleStructure) {
    let n = particles.count, dd = particles.spatialDimension, d = n * dd
    for start in stride(from: 0, to: x.count, by: d) {
        for k in 0..<dd {
            var mean: Float = 0
            for i in 0..<n { mean += x[start + i * dd + k] }
            mean /= Float(n)
            for i in 0..<n { x[start + i * dd + k] -= mean }
        }
    }
}

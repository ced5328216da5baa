import Foundation
import Numerics

/// The state of a population of Markov chains: positions with their cached log-density and gradient, so that a
/// kernel evaluates the target once per new point.
public struct ChainState: Sendable {
    /// One chain per row, shape [chains, d].
    public var positions: Matrix
    /// log R at each position (double, as `Target` gives it), [chains].
    public var logDensity: [Double]
    /// ∇ log R at each position, [chains, d].
    public var gradient: Matrix

    /// Evaluates `target` at `positions` (projected to the centre-of-mass-free subspace for particle systems).
    /// - Throws: what the target throws.
    public init(target: any Target, positions: Matrix) throws {
        var x = positions
        if let particles = target.particleStructure { removeCentreOfMass(&x.storage, particles: particles) }
        let (logR, grad) = try target.logDensityAndGradient(x)
        self.positions = x
        logDensity = logR
        gradient = grad
    }

    /// Chains at `positions` whose log-density and gradient under the target are already known.
    public init(positions: Matrix, logDensity: [Double], gradient: Matrix) {
        precondition(logDensity.count == positions.rows && gradient.rows == positions.rows && gradient.cols == positions.cols,
                     "ChainState: one log-density and one gradient row per position")
        (self.positions, self.logDensity, self.gradient) = (positions, logDensity, gradient)
    }

    /// Moves chain `c` to row `c` of `proposal` with its log-density and gradient (an accepted proposal).
    mutating func accept(_ c: Int, from proposal: Matrix, logDensity logR: [Double], gradient grad: Matrix) {
        let d = positions.cols
        logDensity[c] = logR[c]
        for k in 0..<d { positions[c, k] = proposal[c, k]; gradient[c, k] = grad[c, k] }
    }
}

/// What one kernel step did.
public struct KernelInfo: Sendable {
    /// Whether each chain accepted its proposal.
    public var accepted: [Bool]
    /// Fraction of chains that accepted.
    public var acceptanceRate: Double { Double(accepted.filter { $0 }.count) / Double(max(accepted.count, 1)) }
}

/// A Metropolis–Hastings transition kernel on a population of chains: a pure step (state, rng) → (state, info)
/// in the style of blackjax. Each chain has its own step size, so that a driver can adapt them one by one.
public protocol MCMCKernel: Sendable {
    /// Name as written in settings (`ls_kernel=`).
    var name: String { get }
    /// The acceptance rate step sizes are adapted toward.
    var targetAcceptance: Double { get }
    /// Points at which ∇log R is evaluated per chain and step.
    var gradientEvaluationsPerStep: Int { get }
    /// One step of every chain with its own step size `stepSizes[c]`; `rng` drives all chains in order.
    /// - Throws: what the target throws.
    func step(_ state: ChainState, target: any Target, stepSizes: [Float], rng: inout Xoshiro256) throws -> (ChainState, KernelInfo)
}

/// Gaussian noise of the shape of `state`'s positions, in the centre-of-mass-free subspace for particle systems.
func kernelNoise(like state: ChainState, target: any Target, rng: inout Xoshiro256) -> Matrix {
    var noise = rng.gaussianMatrix(rows: state.positions.rows, cols: state.positions.cols)
    if let particles = target.particleStructure { removeCentreOfMass(&noise.storage, particles: particles) }
    return noise
}

/// Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996): proposal y = x + h·∇log R(x) + √(2h)·ξ,
/// accepted with the Metropolis–Hastings ratio of the two Gaussian proposal densities. Particle systems move in
/// the centre-of-mass-free subspace (noise projected; the gradient of a translation-invariant energy already lies
/// in it). One gradient evaluation per step; adapted toward acceptance 0.574 (Roberts & Rosenthal 1998).
public struct MALA: MCMCKernel {
    public let name = "mala"
    public let targetAcceptance = 0.574
    public let gradientEvaluationsPerStep = 1

    /// The MALA kernel.
    public init() {}

    public func step(_ state: ChainState, target: any Target, stepSizes: [Float],
                     rng: inout Xoshiro256) throws -> (ChainState, KernelInfo) {
        let n = state.positions.rows, d = state.positions.cols
        precondition(stepSizes.count == n, "MALA.step: one step size per chain")
        let noise = kernelNoise(like: state, target: target, rng: &rng)
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
                next.accept(c, from: proposal, logDensity: logR, gradient: grad)
            }
        }
        return (next, KernelInfo(accepted: accepted))
    }
}

/// Per-chain step-size adaptation toward a target acceptance rate (Robbins–Monro on log h).
public struct StepSizeAdaptation: Sendable {
    /// Acceptance rate aimed at (the kernel's).
    public var targetAcceptance: Double = 0.574
    /// Gain of the log-step update.
    public var rate: Double = 0.05

    /// An adapter with the given target acceptance.
    public init(targetAcceptance: Double = 0.574) { self.targetAcceptance = targetAcceptance }

    /// Step sizes after observing which chains accepted: h ← h·exp(rate·(1[accepted] − target)).
    public func adapt(_ stepSizes: [Float], accepted: [Bool]) -> [Float] {
        zip(stepSizes, accepted).map { h, a in Float(Double(h) * exp(rate * ((a ? 1 : 0) - targetAcceptance))) }
    }
}

/// Subtracts each configuration's mean particle position (rows of `x` are configurations).
public func removeCentreOfMass(_ x: inout [Float], particles: ParticleStructure) {
    let d = particles.count * particles.spatialDimension
    precondition(d > 0 && x.count % d == 0, "removeCentreOfMass: \(x.count) values are not whole configurations of \(d)")
    if x.isEmpty { return }
    x.withUnsafeMutableBufferPointer { removeCentreOfMass($0.baseAddress!, rows: $0.count / d, particles: particles) }
}

/// Subtracts each configuration's mean particle position from the `rows` configurations at `x` (row-major, N·D
/// values each): per coordinate, the mean of the N particles summed in particle order, then subtracted.
///
/// Up to four coordinates share the lanes of one vector: each lane adds its coordinate's particles in the same
/// order as a scalar loop (the same bits), while the coordinates' chains of dependent additions overlap (iDEM
/// centres K noise draws per point, 3 % of an epoch with one chain at a time).
public func removeCentreOfMass(_ x: UnsafeMutablePointer<Float>, rows: Int, particles: ParticleStructure) {
    let n = particles.count, dd = particles.spatialDimension
    for row in (0..<rows).lazy.map({ x + $0 * n * dd }) {
        for first in stride(from: 0, to: dd, by: 4) {
            let lanes = min(4, dd - first), column = row + first
            var sum = SIMD4<Float>.zero
            for i in 0..<n {
                var v = SIMD4<Float>.zero
                for k in 0..<lanes { v[k] = column[i * dd + k] }
                sum += v
            }
            let mean = sum / Float(n)
            for i in 0..<n { for k in 0..<lanes { column[i * dd + k] -= mean[k] } }
        }
    }
}

import Foundation
import Numerics

/// Hamiltonian Monte Carlo (Duane et al. 1987; Neal 2011, "MCMC using Hamiltonian dynamics", eq. 5.18–5.20):
/// a fresh momentum p ~ N(0, I), `leapfrogSteps` leapfrog steps of size ε (the chain's step size) on
/// H(x, p) = −log R(x) + ½‖p‖², and a Metropolis–Hastings test of exp(H(x, p) − H(x', p')). Particle systems move
/// in the centre-of-mass-free subspace (momentum projected). `leapfrogSteps` gradient evaluations per step;
/// adapted toward acceptance 0.65 (Beskos et al. 2013).
public struct HMC: MCMCKernel {
    public let name = "hmc"
    public let targetAcceptance = 0.65
    /// Leapfrog steps L per proposal.
    public let leapfrogSteps: Int
    public var gradientEvaluationsPerStep: Int { leapfrogSteps }

    /// HMC with `leapfrogSteps` ≥ 1 leapfrog steps per proposal.
    public init(leapfrogSteps: Int) {
        precondition(leapfrogSteps >= 1, "HMC: at least one leapfrog step")
        self.leapfrogSteps = leapfrogSteps
    }

    public func step(_ state: ChainState, target: any Target, stepSizes: [Float],
                     rng: inout Xoshiro256) throws -> (ChainState, KernelInfo) {
        let n = state.positions.rows, d = state.positions.cols
        precondition(stepSizes.count == n, "HMC.step: one step size per chain")
        let momentum = kernelNoise(like: state, target: target, rng: &rng)
        var p = momentum, x = state.positions, grad = state.gradient
        var logR = state.logDensity
        for l in 0..<leapfrogSteps {
            for c in 0..<n {
                let e = stepSizes[c], half: Float = l == 0 ? 0.5 : 1  // half a kick first, whole kicks between drifts
                for k in 0..<d {
                    p[c, k] += half * e * grad[c, k]
                    x[c, k] += e * p[c, k]
                }
            }
            (logR, grad) = try target.logDensityAndGradient(x)
        }
        var next = state
        var accepted = [Bool](repeating: false, count: n)
        for c in 0..<n where logR[c].isFinite {
            let e = stepSizes[c]
            var before: Double = 0, after: Double = 0  // ½‖p‖² at the start and after the final half kick
            for k in 0..<d {
                p[c, k] += 0.5 * e * grad[c, k]
                before += Double(momentum[c, k] * momentum[c, k])
                after += Double(p[c, k] * p[c, k])
            }
            // A non-finite gradient or momentum makes the ratio NaN or −∞: the comparison below rejects it.
            let logRatio = (logR[c] - state.logDensity[c]) - 0.5 * (after - before)
            if log(Double(rng.nextUniform())) < logRatio {
                accepted[c] = true
                next.accept(c, from: x, logDensity: logR, gradient: grad)
            }
        }
        return (next, KernelInfo(accepted: accepted))
    }
}

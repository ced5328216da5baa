import Foundation

/// A noise schedule β(t) on generative time t ∈ [0, 1] (t = 0 at the prior, t = 1 at the target), largest at the prior
/// end as in the Beyond-ELBOs code (Blessing et al. 2024, BENCHMARK-TASKS.md §2.2). The benchmark's linear and constant
/// variants are not offered (no method here uses them); a new schedule is a new case.
public enum NoiseSchedule: Sendable, Equatable {
    /// ½(max − min)·cos²(½π((1 + s) − τ)/(1 + s)) + ½min at τ = 1 − t, s = 0.008 (Nichol & Dhariwal 2021's offset):
    /// from max/2 at the prior to about min/2 at the target.
    case cosine(minimum: Float, maximum: Float)

    /// β(t).
    public func value(at t: Float) -> Float {
        switch self {
        case let .cosine(minimum, maximum):
            let s = 0.008, tau = 1 - Double(t)
            let c = cos(0.5 * Double.pi * ((1 + s) - tau) / (1 + s))
            return Float(0.5 * Double(maximum - minimum) * c * c + 0.5 * Double(minimum))
        }
    }
}

/// The variance-preserving (Ornstein–Uhlenbeck) reference of DIS (Berner, Richter & Ullrich 2024): the noising SDE
/// dY = −β Y dτ + σ dW with σ = √(2β)·s keeps N(0, s²·I) stationary; x₀ ~ N(0, s²·I). Both kernels are
/// Euler–Maruyama steps at the step's start time t_i, β = β(t_i): forward N((1 − βΔt)·x + Δt·σ·u, σ²Δt), backward
/// N((1 − βΔt)·x_{i+1}, σ²Δt). The network's output u is the control relative to the reference's own drift −βx, so
/// that u = 0 is the stationary process itself (the sampler starts as N(0, s²I), as PIS starts as Brownian motion).
/// DIS writes the time-reversed drift as βx + σ·u′ with u′ ≈ σ·∇log p_t; that is the same family (u′ = u − 2βx/σ),
/// but at u′ = 0 it expands states by Π(1 + βΔt) ≈ e^{∫β} and overflows on heavy-tailed targets before training starts.
/// The discrete ELBO differs from the benchmark code's Girsanov form (running cost (−dβ + ½‖u′‖²)Δt) only by
/// discretisation; both bound log Z.
public struct VariancePreservingReference: ReferenceProcess, Equatable {
    /// Standard deviation s of the stationary law (the benchmark's `init_std`).
    public var scale: Float
    /// β(t).
    public var schedule: NoiseSchedule

    /// The reference with stationary N(0, `scale`²) and schedule `schedule`.
    public init(scale: Float, schedule: NoiseSchedule) {
        precondition(scale > 0 && scale.isFinite, "VariancePreservingReference: scale must be positive")
        (self.scale, self.schedule) = (scale, schedule)
    }

    public var initialVariance: Float { scale * scale }
    public var acceptsAnyGrid: Bool { true }
    public var description: String { "vp(scale=\(scale), schedule=\(schedule))" }

    public func step(_ i: Int, grid: TimeGrid) -> GaussianStep {
        let dt = grid.delta(i), beta = schedule.value(at: grid.times[i])
        let sigma = (2 * beta).squareRoot() * scale, variance = sigma * sigma * dt
        return GaussianStep(decay: 1 - beta * dt, driftScale: dt * sigma, forwardVariance: variance,
                            driftPrecision: 1 / sigma, backwardRatio: 1 - beta * dt, backwardVariance: variance)
    }
}

/// The variance-preserving reference of DDS (Vargas, Grathwohl & Doucet 2023) integrated exactly (exponential
/// integrator): with α = √(1 − β_i²), forward N(α·x + β_i²·u, β_i²s²) and backward N(α·x_{i+1}, β_i²s²), the
/// stationary AR(1) chain of N(0, s²·I), which is reversible, so log p₀(x₀) + Σ log p_B equals the reference path's
/// log-density and the ELBO equals the benchmark's running-cost form ½β²‖u‖²/s² exactly.
///
/// β_i² is increment i of clip(noiseScale · cumsum(p)/Σp, 0, 0.999999) with p_j = cos⁴(½π(j/(N−1) + 0.008)/1.008),
/// j = 0 … N−1, the largest at the prior end (Beyond-ELBOs configuration, noise scale 6). With noise scale > 1 the
/// cumulative sum saturates early and the remaining steps have β = 0: they are identity steps (Dirac kernels) that
/// contribute nothing to the weights, so only the first ≈ N/(2.7·noiseScale) steps move the state.
public struct ExponentialVPReference: ReferenceProcess, Equatable {
    /// Standard deviation s of the stationary law (the benchmark's `init_std`).
    public var scale: Float
    /// Multiplier of the cumulative noise profile (the benchmark's `noise_scale`).
    public var noiseScale: Float

    /// The reference with stationary N(0, `scale`²) and noise scale `noiseScale`.
    public init(scale: Float, noiseScale: Float) {
        precondition(scale > 0 && scale.isFinite && noiseScale > 0 && noiseScale.isFinite,
                     "ExponentialVPReference: scale and noise scale must be positive")
        (self.scale, self.noiseScale) = (scale, noiseScale)
    }

    public var initialVariance: Float { scale * scale }
    /// The schedule is tabulated per step index of a uniform grid.
    public var acceptsAnyGrid: Bool { false }
    public var description: String { "vp-exponential(scale=\(scale), noise_scale=\(noiseScale))" }

    /// β_i² for the N steps, computed in double precision.
    public func betaSquared(steps n: Int) -> [Double] {
        let s = 0.008
        let profile = (0..<n).map { j -> Double in
            let phase = n == 1 ? 0 : Double(j) / Double(n - 1)
            let c = cos(0.5 * Double.pi * (phase + s) / (1 + s))
            return c * c * c * c
        }
        let total = profile.reduce(0, +)
        var cumulative = 0.0, previous = 0.0
        return profile.map { p in
            cumulative += p / total
            let clipped = min(max(Double(noiseScale) * cumulative, 0), 0.999999)
            defer { previous = clipped }
            return clipped - previous
        }
    }

    public func step(_ i: Int, grid: TimeGrid) -> GaussianStep {
        let b2 = betaSquared(steps: grid.steps)[i]
        guard b2 > 0 else {
            return GaussianStep(decay: 1, driftScale: 0, forwardVariance: 0, driftPrecision: 0, backwardRatio: 1, backwardVariance: 0)
        }
        let beta = min(b2.squareRoot(), 1), alpha = Float((1 - beta * beta).squareRoot())
        let variance = Float(beta * beta) * scale * scale
        return GaussianStep(decay: alpha, driftScale: Float(beta * beta), forwardVariance: variance,
                            driftPrecision: 1 / (scale * scale), backwardRatio: alpha, backwardVariance: variance)
    }
}

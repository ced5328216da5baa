import Foundation

/// The two Gaussian kernels of one step i of a discretised diffusion, t_i → t_{i+1}:
///
/// - forward (generative) p_F(x_{i+1} | x_i) = N(decay·x_i + driftScale·μθ(x_i, t_i), forwardVariance·I),
/// - backward (noising)   p_B(x_i | x_{i+1}) = N(backwardRatio·x_{i+1}, backwardVariance·I).
///
/// A variance of 0 makes that kernel a Dirac measure that contributes nothing to log p (the Brownian bridge's last
/// step to x₀ = 0; a noiseless step of a saturated schedule, which then must be the identity both ways).
public struct GaussianStep: Sendable, Equatable {
    /// Factor of x_i in the forward mean (1 for Euler–Maruyama on a driftless reference).
    public var decay: Float
    /// Factor of the network's output in the forward mean (Δt for Euler–Maruyama).
    public var driftScale: Float
    /// Variance of the forward kernel per coordinate.
    public var forwardVariance: Float
    /// driftScale / forwardVariance, ∂log p_F/∂μ per unit residual; given in closed form by each reference so that
    /// the same quantity rounds the same way on every path (1/σ² for Brownian motion).
    public var driftPrecision: Float
    /// Factor of x_{i+1} in the backward mean.
    public var backwardRatio: Float
    /// Variance of the backward kernel per coordinate.
    public var backwardVariance: Float

    /// A step with the given coefficients; variances must be finite and non-negative.
    public init(decay: Float, driftScale: Float, forwardVariance: Float, driftPrecision: Float, backwardRatio: Float,
                backwardVariance: Float) {
        precondition(forwardVariance >= 0 && backwardVariance >= 0, "GaussianStep: variances must be non-negative")
        (self.decay, self.driftScale, self.forwardVariance) = (decay, driftScale, forwardVariance)
        (self.driftPrecision, self.backwardRatio, self.backwardVariance) = (driftPrecision, backwardRatio, backwardVariance)
    }
}

/// A reference diffusion: the law of x₀, and for each step of a time grid the kernels a policy's drift modifies
/// (forward) and the fixed kernels that score paths backwards. Every path-space objective sees only the log p_F,
/// log p_B and log R these produce, so a reference is a value a method picks (as diffrax's terms are), not a code path.
///
/// The log importance weight of a path is log w = log R(x_T) + Σ log p_B − log p₀(x₀) − Σ log p_F; its mean is the
/// ELBO for any pair of kernels. `PathSampler` adds log p₀(x₀) to the first step's log p_F.
public protocol ReferenceProcess: Sendable, CustomStringConvertible {
    /// Variance s² of the initial law N(0, s²·I) per coordinate; 0 for the Dirac measure at the origin.
    var initialVariance: Float { get }
    /// The kernels of step i of `grid`.
    func step(_ i: Int, grid: TimeGrid) -> GaussianStep
    /// Whether `step` is defined on any grid (false for schedules tabulated per step index of a uniform grid).
    var acceptsAnyGrid: Bool { get }
}

/// Brownian motion dx = σ dW from x₀ = 0 (PIS, TB and the GFlowNet family; Zhang & Chen 2022, Sendera et al. 2024):
/// Euler–Maruyama forward kernel N(x + Δt·μ, σ²Δt) and the exact Brownian-bridge backward kernel
/// N(x_{i+1}·t_i/t_{i+1}, σ²Δt·t_i/t_{i+1}), which is a Dirac at 0 on the first step.
public struct BrownianReference: ReferenceProcess, Equatable {
    /// Noise variance σ² per unit time.
    public var sigma2: Float

    /// Brownian motion with noise variance `sigma2` > 0.
    public init(sigma2: Float) {
        precondition(sigma2 > 0 && sigma2.isFinite, "BrownianReference: σ² must be positive and finite")
        self.sigma2 = sigma2
    }

    public var initialVariance: Float { 0 }
    public var acceptsAnyGrid: Bool { true }
    public var description: String { "brownian(sigma2=\(sigma2))" }

    public func step(_ i: Int, grid: TimeGrid) -> GaussianStep {
        let dt = grid.delta(i), ratio = grid.times[i] / grid.times[i + 1]
        return GaussianStep(decay: 1, driftScale: dt, forwardVariance: sigma2 * dt, driftPrecision: 1 / sigma2,
                            backwardRatio: ratio, backwardVariance: sigma2 * dt * ratio)
    }
}

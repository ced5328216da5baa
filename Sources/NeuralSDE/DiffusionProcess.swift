import Foundation

/// The reference SDE dx = μ dt + σ dW on a time grid, with its Euler–Maruyama forward kernel and the fixed
/// Brownian-bridge backward kernel p_B(x_i | x_{i+1}) = N(x_{i+1}·t_i/t_{i+1}, σ²·Δt_i·t_i/t_{i+1}).
public struct DiffusionProcess: Sendable, Equatable {
    /// Noise variance σ².
    public var sigma2: Float
    /// The time grid.
    public var grid: TimeGrid

    /// A process with noise variance `sigma2` on `grid`.
    public init(sigma2: Float, grid: TimeGrid) {
        precondition(sigma2 > 0, "DiffusionProcess: σ² must be positive")
        self.sigma2 = sigma2
        self.grid = grid
    }

    /// Variance of the forward step i → i+1 under the policy, σ²·Δt_i.
    @inlinable public func forwardVariance(_ i: Int) -> Float { sigma2 * grid.delta(i) }

    /// Mean factor t_i/t_{i+1} and variance of the bridge step i+1 → i (variance 0 for i = 0).
    @inlinable public func bridge(_ i: Int) -> (ratio: Float, variance: Float) {
        let ratio = grid.times[i] / grid.times[i + 1]
        return (ratio, sigma2 * grid.delta(i) * ratio)
    }

    /// log N(x; m, v·I) given the squared distance ‖x − m‖² in d dimensions.
    @inlinable public static func gaussianLogDensity(squaredDistance: Float, variance: Float, dimension: Int) -> Float {
        -0.5 * Float(dimension) * logf(2 * Float.pi * variance) - 0.5 * squaredDistance / variance
    }
}

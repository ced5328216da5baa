import Foundation

/// A reference process on a time grid: the law of x₀ and the Gaussian kernels of every step (`GaussianStep`).
public struct DiffusionProcess: Sendable {
    /// The reference diffusion (Brownian motion, variance-preserving, …).
    public var reference: any ReferenceProcess
    /// The time grid. A reference that is not `acceptsAnyGrid` needs a uniform grid (the trainer checks).
    public var grid: TimeGrid

    /// `reference` on `grid`.
    public init(reference: any ReferenceProcess, grid: TimeGrid) {
        (self.reference, self.grid) = (reference, grid)
    }

    /// Brownian motion with noise variance `sigma2` on `grid`.
    public init(sigma2: Float, grid: TimeGrid) {
        self.init(reference: BrownianReference(sigma2: sigma2), grid: grid)
    }

    /// The same reference on another grid.
    public func with(grid: TimeGrid) -> DiffusionProcess { DiffusionProcess(reference: reference, grid: grid) }

    /// The kernels of every step of the grid, in step order.
    public func kernels() -> [GaussianStep] { (0..<grid.steps).map { reference.step($0, grid: grid) } }

    /// Variance s² of the initial law per coordinate (0: x₀ = 0).
    public var initialVariance: Float { reference.initialVariance }

    /// log N(x; m, v·I) given the squared distance ‖x − m‖² in d dimensions.
    @inlinable public static func gaussianLogDensity(squaredDistance: Float, variance: Float, dimension: Int) -> Float {
        gaussianLogDensity(squaredDistance: squaredDistance, variance: variance,
                           logNormaliser: gaussianLogNormaliser(variance: variance, dimension: dimension))
    }

    /// −(d/2)·log(2πv), the part of log N(x; m, v·I) that does not depend on x: computed once for the rows of a step.
    @inlinable public static func gaussianLogNormaliser(variance: Float, dimension: Int) -> Float {
        -0.5 * Float(dimension) * logf(2 * Float.pi * variance)
    }

    /// log N(x; m, v·I) given ‖x − m‖² and `gaussianLogNormaliser(variance: v, dimension: d)`.
    @inlinable public static func gaussianLogDensity(squaredDistance: Float, variance: Float, logNormaliser: Float) -> Float {
        logNormaliser - 0.5 * squaredDistance / variance
    }
}

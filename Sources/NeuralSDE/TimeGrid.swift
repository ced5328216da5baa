import Foundation
import Numerics

/// The discretisation 0 = t₀ < t₁ < … < t_T = 1 of the unit time interval.
public struct TimeGrid: Sendable, Equatable {
    /// The T + 1 grid points, increasing from 0 to 1.
    public let times: [Float]

    /// A grid through the given points; they must increase strictly from 0 to 1.
    public init(times: [Float]) {
        precondition(times.count >= 2 && times.first == 0 && times.last == 1, "TimeGrid must run from 0 to 1")
        precondition(zip(times, times.dropFirst()).allSatisfy { $0 < $1 }, "TimeGrid points must increase")
        self.times = times
    }

    /// T equal steps of length 1/T.
    public static func uniform(steps: Int) -> TimeGrid {
        precondition(steps >= 1, "TimeGrid needs at least one step")
        return TimeGrid(times: (0...steps).map { Float($0) / Float(steps) })
    }

    /// T steps with uniformly random interior points (sorted), i.e. Dirichlet(1, …, 1) step lengths; training on
    /// fresh random grids keeps a sampler usable on any grid (Berner et al. 2025).
    public static func random(steps: Int, rng: inout Xoshiro256) -> TimeGrid {
        precondition(steps >= 1, "TimeGrid needs at least one step")
        while true {  // redraw in the (float-rounding) case of two equal points
            let lengths = (0..<steps).map { _ in -Foundation.log(Double(rng.nextUniform())) }
            let total = lengths.reduce(0, +)
            var t = 0.0
            let interior = lengths.dropLast().map { t += $0 / total; return Float(t) }
            let times = [0] + interior + [1]
            if zip(times, times.dropFirst()).allSatisfy({ $0 < $1 }) { return TimeGrid(times: times) }
        }
    }

    /// The uniform grid with every interior point moved back by the same random fraction u ∈ [0, 1) of a step:
    /// t_i = (i − u)/T for 0 < i < T (equidistant-shifted).
    public static func shifted(steps: Int, rng: inout Xoshiro256) -> TimeGrid {
        precondition(steps >= 1, "TimeGrid needs at least one step")
        let u = min(rng.nextUniform(), 0.999)
        return TimeGrid(times: [0] + (1..<steps).map { (Float($0) - u) / Float(steps) } + [1])
    }

    /// Number of steps T.
    public var steps: Int { times.count - 1 }

    /// Length of step i, t_{i+1} − t_i.
    @inlinable public func delta(_ i: Int) -> Float { times[i + 1] - times[i] }
}

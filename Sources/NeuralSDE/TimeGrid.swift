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

    /// Number of steps T.
    public var steps: Int { times.count - 1 }

    /// Length of step i, t_{i+1} − t_i.
    @inlinable public func delta(_ i: Int) -> Float { times[i + 1] - times[i] }
}

import Numerics

/// Terminal states with their log-rewards, kept by reward and replayed with rank-based priorities
/// (Sendera et al. 2024): the state of rank r (0 = highest reward) among N is drawn with probability
/// ∝ 1/(k·N + r), so a small k concentrates on the best states without ignoring the rest.
public struct ReplayBuffer: Sendable, Equatable {
    /// Maximum number of states; when full, the lowest-reward states are dropped.
    public let capacity: Int
    /// State dimension.
    public let dimension: Int
    /// The rank weight k.
    public let rankWeight: Double
    /// Stored states, row-major, sorted by decreasing log-reward.
    public private(set) var states: [Float] = []
    /// Stored log-rewards, decreasing.
    public private(set) var logRewards: [Float] = []

    /// An empty buffer.
    public init(capacity: Int, dimension: Int, rankWeight: Double = 0.01) {
        precondition(capacity > 0 && dimension > 0, "ReplayBuffer: capacity and dimension must be positive")
        self.capacity = capacity
        self.dimension = dimension
        self.rankWeight = rankWeight
    }

    /// Number of stored states.
    public var count: Int { logRewards.count }

    /// Adds the rows of `x` with their log-rewards (non-finite rewards are skipped), keeping the best `capacity`.
    /// The new rows are sorted and merged into the sorted store: O(N·d + B log B) per call.
    public mutating func add(_ x: Matrix, logRewards rewards: [Float]) {
        precondition(x.cols == dimension && x.rows == rewards.count, "ReplayBuffer.add: shape mismatch")
        let incoming = (0..<x.rows).filter { rewards[$0].isFinite }.sorted { rewards[$0] > rewards[$1] }
        var mergedStates: [Float] = [], mergedRewards: [Float] = []
        mergedStates.reserveCapacity(min(capacity, count + incoming.count) * dimension)
        var i = 0, j = 0
        while mergedRewards.count < capacity && (i < count || j < incoming.count) {
            if j == incoming.count || (i < count && logRewards[i] >= rewards[incoming[j]]) {
                mergedRewards.append(logRewards[i])
                mergedStates += states[(i * dimension)..<((i + 1) * dimension)]
                i += 1
            } else {
                let r = incoming[j]
                mergedRewards.append(rewards[r])
                mergedStates += x.storage[(r * dimension)..<((r + 1) * dimension)]
                j += 1
            }
        }
        states = mergedStates
        logRewards = mergedRewards
    }

    /// `n` states drawn with replacement by rank priority.
    public func sample(_ n: Int, rng: inout Xoshiro256) -> Matrix {
        precondition(count > 0, "ReplayBuffer.sample: the buffer is empty")
        let base = rankWeight * Double(count)
        var cumulative = [Double](repeating: 0, count: count)
        var total = 0.0
        for r in 0..<count { total += 1 / (base + Double(r)); cumulative[r] = total }
        var out = Matrix(rows: n, cols: dimension)
        for i in 0..<n {
            let u = Double(rng.nextUniform()) * total
            var lo = 0, hi = count - 1
            while lo < hi { let mid = (lo + hi) / 2; if cumulative[mid] < u { lo = mid + 1 } else { hi = mid } }
            for c in 0..<dimension { out[i, c] = states[lo * dimension + c] }
        }
        return out
    }
}

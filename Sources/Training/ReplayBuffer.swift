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
    /// Stored log-rewards, decreasing.
    public private(set) var logRewards: [Double] = []
    /// Slot of the state of each rank; rows stay where they were written, so ranking moves indices, not rows.
    private var order: [Int] = []
    /// Row storage, one `dimension`-row per slot.
    private var slots: [Float] = []
    /// Slots whose states were evicted, to be reused before the storage grows.
    private var freeSlots: [Int] = []

    /// An empty buffer.
    public init(capacity: Int, dimension: Int, rankWeight: Double = 0.01) {
        precondition(capacity > 0 && dimension > 0, "ReplayBuffer: capacity and dimension must be positive")
        self.capacity = capacity
        self.dimension = dimension
        self.rankWeight = rankWeight
    }

    /// Number of stored states.
    public var count: Int { logRewards.count }

    /// The stored states in rank order (best first), row-major.
    public var states: [Float] { order.flatMap { slots[($0 * dimension)..<(($0 + 1) * dimension)] } }

    /// Adds the rows of `x` with their log-rewards (non-finite rewards are skipped), keeping the best `capacity`.
    /// The new rows are sorted and merged into the ranking, O(N + B·d + B log B) per call; evicted rows' slots
    /// are reused.
    public mutating func add(_ x: Matrix, logRewards rewards: [Double]) {
        precondition(x.cols == dimension && x.rows == rewards.count, "ReplayBuffer.add: shape mismatch")
        let incoming = (0..<x.rows).filter { rewards[$0].isFinite }.sorted { rewards[$0] > rewards[$1] }
        var mergedRewards: [Double] = [], mergedOrder: [Int] = [], newRows: [(rank: Int, row: Int)] = []
        mergedRewards.reserveCapacity(min(capacity, count + incoming.count))
        var i = 0, j = 0
        while mergedRewards.count < capacity && (i < count || j < incoming.count) {
            if j == incoming.count || (i < count && logRewards[i] >= rewards[incoming[j]]) {
                mergedRewards.append(logRewards[i])
                mergedOrder.append(order[i])
                i += 1
            } else {
                newRows.append((mergedRewards.count, incoming[j]))
                mergedRewards.append(rewards[incoming[j]])
                mergedOrder.append(-1)
                j += 1
            }
        }
        freeSlots += order[i...]  // slots of evicted states
        for (rank, row) in newRows {
            let slot: Int
            if let reused = freeSlots.popLast() { slot = reused } else {
                slot = slots.count / dimension
                slots += [Float](repeating: 0, count: dimension)
            }
            for c in 0..<dimension { slots[slot * dimension + c] = x.storage[row * dimension + c] }
            mergedOrder[rank] = slot
        }
        logRewards = mergedRewards
        order = mergedOrder
    }

    public static func == (a: ReplayBuffer, b: ReplayBuffer) -> Bool {
        a.capacity == b.capacity && a.dimension == b.dimension && a.rankWeight == b.rankWeight
            && a.logRewards == b.logRewards && a.states == b.states
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
            let slot = order[lo]
            for c in 0..<dimension { out[i, c] = slots[slot * dimension + c] }
        }
        return out
    }
}

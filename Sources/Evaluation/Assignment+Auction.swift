extension LinearAssignment.State {
    /// ε-scaling forward auction on the reduced costs c_ij − v_j: a free row takes the column where its reduced
    /// cost is least and lowers that column's price until the column is ε worse for it than its second choice,
    /// freeing the column's previous row; each phase starts with every row free and ends when none is, leaving
    /// every row within ε of its best reduced cost (ε-complementary slackness). ε falls by `reduction` per phase
    /// from `spread`/16 to `spread`·10⁻⁷, but never below 10⁻¹² of the costs' `magnitude`: prices are of that
    /// magnitude, and a step below their rounding would not move them (costs of 10¹⁵ + small differences would bid
    /// forever). Every bid lowers its price by at least one unit in the last place, so each phase ends.
    mutating func auction(_ c: some AssignmentCosts, spread: Double, magnitude: Double, reduction: Double = 7) {
        let n = self.n, finalEpsilon = Swift.max(spread * 1e-7, magnitude * 1e-12)
        var epsilon = Swift.max(spread / 16, finalEpsilon)
        var free: [Int] = []
        while true {
            for i in 0..<n { rowColumn[i] = -1; columnRow[i] = -1 }
            free = Array((0..<n).reversed())
            while let i = free.popLast() {
                let (u1, j1, u2) = price.withUnsafeBufferPointer { c.twoSmallest(i, minus: $0.baseAddress!) }
                let lowered = price[j1] - ((u2.isFinite ? u2 - u1 : 0) + epsilon)
                price[j1] = lowered < price[j1] ? lowered : price[j1].nextDown
                let previous = columnRow[j1]
                if previous >= 0 {
                    rowColumn[previous] = -1
                    free.append(previous)
                }
                (rowColumn[i], columnRow[j1]) = (j1, i)
            }
            if epsilon <= finalEpsilon { break }
            epsilon = Swift.max(epsilon / reduction, finalEpsilon)
        }
    }

    /// Makes the auction's matching exact where it can: each row's column price is raised by the row's slack (how
    /// far its reduced cost there is above its minimum), then every row whose column is still not a minimum of its
    /// reduced costs — a near-tie another row's raise overtook, or a rounding — is freed. Returns the freed rows,
    /// for the shortest-path augmentation, whose invariant (every assigned row at its minimum) now holds.
    mutating func enforceSlackness(_ c: some AssignmentCosts) -> [Int] {
        let n = self.n
        for i in 0..<n {
            let row = c.row(i), j = rowColumn[i]
            let least = price.withUnsafeBufferPointer { LinearAssignment.Kernels.minimum(row, $0.baseAddress!, 0, n) }
            price[j] = row[j] - least
        }
        var free: [Int] = []
        for i in 0..<n {
            let row = c.row(i), j = rowColumn[i]
            let least = price.withUnsafeBufferPointer { LinearAssignment.Kernels.minimum(row, $0.baseAddress!, 0, n) }
            if row[j] - price[j] > least {
                (rowColumn[i], columnRow[j]) = (-1, -1)
                free.append(i)
            }
        }
        return free
    }
}

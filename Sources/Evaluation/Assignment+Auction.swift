extension LinearAssignment.State {
    /// ε-scaling forward auction on the reduced costs c_ij − v_j: a free row takes the column where its reduced
    /// cost is least and lowers that column's price until the column is ε worse for it than its second choice,
    /// freeing the column's previous row; each phase starts with every row free and ends when none is, leaving
    /// every row within ε of its best reduced cost (ε-complementary slackness). ε falls by `reduction` per phase
    /// from 0.3 of the scales' `typical` reduced cost (the fastest start on gmm25 samples, 1.2× faster than 1×) to
    /// their `finalEpsilon`. Every bid lowers its price by at least one unit in the last place, so each phase ends
    /// even where ε is below a price's rounding. A phase that takes more than 64n bids (about four times what one
    /// takes on gmm25 samples) multiplies its ε by 8 (up to the costs' `spread`), and again every 64n bids: a start from
    /// the bulk's scale is too small where many rows must move far (half the points at 10¹⁵, half at 10⁻³: ten
    /// rows too many for the near columns then raise their prices by ε for ever). The auction only warms the exact
    /// augmentation up, so ε may rise within a phase; the next phase goes on from the schedule. After the first phase, a
    /// phase that reaches 64n bids is abandoned instead: the previous phase's matching and prices go to the
    /// augmentation (a war there would only have pushed every price to the scale of the far costs).
    ///
    /// A bid lowers the price by the bidder's margin (second-best minus best reduced cost) plus ε, which leaves the
    /// bidder ε from indifferent. Where ε is below the rounding of the bidder's own reduced costs (a row far from
    /// every column but one, whose margin is of the far point's magnitude), indifference by ε would be a tie it
    /// cannot see, and it would wander over the bulk's columns with steps of its own magnitude (a point at 10¹⁵
    /// among normal ones then bid forever, or rounded the bulk's prices away): such a row lowers the price by half
    /// its margin, staying clearly at its best, or, with a margin within a few roundings, by the margin plus 2⁻⁴⁰
    /// of its reduced cost. Rows that would bid coarsely for the last phases (`AuctionScales.far`) do not bid at
    /// all: they stay free for the exact augmentation.
    mutating func auction(_ c: some AssignmentCosts, scales: AuctionScales, reduction: Double = 7) {
        let n = self.n, finalEpsilon = scales.finalEpsilon
        var scheduled = Swift.max(0.3 * scales.typical, finalEpsilon)
        var free: [Int] = []
        price.withUnsafeBufferPointer { c.pricesStart($0.baseAddress!) }
        // The complete matching and prices of the last phase, once one has ended.
        var finished: (price: [Double], rowColumn: [Int], columnRow: [Int])?
        // Rows whose last bid lowered their column's price by more than they asked: a step of the price's own
        // rounding, far above ε (a far point's column, whose costs round to steps of 10¹⁴). They keep their column into
        // the next phase: freed, one of them would have to win that column back against rows at ε from theirs, a
        // price war through every column; the exact augmentation gives it its place.
        var pinned = [Bool](repeating: false, count: n)
        while true {
            free = []
            for i in stride(from: n - 1, through: 0, by: -1) where !pinned[i] && !scales.far[i] {
                if rowColumn[i] >= 0 { columnRow[rowColumn[i]] = -1 }
                rowColumn[i] = -1
                free.append(i)
            }
            var (bids, epsilon) = (0, scheduled)
            while let i = free.popLast() {
                bids += 1
                if bids % (64 * n) == 0 {
                    if let finished {
                        c.pricesStop()  // before the prices rise back
                        (price, rowColumn, columnRow) = finished
                        return
                    }
                    epsilon = Swift.min(8 * epsilon, scales.spread)
                }
                let (u1, j1, u2) = price.withUnsafeBufferPointer { c.twoSmallest(i, minus: $0.baseAddress!) }
                let margin = u2.isFinite ? u2 - u1 : 0, resolution = abs(u2) * 0x1p-40
                let increment = epsilon >= resolution || !u2.isFinite ? margin + epsilon
                    : margin >= 4 * resolution ? margin / 2 : margin + resolution
                let lowered = price[j1] - increment
                pinned[i] = !(lowered < price[j1])
                price[j1] = lowered < price[j1] ? lowered : price[j1].nextDown
                c.priceFell(j1, to: price[j1])
                let previous = columnRow[j1]
                if previous >= 0 {
                    rowColumn[previous] = -1
                    pinned[previous] = false
                    free.append(previous)
                }
                (rowColumn[i], columnRow[j1]) = (j1, i)
            }
            if scheduled <= finalEpsilon { c.pricesStop(); break }
            finished = (price, rowColumn, columnRow)
            scheduled = Swift.max(scheduled / reduction, finalEpsilon)
        }
    }

    /// The scales of the auction's ε, from the reduced costs c_ij − v_j after column reduction.
    struct AuctionScales {
        /// The median over at most 64 evenly spaced rows of each row's median reduced cost: the scale of the bulk of
        /// the costs, where ε starts. A few far points cannot move it, where they set the largest cost: ε scaled by
        /// that would lower the prices of the bulk's columns by the far points' magnitude and round the bulk's
        /// differences away (one sample at 10⁸ among 500 standard normal ones made W₂ of a set with itself 0.37).
        var typical: Double
        /// Where ε stops: 10⁻⁷ of `typical`, but not below 10⁻¹² of the median price (costs of 10¹⁵ + small
        /// differences give prices of 10¹⁵, which steps below their rounding do not move). A row far from every
        /// column is left out instead (`far`): ε once stopped at 10⁻¹² of the largest row minimum for it, which left
        /// the bulk's matching to the augmentation (one gmm25 sample of 2000 at 10⁷: 3.7 s against 0.15).
        var finalEpsilon: Double
        /// The largest cost minus the smallest: where ε stops rising.
        var spread: Double
        /// Rows whose least reduced cost is so large that its rounding (2⁻⁴⁰ of it, where a bid turns coarse) exceeds
        /// 100 `finalEpsilon`: rows far from every column (diverged model samples), which would bid coarsely through
        /// at least the last two phases. Left out of the auction, they go to the exact augmentation. Bidding, one at
        /// 10⁸, freed at a phase's start, left its old column priced out of every other row's reach and a price war
        /// followed (2000 gmm25 samples: 64n bids, then 1949 rows to the augmentation, 3 s); 200
        /// such rows at 10⁷ among 2000 gmm25 samples fought over the columns at their edge with steps of 10⁵–10⁷
        /// against the bulk's ε of 60, the first phase needed 6·10⁵ bids, and 1857 rows went to the augmentation
        /// (2.1 s, against 0.44 s now; at 10⁶, 2.5 against 0.43 s). Rows at 10⁴ stay in (their rounding is coarse only
        /// in the last phase, and leaving them out took 0.35 s against 0.14).
        var far: [Bool]
    }

    /// `AuctionScales` for these costs and prices; `spread`, the largest cost minus the smallest, stands in for a
    /// typical reduced cost of zero (most costs tied at their column's minimum).
    func auctionScales(_ c: some AssignmentCosts, spread: Double) -> AuctionScales {
        let n = self.n, step = Swift.max(1, n / 64)
        var medians: [Double] = [], reduced = [Double](repeating: 0, count: n), least = reduced
        price.withUnsafeBufferPointer { v in
            for i in 0..<n {
                let row = c.row(i)
                least[i] = LinearAssignment.Kernels.minimum(row, v.baseAddress!, 0, n)
                if i % step == 0 {
                    for j in 0..<n { reduced[j] = row[j] - v[j] }
                    medians.append(Self.median(&reduced))
                }
            }
        }
        var magnitudes = price.map { abs($0) }
        let median = Self.median(&medians), typical = median > 0 ? median : spread / 16
        let finalEpsilon = Swift.max(typical * 1e-7, Self.median(&magnitudes) * 1e-12)
        return AuctionScales(typical: typical, finalEpsilon: finalEpsilon, spread: spread,
                             far: least.map { abs($0) * 0x1p-40 > 100 * finalEpsilon })
    }

    /// The upper median of `values` (reordered).
    static func median(_ values: inout [Double]) -> Double {
        values.sort()
        return values[values.count / 2]
    }

    /// Makes the auction's matching exact where it can: each row's column price is raised by the row's slack (how
    /// far its reduced cost there is above its minimum), then every row whose column is still not a minimum of its
    /// reduced costs — a near-tie another row's raise overtook, or a rounding — is freed. Returns the freed rows, with
    /// the far rows the auction left free, for the shortest-path augmentation, whose invariant (every assigned row at
    /// its minimum) now holds.
    ///
    /// A slack above `raiseAtMost` (the auction's `typical` reduced cost) is not raised: its row is freed at once. A
    /// raise lowers the column's reduced cost for every row, and one that large — a pinned row on a far point's
    /// column, whose price moved by a step of its costs' rounding — would free every row with a smaller margin (with
    /// one point at 10¹⁵ among 1000 standard normal ones, 938 rows instead of 271, and 3× the time).
    mutating func enforceSlackness(_ c: some AssignmentCosts, raiseAtMost: Double) -> [Int] {
        let n = self.n
        var free: [Int] = []
        for i in 0..<n {
            let row = c.row(i), j = rowColumn[i]
            if j < 0 { free.append(i); continue }  // a far row (`AuctionScales.far`)
            let least = price.withUnsafeBufferPointer { LinearAssignment.Kernels.minimum(row, $0.baseAddress!, 0, n) }
            if row[j] - price[j] - least > raiseAtMost {
                (rowColumn[i], columnRow[j]) = (-1, -1)
                free.append(i)
            } else {
                price[j] = row[j] - least
            }
        }
        for i in 0..<n {
            let j = rowColumn[i]
            if j < 0 { continue }
            let row = c.row(i)
            let least = price.withUnsafeBufferPointer { LinearAssignment.Kernels.minimum(row, $0.baseAddress!, 0, n) }
            if row[j] - price[j] > least {
                (rowColumn[i], columnRow[j]) = (-1, -1)
                free.append(i)
            }
        }
        return free
    }
}

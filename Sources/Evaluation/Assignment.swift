/// Exact solver of the linear assignment problem: the minimum-cost perfect matching of an n×n cost matrix, by the
/// shortest-augmenting-path method of Jonker & Volgenant (1987, "A shortest augmenting path algorithm for dense and
/// sparse linear assignment problems", Computing 38:325–340).
///
/// Column reduction, reduction transfer and two rounds of augmenting row reduction give most rows a column and
/// near-optimal column prices v cheaply; each remaining free row is then matched along a shortest alternating path
/// in reduced costs c_ij − v_j (Dijkstra), after which the prices of the columns scanned are lowered so that every
/// assigned row keeps its column at the minimum of its reduced costs. The result is optimal (complementary
/// slackness holds with row duals u_i = min_j c_ij − v_j). Every O(n) pass over a row — the minimum and second
/// minimum of a row, and Dijkstra's relaxation fused with the search for the nearest unscanned column — runs over
/// contiguous memory in 8-wide SIMD; the worst case stays O(n³).
public enum LinearAssignment {
    /// The column assigned to each row in a minimum-cost perfect matching of the n×n row-major `cost` matrix.
    /// Entries must be finite (the caller screens NaN and infinity). Ties are broken deterministically.
    public static func solve(_ cost: [Double], n: Int) -> [Int] {
        precondition(cost.count == n * n, "LinearAssignment: the cost matrix must be n × n")
        return cost.withUnsafeBufferPointer { c in solve(n: n) { c.baseAddress! + $0 * n } }
    }

    /// The same for costs given row by row: `row(i)` points at the n costs of row i, valid until the next call
    /// (so rows may be computed on demand into one buffer instead of stored: an n×n matrix of doubles outgrows
    /// the caches, and streaming its rows from memory costs more than computing short squared distances).
    public static func solve(n: Int, row c: (Int) -> UnsafePointer<Double>) -> [Int] {
        if n == 0 { return [] }
        var state = State(n: n)
        var free = state.reduceColumns(c)
        for _ in 0..<2 where !free.isEmpty { free = state.reduceRows(c, free: free) }
        for f in free { state.augment(c, from: f) }
        return state.rowColumn
    }

    /// Assignments both ways, column prices and Dijkstra's work arrays.
    struct State {
        let n: Int
        /// Column of each row and row of each column (−1: free).
        var rowColumn: [Int], columnRow: [Int]
        /// Column prices v_j.
        var price: [Double]
        /// Dijkstra: distance and predecessor row of each column.
        var distance: [Double], predecessor: [Int]

        init(n: Int) {
            self.n = n
            (rowColumn, columnRow) = ([Int](repeating: -1, count: n), [Int](repeating: -1, count: n))
            price = [Double](repeating: 0, count: n)
            (distance, predecessor) = ([Double](repeating: 0, count: n), [Int](repeating: 0, count: n))
        }

        /// Column reduction (v_j = min_i c_ij; each column goes to its cheapest row if that row holds none yet), then
        /// reduction transfer (a row holding one column lowers that column's price by its second-smallest reduced
        /// cost, which stays its row minimum). Returns the rows left free.
        mutating func reduceColumns(_ c: (Int) -> UnsafePointer<Double>) -> [Int] {
            let n = self.n
            var cheapest = [Int](repeating: 0, count: n)
            price.withUnsafeMutableBufferPointer { v in
                let first = c(0)
                for j in 0..<n { v[j] = first[j] }
                for i in 1..<n {
                    let row = c(i)
                    for j in 0..<n where row[j] < v[j] { (v[j], cheapest[j]) = (row[j], i) }
                }
            }
            var matches = [Int](repeating: 0, count: n)
            for j in stride(from: n - 1, through: 0, by: -1) {
                let i = cheapest[j]
                matches[i] += 1
                if matches[i] == 1 { (rowColumn[i], columnRow[j]) = (j, i) }
            }
            var free: [Int] = []
            for i in 0..<n {
                if matches[i] == 0 { free.append(i); continue }
                guard matches[i] == 1 else { continue }
                let j1 = rowColumn[i]
                let second = price.withUnsafeBufferPointer { v in
                    let row = c(i)
                    return Swift.min(Kernels.minimum(row, v.baseAddress!, 0, j1), Kernels.minimum(row, v.baseAddress!, j1 + 1, n))
                }
                if second.isFinite { price[j1] -= second }
            }
            return free
        }

        /// Augmenting row reduction: each free row takes its cheapest column and lowers that column's price to the
        /// row's second-smallest reduced cost, so the row stays at its minimum there; the row it displaces is freed,
        /// and tried again at once when the price fell, else in the next round. Returns the rows still free.
        mutating func reduceRows(_ c: (Int) -> UnsafePointer<Double>, free: [Int]) -> [Int] {
            var queue = free, head = 0, stillFree: [Int] = []
            // Bounds the re-tries of one round (each lowers a price, but possibly by little).
            var budget = free.count * 8
            while head < queue.count {
                let i = queue[head]
                head += 1
                let (u1, first, u2, j2) = price.withUnsafeBufferPointer { Kernels.twoSmallest(c(i), $0.baseAddress!, n) }
                var j1 = first, displaced = columnRow[j1]
                if u1 < u2 {
                    if u2.isFinite { price[j1] -= u2 - u1 }
                } else if displaced >= 0 && j2 >= 0 {
                    (j1, displaced) = (j2, columnRow[j2])
                }
                if displaced >= 0 { rowColumn[displaced] = -1 }
                (rowColumn[i], columnRow[j1]) = (j1, i)
                guard displaced >= 0 else { continue }
                budget -= 1
                if u1 < u2 && budget > 0 {
                    head -= 1
                    queue[head] = displaced
                } else {
                    stillFree.append(displaced)
                }
            }
            return stillFree
        }

        /// Matches free row `f` along a shortest alternating path (Dijkstra on reduced costs c_ij − v_j from row
        /// f), lowers the prices of the columns scanned by how much nearer than the free column found they were,
        /// and flips the path's assignments.
        mutating func augment(_ c: (Int) -> UnsafePointer<Double>, from f: Int) {
            let n = self.n
            // The columns scanned with their distance and predecessor, and their prices (−∞ during the search).
            var scannedColumns: [(column: Int, distance: Double, predecessor: Int, price: Double)] = []
            var end = -1, nearest = 0.0
            let columnRow = self.columnRow
            price.withUnsafeMutableBufferPointer { v in
                distance.withUnsafeMutableBufferPointer { d in
                    predecessor.withUnsafeMutableBufferPointer { p in
                        let (v, d, p) = (v.baseAddress!, d.baseAddress!, p.baseAddress!)
                        var (row, costs, slack) = (f, c(f), 0.0)
                        for j in 0..<n { (d[j], p[j]) = (Double.infinity, f) }
                        while true {
                            let m = Kernels.relax(costs, v, d, p, n: n, row: row, slack: slack)
                            let j = Kernels.nearest(d, n: n, distance: m) { columnRow[$0] < 0 }
                            nearest = m
                            if columnRow[j] < 0 { end = j; break }
                            scannedColumns.append((j, m, p[j], v[j]))
                            (row, costs) = (columnRow[j], c(columnRow[j]))
                            slack = costs[j] - v[j] - m
                            (v[j], d[j]) = (-Double.infinity, Double.infinity)
                        }
                        for s in scannedColumns {
                            v[s.column] = s.price + s.distance - nearest
                            p[s.column] = s.predecessor
                        }
                    }
                }
            }
            var j = end
            while true {
                let i = predecessor[j]
                self.columnRow[j] = i
                (rowColumn[i], j) = (j, rowColumn[i])
                if i == f { break }
            }
        }
    }

    /// The 8-wide passes over one row of the cost matrix.
    enum Kernels {
        typealias V = SIMD8<Double>

        @inline(__always) static func load(_ p: UnsafePointer<Double>, _ j: Int) -> V {
            UnsafeRawPointer(p + j).loadUnaligned(as: V.self)
        }

        /// min over j in lo..<hi of row[j] − v[j] (+∞ for an empty range).
        static func minimum(_ row: UnsafePointer<Double>, _ v: UnsafePointer<Double>, _ lo: Int, _ hi: Int) -> Double {
            var m = V(repeating: .infinity), j = lo
            while j + 8 <= hi {
                m = pointwiseMin(m, load(row, j) - load(v, j))
                j += 8
            }
            var r = m.min()
            while j < hi { r = Swift.min(r, row[j] - v[j]); j += 1 }
            return r
        }

        /// The smallest and second-smallest of row[j] − v[j] with their columns (the first column on ties).
        static func twoSmallest(_ row: UnsafePointer<Double>, _ v: UnsafePointer<Double>, _ n: Int) -> (Double, Int, Double, Int) {
            var u1 = Double.infinity, j1 = -1
            for j in 0..<n {
                let h = row[j] - v[j]
                if h < u1 { (u1, j1) = (h, j) }
            }
            var u2 = Double.infinity, j2 = -1
            for j in 0..<n where j != j1 {
                let h = row[j] - v[j]
                if h < u2 { (u2, j2) = (h, j) }
            }
            return (u1, j1, u2, j2)
        }

        /// One Dijkstra step from `row`, whose path distance to its own column is `slack` below its reduced cost
        /// there: d[j] ← min(d[j], row[j] − v[j] − slack), with predecessor `row` where it fell; returns the smallest
        /// d[j]. Scanned columns take no part: their price is −∞ and their distance +∞ while the search runs.
        static func relax(_ c: UnsafePointer<Double>, _ v: UnsafePointer<Double>, _ d: UnsafeMutablePointer<Double>,
                          _ p: UnsafeMutablePointer<Int>, n: Int, row: Int, slack: Double) -> Double {
            let rowVector = SIMD8<Int64>(repeating: Int64(row)), slackVector = V(repeating: slack)
            var best = V(repeating: .infinity)
            var j = 0
            while j + 8 <= n {
                let h = load(c, j) - load(v, j) - slackVector
                var now = load(UnsafePointer(d), j)
                let fell = h .< now
                if any(fell) {  // most columns keep their distance: skip the stores
                    now.replace(with: h, where: fell)
                    UnsafeMutableRawPointer(d + j).storeBytes(of: now, as: V.self)
                    let pOld = UnsafeRawPointer(p + j).loadUnaligned(as: SIMD8<Int64>.self)
                    UnsafeMutableRawPointer(p + j).storeBytes(of: pOld.replacing(with: rowVector, where: fell), as: SIMD8<Int64>.self)
                }
                best = pointwiseMin(best, now)
                j += 8
            }
            var m = best.min()
            while j < n {
                let h = c[j] - v[j] - slack
                if h < d[j] { (d[j], p[j]) = (h, row) }
                m = Swift.min(m, d[j])
                j += 1
            }
            return m
        }

        /// The first column whose distance is `m`, preferring a free one (`isFree`) among equals.
        static func nearest(_ d: UnsafePointer<Double>, n: Int, distance m: Double, isFree: (Int) -> Bool) -> Int {
            let target = V(repeating: m)
            var first = -1, j = 0
            while j + 8 <= n {
                if any(load(d, j) .== target) {
                    for k in j..<(j + 8) where d[k] == m {
                        if isFree(k) { return k }
                        if first < 0 { first = k }
                    }
                }
                j += 8
            }
            while j < n {
                if d[j] == m {
                    if isFree(j) { return j }
                    if first < 0 { first = j }
                }
                j += 1
            }
            return first
        }
    }
}

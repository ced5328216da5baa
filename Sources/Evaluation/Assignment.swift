/// Exact solver of the linear assignment problem: the minimum-cost perfect matching of an n×n cost matrix, by the
/// shortest-augmenting-path method of Jonker & Volgenant (1987, "A shortest augmenting path algorithm for dense and
/// sparse linear assignment problems", Computing 38:325–340).
///
/// Column prices v come first from an ε-scaling auction (Bertsekas 1988, "The auction algorithm: a distributed
/// relaxation method for the assignment problem", Annals of Operations Research 14; Bertsekas & Castañon 1989),
/// which matches every row to within ε of its best reduced cost c_ij − v_j at a cost that does not explode when
/// many rows crowd the same columns (model samples far from the target's). The rows whose column is not exactly
/// their minimum are then freed and matched along shortest alternating paths in reduced costs (Dijkstra), after
/// which the prices of the columns scanned are lowered so that every assigned row keeps its column at the minimum.
/// The result is optimal (complementary slackness holds with row duals u_i = min_j c_ij − v_j). Every O(n) pass
/// over a row — the two smallest reduced costs of a bid, and Dijkstra's relaxation — runs over contiguous memory
/// in 8-wide SIMD.
public enum LinearAssignment {
    /// The column assigned to each row in a minimum-cost perfect matching of the n×n row-major `cost` matrix.
    /// Entries must be finite (the caller screens NaN and infinity). Ties are broken deterministically.
    public static func solve(_ cost: [Double], n: Int) -> [Int] {
        precondition(cost.count == n * n, "LinearAssignment: the cost matrix must be n × n")
        return cost.withUnsafeBufferPointer { solve(CostMatrix(n: n, base: $0.baseAddress)) }
    }

    /// The same for costs given row by row (see `AssignmentCosts`).
    public static func solve(_ costs: some AssignmentCosts) -> [Int] {
        optimum(costs).columns
    }

    /// The column of each row in a minimum-cost perfect matching, with the column prices v that certify it: every
    /// row's column minimises c_ij − v_j (up to rounding), so u_i = c_iσ(i) − v_σ(i) and v solve the dual problem.
    public static func optimum(_ costs: some AssignmentCosts) -> (columns: [Int], prices: [Double]) {
        let n = costs.count
        if n == 0 { return ([], []) }
        var state = State(n: n)
        let (spread, magnitude) = state.reduceColumns(costs)
        precondition(magnitude <= 1e150, "LinearAssignment: costs must be finite and at most 1e150 in magnitude; scale them")
        // All costs equal: every matching is optimal, priced by the column reduction.
        guard spread > 0 else { return (Array(0..<n), state.price) }
        let scales = state.auctionScales(costs, spread: spread)
        state.auction(costs, scales: scales)
        for f in state.enforceSlackness(costs, raiseAtMost: scales.typical) { state.augment(costs, from: f) }
        return (state.rowColumn, state.price)
    }

    /// A stored row-major matrix.
    struct CostMatrix: AssignmentCosts {
        let n: Int, base: UnsafePointer<Double>?
        var count: Int { n }
        func row(_ i: Int) -> UnsafePointer<Double> { base! + i * n }
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

        /// Column reduction: v_j = min_i c_ij, the prices the auction starts from. Returns the largest cost minus
        /// the smallest (zero when every matching is optimal) and the largest magnitude of a cost (+∞ if one is not
        /// finite).
        mutating func reduceColumns(_ c: some AssignmentCosts) -> (spread: Double, magnitude: Double) {
            let n = self.n
            var (lowest, highest) = (Double.infinity, -Double.infinity)
            price.withUnsafeMutableBufferPointer { v in
                for j in 0..<n { v[j] = .infinity }
                for i in 0..<n {
                    let row = c.row(i)
                    for j in 0..<n {
                        v[j] = Swift.min(v[j], row[j])
                        highest = Swift.max(highest, row[j])
                    }
                }
                for j in 0..<n { lowest = Swift.min(lowest, v[j]) }
            }
            let magnitude = highest.isFinite && lowest.isFinite ? Swift.max(abs(highest), abs(lowest)) : .infinity
            return (highest - lowest, magnitude)
        }

        /// Matches free row `f` along a shortest alternating path (Dijkstra on reduced costs c_ij − v_j from row
        /// f), lowers the prices of the columns scanned by how much nearer than the free column found they were,
        /// and flips the path's assignments.
        mutating func augment(_ c: some AssignmentCosts, from f: Int) {
            let n = self.n
            // The columns scanned with their distance and predecessor, and their prices (−∞ during the search).
            var scannedColumns: [(column: Int, distance: Double, predecessor: Int, price: Double)] = []
            var end = -1, nearest = 0.0
            let columnRow = self.columnRow
            price.withUnsafeMutableBufferPointer { v in
                distance.withUnsafeMutableBufferPointer { d in
                    predecessor.withUnsafeMutableBufferPointer { p in
                        let (v, d, p) = (v.baseAddress!, d.baseAddress!, p.baseAddress!)
                        var (row, costs, slack) = (f, c.row(f), 0.0)
                        for j in 0..<n { (d[j], p[j]) = (Double.infinity, f) }
                        while true {
                            let m = Kernels.relax(costs, v, d, p, n: n, row: row, slack: slack)
                            let j = Kernels.nearest(d, n: n, distance: m) { columnRow[$0] < 0 }
                            nearest = m
                            if columnRow[j] < 0 { end = j; break }
                            scannedColumns.append((j, m, p[j], v[j]))
                            (row, costs) = (columnRow[j], c.row(columnRow[j]))
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

        /// The lane-wise minimum. (The standard library's generic `pointwiseMin` is not inlined: a call per block.)
        @inline(__always) static func lesser(_ a: V, _ b: V) -> V { a.replacing(with: b, where: b .< a) }

        @inline(__always) static func load(_ p: UnsafePointer<Double>, _ j: Int) -> V {
            UnsafeRawPointer(p + j).loadUnaligned(as: V.self)
        }

        /// min over j in lo..<hi of row[j] − v[j] (+∞ for an empty range).
        static func minimum(_ row: UnsafePointer<Double>, _ v: UnsafePointer<Double>, _ lo: Int, _ hi: Int) -> Double {
            var m = V(repeating: .infinity), j = lo
            while j + 8 <= hi {
                m = lesser(m, load(row, j) - load(v, j))
                j += 8
            }
            var r = m.min()
            while j < hi { r = Swift.min(r, row[j] - v[j]); j += 1 }
            return r
        }

        /// The smallest and second-smallest of row[j] − v[j], and the column of the smallest (the first on ties).
        static func twoSmallest(_ row: UnsafePointer<Double>, _ v: UnsafePointer<Double>, _ n: Int) -> (Double, Int, Double) {
            var least = TwoSmallest()
            var j = 0
            while j + 8 <= n {
                least.add(load(row, j) - load(v, j))
                j += 8
            }
            var result = least.merged()
            while j < n {
                TwoSmallest.add(row[j] - v[j], column: j, to: &result)
                j += 1
            }
            return result
        }

        /// The two smallest of a sequence of 8-wide blocks of values (columns 0, 1, 2, … in order), lane by lane.
        struct TwoSmallest {
            var first = V(repeating: .infinity), second = V(repeating: .infinity)
            var firstColumn = SIMD8<Int64>(repeating: .max), column = SIMD8<Int64>(0, 1, 2, 3, 4, 5, 6, 7)

            @inline(__always) mutating func add(_ h: V) {
                let lower = h .< first
                second = lesser(second, first.replacing(with: h, where: .!lower))
                first.replace(with: h, where: lower)
                firstColumn.replace(with: column, where: lower)
                column &+= 8
            }

            /// The smallest over all lanes with its column (the first on ties), and the smallest of the rest.
            func merged() -> (Double, Int, Double) {
                var result = (Double.infinity, -1, Double.infinity)
                for lane in 0..<8 {
                    let (m, k) = (first[lane], Int(firstColumn[lane]))
                    if m < result.0 || (m == result.0 && k < result.1) {
                        result.2 = Swift.min(result.2, result.0)
                        (result.0, result.1) = (m, k)
                    } else {
                        result.2 = Swift.min(result.2, m)
                    }
                    result.2 = Swift.min(result.2, second[lane])
                }
                return result
            }

            /// Adds one value of a column after every block's.
            @inline(__always) static func add(_ h: Double, column j: Int, to r: inout (Double, Int, Double)) {
                if h < r.0 { r = (h, j, r.0) } else { r.2 = Swift.min(r.2, h) }
            }
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
                best = lesser(best, now)
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

/// The costs of an assignment problem, row by row. `row(i)` points at the n costs of row i and stays valid until the
/// next call, so rows may be computed on demand into one buffer instead of stored (an n×n matrix of doubles outgrows
/// the caches, and streaming its rows from memory costs more than computing short squared distances).
/// `twoSmallest` may fuse the computation of a row with the auction's bid; it must agree with `row`.
public protocol AssignmentCosts {
    /// n, the rows and columns.
    var count: Int { get }
    /// The n costs of row i.
    func row(_ i: Int) -> UnsafePointer<Double>
    /// The smallest and second-smallest of c_ij − v_j over j, and the first column of the smallest, for the prices
    /// `v` (during an auction, the prices reported through `pricesStart` and `priceFell`).
    func twoSmallest(_ i: Int, minus v: UnsafePointer<Double>) -> (Double, Int, Double)
    /// The prices an auction starts from; until it ends they only fall, each fall reported by `priceFell`.
    func pricesStart(_ v: UnsafePointer<Double>)
    /// Column j's price fell to `price` in the auction.
    func priceFell(_ j: Int, to price: Double)
    /// The auction ended: prices may rise again, and no longer reach the costs through `priceFell`.
    func pricesStop()
}

extension AssignmentCosts {
    public func pricesStart(_ v: UnsafePointer<Double>) {}
    public func priceFell(_ j: Int, to price: Double) {}
    public func pricesStop() {}

    public func twoSmallest(_ i: Int, minus v: UnsafePointer<Double>) -> (Double, Int, Double) {
        LinearAssignment.Kernels.twoSmallest(row(i), v, count)
    }
}

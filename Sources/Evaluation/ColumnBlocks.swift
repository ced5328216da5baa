/// The columns of a low-dimensional `SquaredDistances` grouped into spatial blocks, so that an auction bid can skip
/// the blocks that cannot hold its two smallest reduced costs.
///
/// The points b_j are split recursively at the median of their widest coordinate (a k-d tree) into blocks of `size`
/// points. Each block keeps its bounding box and an upper bound on its columns' prices v_j. For a row a_i, the squared
/// distance from a_i to a block's box minus that bound is at most every reduced cost ‖a_i − b_j‖² − v_j in the block,
/// in floating point too: the box's gap is the float32 difference to its nearest face, taken and squared and summed
/// with the same operations as the costs, and every rounding is monotone. A bid visits the block with the smallest
/// bound first, then every block whose bound is not above the second-smallest reduced cost found so far, and returns
/// bit for bit what a pass over all columns returns (the first column on ties). On two sets of 2000 gmm25 samples a bid
/// visits 12 % of the blocks and the whole assignment takes 0.5–0.6 of the time of full passes; where the bound
/// separates too few blocks the auction goes back to full passes (`pays`).
final class ColumnBlocks {
    /// Points per block: a multiple of the 8-wide passes.
    static let size = 32
    /// The most coordinates for which blocks are built: in more a box bound separates few blocks (bids on
    /// 3-D Gaussian samples, one set shifted by 2, visited 80 % of them).
    static let dimensions = 3

    let n: Int, d: Int
    /// Number of blocks, and that rounded up to a multiple of 8 (the bounds' passes).
    let count: Int, lanes: Int
    /// Block-major coordinates: coordinate k of block B's slot s at (B·d + k)·size + s. Slots past the last point
    /// repeat their block's first column with coordinates +∞, so their costs are +∞ and never chosen.
    private let coordinates: UnsafeMutablePointer<Float>
    /// The column of each slot, and each column's slot.
    private let columns: UnsafeMutablePointer<Int64>, slot: UnsafeMutablePointer<Int>
    /// The price of each slot's column as the auction lowers it (−∞ for the unused slots).
    private let slotPrice: UnsafeMutablePointer<Double>
    /// Each block's box: its least and greatest coordinate k at k·lanes + B (+∞ past `count`).
    private let lower: UnsafeMutablePointer<Float>, upper: UnsafeMutablePointer<Float>
    /// An upper bound of each block's column prices, valid while prices only fall (see `pricesStart`).
    private let priceBound: UnsafeMutablePointer<Double>
    /// Each block's lower bound on the reduced costs of the row being bid for.
    private let rowBound: UnsafeMutablePointer<Double>
    /// Bids and blocks visited since the auction started, and whether one is running (1) or not (0).
    private let tally: UnsafeMutablePointer<Int>

    /// Blocks of the n points whose coordinate k for point j is `bByCoordinate[k·n + j]`.
    init(bByCoordinate bt: [Float], n: Int, dimension d: Int) {
        (self.n, self.d) = (n, d)
        let size = Self.size, count = (n + size - 1) / size
        (self.count, lanes) = (count, (count + 7) / 8 * 8)
        coordinates = .allocate(capacity: max(count * d * size, 1))
        columns = .allocate(capacity: max(count * size, 1))
        slot = .allocate(capacity: max(n, 1))
        slotPrice = .allocate(capacity: max(count * size, 1))
        slotPrice.initialize(repeating: -.infinity, count: max(count * size, 1))
        lower = .allocate(capacity: max(lanes * d, 1))
        upper = .allocate(capacity: max(lanes * d, 1))
        lower.initialize(repeating: .infinity, count: max(lanes * d, 1))
        upper.initialize(repeating: .infinity, count: max(lanes * d, 1))
        priceBound = .allocate(capacity: max(lanes, 1))
        rowBound = .allocate(capacity: max(lanes, 1))
        tally = .allocate(capacity: 3)
        tally.initialize(repeating: 0, count: 3)
        priceBound.initialize(repeating: 0, count: max(lanes, 1))  // 0 past `count`, whose bounds are +∞
        var order = Array(0..<n)
        Self.split(&order, 0, n, bt, n: n, d: d)
        for block in 0..<count {
            let first = block * size
            for s in 0..<size {
                let j = first + s < n ? order[first + s] : order[first]
                columns[block * size + s] = Int64(j)
                if first + s < n { slot[j] = block * size + s }
                for k in 0..<d {
                    coordinates[(block * d + k) * size + s] = first + s < n ? bt[k * n + j] : .infinity
                }
            }
            for k in 0..<d {
                let points = (first..<min(first + size, n)).map { bt[k * n + order[$0]] }
                (lower[k * lanes + block], upper[k * lanes + block]) = (points.min()!, points.max()!)
            }
        }
    }

    deinit {
        for p in [slotPrice, priceBound, rowBound] { p.deallocate() }
        for p in [coordinates, lower, upper] { p.deallocate() }
        (columns.deallocate(), slot.deallocate(), tally.deallocate())
    }

    /// Orders `order[lo..<hi]` into blocks: halves (at a multiple of `size` from `lo`) by the widest coordinate,
    /// ties by column, until a part fits one block.
    private static func split(_ order: inout [Int], _ lo: Int, _ hi: Int, _ bt: [Float], n: Int, d: Int) {
        let blocks = (hi - lo + size - 1) / size
        guard blocks > 1 else { return }
        var (widest, width) = (0, -Float.infinity)
        for k in 0..<d {
            let values = order[lo..<hi].map { bt[k * n + $0] }
            if values.max()! - values.min()! > width { (widest, width) = (k, values.max()! - values.min()!) }
        }
        order[lo..<hi].sort { (bt[widest * n + $0], $0) < (bt[widest * n + $1], $1) }
        let middle = lo + blocks / 2 * size
        split(&order, lo, middle, bt, n: n, d: d)
        split(&order, middle, hi, bt, n: n, d: d)
    }

    /// Takes each block's price bound from the prices an auction starts with; it stays an upper bound while they
    /// only fall.
    func pricesStart(_ v: UnsafePointer<Double>) {
        (tally[0], tally[1], tally[2]) = (0, 0, 1)
        for j in 0..<n { slotPrice[slot[j]] = v[j] }
        for block in 0..<count {
            var largest = -Double.infinity
            for s in 0..<Self.size { largest = max(largest, slotPrice[block * Self.size + s]) }
            priceBound[block] = largest
        }
    }

    /// Whether the bids of this auction skip enough blocks to be faster than passes over all columns: false once the
    /// first n bids visited more than a quarter of the blocks on average. (Bids of two 2000-sample gmm25 sets visit
    /// 12 %, and take half the time of full passes; 2000 narrow samples against gmm25's, whose reduced costs the
    /// price bound cannot separate, visit half, and 1000 shifted 1-D Gaussian samples 40 %: both slower than full
    /// passes.) False outside an auction, where the mirrored prices are not the caller's.
    var pays: Bool { tally[2] == 1 && (tally[0] < n || 4 * tally[1] <= count * tally[0]) }

    /// The auction ended: the mirrored prices go stale, so `pays` is false until the next `pricesStart`.
    func pricesStop() { tally[2] = 0 }

    /// Column j's price fell to `price`.
    @inline(__always) func priceFell(_ j: Int, to price: Double) { slotPrice[slot[j]] = price }

    /// The smallest and second-smallest of ‖x − b_j‖² − v_j over all columns j and the first column of the smallest,
    /// for the point `x` (d coordinates), exactly as `SquaredDistances.twoSmallest` computes them over every column.
    func twoSmallest(_ x: UnsafePointer<Float>) -> (Double, Int, Double) {
        typealias V = SIMD8<Double>
        let (d, lanes) = (self.d, self.lanes)
        // Every block's bound, eight blocks at a time (blocks past `count` have boxes at +∞: bound +∞).
        var smallest = V(repeating: .infinity)
        for b in stride(from: 0, to: lanes, by: 8) {
            var sum = V()
            for k in 0..<d {
                let xk = SIMD8<Float>(repeating: x[k])
                let lo = UnsafeRawPointer(lower + k * lanes + b).loadUnaligned(as: SIMD8<Float>.self)
                let hi = UnsafeRawPointer(upper + k * lanes + b).loadUnaligned(as: SIMD8<Float>.self)
                let gap = V((lo - xk).replacing(with: 0, where: xk .>= lo).replacing(with: hi - xk, where: xk .> hi))
                sum = sum + gap * gap
            }
            let bound = sum - UnsafeRawPointer(priceBound + b).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(rowBound + b).storeBytes(of: bound, as: V.self)
            smallest = Self.lesser(smallest, bound)
        }
        let least = Self.least(smallest)
        var nearest = 0
        while rowBound[nearest] != least { nearest += 1 }
        // Lane-wise smallest and second-smallest over the blocks visited (each block's own smallest kept in
        // `rowBound`, which the visited blocks no longer need), then the first column holding the smallest.
        var (first, second) = (V(repeating: .infinity), V(repeating: .infinity))
        rowBound[nearest] = visit(nearest, x, &first, &second)
        tally[0] += 1
        tally[1] += 1
        var (u1, u2) = Self.twoLeast(first, second)
        for block in 0..<count where block != nearest {
            if rowBound[block] <= u2 {
                rowBound[block] = visit(block, x, &first, &second)
                tally[1] += 1
                (u1, u2) = Self.twoLeast(first, second)
            } else {
                rowBound[block] = .infinity
            }
        }
        var column = Int.max
        for block in 0..<count where rowBound[block] == u1 {
            for s in stride(from: 0, to: Self.size, by: 8) {
                let h = reduced(block, s, x), j = UnsafeRawPointer(columns + block * Self.size + s).loadUnaligned(as: SIMD8<Int64>.self)
                for lane in 0..<8 where h[lane] == u1 { column = min(column, Int(j[lane])) }
            }
        }
        return (u1, column, u2)
    }

    /// The smallest and second-smallest over all lanes of lane-wise smallest and second-smallest values.
    @inline(__always) private static func twoLeast(_ first: SIMD8<Double>, _ second: SIMD8<Double>) -> (Double, Double) {
        let (f4, s4) = halves(first.lowHalf, second.lowHalf, first.highHalf, second.highHalf)
        let (f2, s2) = halves(f4.lowHalf, s4.lowHalf, f4.highHalf, s4.highHalf)
        return (min(f2[0], f2[1]), min(s2[0], s2[1], max(f2[0], f2[1])))
    }

    /// Lane-wise (smallest, second-smallest) pairs of two halves (f, s) and (g, t) merged: the smaller first, and the
    /// least of both seconds and the larger first.
    @inline(__always) private static func halves<H: SIMD>(_ f: H, _ s: H, _ g: H, _ t: H) -> (H, H)
        where H.Scalar == Double {
        let larger = f.replacing(with: g, where: f .< g), smaller = f.replacing(with: g, where: g .< f)
        let seconds = s.replacing(with: t, where: t .< s)
        return (smaller, seconds.replacing(with: larger, where: larger .< seconds))
    }

    /// The least lane.
    @inline(__always) private static func least(_ v: SIMD8<Double>) -> Double {
        let four = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .< v.lowHalf)
        let two = four.lowHalf.replacing(with: four.highHalf, where: four.highHalf .< four.lowHalf)
        return min(two[0], two[1])
    }

    @inline(__always) private static func lesser(_ a: SIMD8<Double>, _ b: SIMD8<Double>) -> SIMD8<Double> {
        a.replacing(with: b, where: b .< a)
    }

    /// The reduced costs ‖x − b_j‖² − v_j of slots s..<s + 8 of block `block`, by the operations of
    /// `SquaredDistances.compute` for the cost.
    @inline(__always) private func reduced(_ block: Int, _ s: Int, _ x: UnsafePointer<Float>) -> SIMD8<Double> {
        typealias V = SIMD8<Double>
        let points = coordinates + block * d * Self.size + s
        var sum = V()
        for k in 0..<d {
            let b = UnsafeRawPointer(points + k * Self.size).loadUnaligned(as: SIMD8<Float>.self)
            let diff = V(b - SIMD8<Float>(repeating: x[k]))
            sum = sum + diff * diff
        }
        return sum - UnsafeRawPointer(slotPrice + block * Self.size + s).loadUnaligned(as: V.self)
    }

    /// Adds block `block`'s reduced costs for `x` to the lane-wise smallest and second-smallest, lowers the block's
    /// price bound to its largest price, and returns its smallest reduced cost.
    @inline(__always) private func visit(_ block: Int, _ x: UnsafePointer<Float>,
                                         _ first: inout SIMD8<Double>, _ second: inout SIMD8<Double>) -> Double {
        typealias V = SIMD8<Double>
        var (largest, least) = (V(repeating: -.infinity), V(repeating: .infinity))
        for s in stride(from: 0, to: Self.size, by: 8) {
            let h = reduced(block, s, x)
            let prices = UnsafeRawPointer(slotPrice + block * Self.size + s).loadUnaligned(as: V.self)
            largest = largest.replacing(with: prices, where: prices .> largest)
            least = Self.lesser(least, h)
            second = Self.lesser(second, first.replacing(with: h, where: h .> first))
            first = Self.lesser(first, h)
        }
        priceBound[block] = -Self.least(-largest)
        return Self.least(least)
    }
}

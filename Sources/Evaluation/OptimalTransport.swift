/// Exact 2-Wasserstein distance between two equal-size empirical measures.
///
/// Solves the assignment problem on squared Euclidean costs exactly (`LinearAssignment`, Jonker–Volgenant) and
/// returns the square root of the mean optimal cost.
public enum Wasserstein {
    /// The most samples per side that evaluations put through `exactW2` (the literature's 2000): the worst-case cost
    /// grows as n³.
    public static let evaluationSamples = 2000

    /// W₂ between the first min(rows of `a`, rows of `b`, `evaluationSamples`) rows of each: what evaluations
    /// report (exact OT needs equal counts, and its cost bounds the count).
    public static func evaluationW2(_ a: [Float], _ b: [Float], dimension d: Int) -> Double {
        let n = min(a.count, b.count, evaluationSamples * d) / d * d
        return exactW2(Array(a[0..<n]), Array(b[0..<n]), dimension: d)
    }

    /// W₂ and the Sinkhorn divergence (ε = 10⁻³) between the same rows as `evaluationW2`, from one assignment; the
    /// divergence is nil where W₂ is NaN.
    public static func evaluationTransport(_ a: [Float], _ b: [Float], dimension d: Int) -> (w2: Double, sinkhorn: SinkhornDivergence?) {
        let n = min(a.count, b.count, evaluationSamples * d) / d * d
        let (a, b) = (Array(a[0..<n]), Array(b[0..<n]))
        guard let (costs, optimum) = assignment(a, b, dimension: d) else { return (.nan, nil) }
        let sinkhorn = SinkhornDivergence.bracket(a, b, dimension: d, costs: costs, assignment: optimum.columns, prices: optimum.prices)
        return (w2(costs, optimum.columns), sinkhorn)
    }

    /// W₂ between the rows of `a` and `b` (both `n × dimension`, row-major); NaN when a coordinate is not finite or
    /// beyond 10¹⁸ in magnitude.
    public static func exactW2(_ a: [Float], _ b: [Float], dimension d: Int) -> Double {
        guard let (costs, optimum) = assignment(a, b, dimension: d) else { return .nan }
        return w2(costs, optimum.columns)
    }

    /// The squared-distance costs of `a` against `b` and their optimal assignment; nil when a coordinate is not
    /// finite or beyond 10¹⁸ in magnitude.
    static func assignment(_ a: [Float], _ b: [Float], dimension d: Int)
        -> (SquaredDistances, (columns: [Int], prices: [Double]))? {
        precondition(a.count == b.count && a.count % d == 0, "exactW2: sample sets must have equal size")
        // A set with non-finite points has no finite W₂; coordinates beyond 10¹⁸ would make float32 differences
        // overflow to infinite costs, which the assignment cannot take: both are reported as NaN.
        guard a.allSatisfy({ $0.isFinite && abs($0) <= 1e18 }) && b.allSatisfy({ $0.isFinite && abs($0) <= 1e18 }) else { return nil }
        // Costs ‖a_i − b_j‖² with each coordinate difference taken in float32, squared and summed in double, in
        // coordinate order: the same numbers whether a row is computed on demand or stored.
        let costs = SquaredDistances(a, b, dimension: d)
        return (costs, LinearAssignment.optimum(costs))
    }

    /// √(mean cost of the assignment).
    static func w2(_ costs: SquaredDistances, _ columns: [Int]) -> Double {
        let n = costs.count
        if n == 0 { return 0 }
        var total = 0.0
        for i in 0..<n { total += costs.cost(i, columns[i]) }
        return (total / Double(n)).squareRoot()
    }
}

/// The rows of the n×n matrix of squared Euclidean distances between the rows of `a` and `b`: computed on demand
/// into one buffer in low dimension (a few passes over b's coordinates, which stay in cache), stored once in high
/// dimension (where computing a row costs more than reading it).
final class SquaredDistances: AssignmentCosts {
    let n: Int, d: Int
    /// a's rows, row-major; b's coordinates, coordinate-major (b[k·n + j] is coordinate k of row j).
    let a: [Float], bByCoordinate: [Float]
    /// The whole matrix in high dimension, else the row computed last.
    private let storage: UnsafeMutablePointer<Double>
    /// Whether `storage` holds the whole matrix.
    private let stored: Bool
    /// b's points in spatial blocks, for the auction's bids (up to `ColumnBlocks.dimensions` coordinates).
    private let blocks: ColumnBlocks?

    /// Dimensions up to which rows are computed on demand.
    static let onDemandDimensions = 12

    init(_ a: [Float], _ b: [Float], dimension d: Int) {
        let n = a.count / d
        (self.n, self.d, self.a) = (n, d, a)
        var t = [Float](repeating: 0, count: n * d)
        for j in 0..<n { for k in 0..<d { t[k * n + j] = b[j * d + k] } }
        bByCoordinate = t
        stored = d > Self.onDemandDimensions
        storage = .allocate(capacity: max(stored ? n * n : n, 1))
        blocks = d <= ColumnBlocks.dimensions ? ColumnBlocks(bByCoordinate: t, n: n, dimension: d) : nil
        if stored { for i in 0..<n { compute(i, into: storage + i * n) } }
    }

    deinit { storage.deallocate() }

    var count: Int { n }

    func pricesStart(_ v: UnsafePointer<Double>) { blocks?.pricesStart(v) }

    func priceFell(_ j: Int, to price: Double) { blocks?.priceFell(j, to: price) }

    func pricesStop() { blocks?.pricesStop() }

    /// In low dimension the bid's pass computes each cost as it goes (no row is written): the same operations as
    /// `compute`, so the same numbers.
    func twoSmallest(_ i: Int, minus v: UnsafePointer<Double>) -> (Double, Int, Double) {
        if let blocks, blocks.pays { return a.withUnsafeBufferPointer { blocks.twoSmallest($0.baseAddress! + i * self.d) } }
        if stored { return LinearAssignment.Kernels.twoSmallest(row(i), v, n) }
        typealias V = SIMD8<Double>
        let (n, d) = (self.n, self.d)
        return bByCoordinate.withUnsafeBufferPointer { bt in
            let bt = bt.baseAddress!
            var least = LinearAssignment.Kernels.TwoSmallest()
            var j = 0
            while j + 8 <= n {
                var sum = V()
                for k in 0..<d {
                    let diff = V(UnsafeRawPointer(bt + k * n + j).loadUnaligned(as: SIMD8<Float>.self) - SIMD8<Float>(repeating: a[i * d + k]))
                    sum = sum + diff * diff
                }
                least.add(sum - UnsafeRawPointer(v + j).loadUnaligned(as: V.self))
                j += 8
            }
            var result = least.merged()
            while j < n {
                LinearAssignment.Kernels.TwoSmallest.add(cost(i, j) - v[j], column: j, to: &result)
                j += 1
            }
            return result
        }
    }

    /// Row i (valid until the next call).
    func row(_ i: Int) -> UnsafePointer<Double> {
        if stored { return UnsafePointer(storage + i * n) }
        compute(i, into: storage)
        return UnsafePointer(storage)
    }

    /// The single cost c_ij, by the operations of `compute` (the same number as row i's entry j).
    func cost(_ i: Int, _ j: Int) -> Double {
        if stored { return storage[i * n + j] }
        var sum = 0.0
        for k in 0..<d { let diff = Double(bByCoordinate[k * n + j] - a[i * d + k]); sum = sum + diff * diff }
        return sum
    }

    private func compute(_ i: Int, into out: UnsafeMutablePointer<Double>) {
        let n = self.n
        bByCoordinate.withUnsafeBufferPointer { bt in
            for k in 0..<d {
                let ak = a[i * d + k], column = bt.baseAddress! + k * n
                let akVector = SIMD8<Float>(repeating: ak)
                var j = 0
                while j + 8 <= n {
                    let diff = SIMD8<Double>(UnsafeRawPointer(column + j).loadUnaligned(as: SIMD8<Float>.self) - akVector)
                    let previous = k == 0 ? SIMD8<Double>() : UnsafeRawPointer(out + j).loadUnaligned(as: SIMD8<Double>.self)
                    UnsafeMutableRawPointer(out + j).storeBytes(of: previous + diff * diff, as: SIMD8<Double>.self)
                    j += 8
                }
                while j < n {
                    let diff = Double(column[j] - ak)
                    out[j] = (k == 0 ? 0 : out[j]) + diff * diff
                    j += 1
                }
            }
        }
    }
}

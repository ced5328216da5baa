/// Exact 2-Wasserstein distance between two equal-size empirical measures.
///
/// Solves the assignment problem on squared Euclidean costs with the shortest-augmenting-path Hungarian
/// method (O(n³); about a second for n = 2000 here) and returns the square root of the mean optimal cost.
public enum Wasserstein {
    /// The most samples per side that evaluations put through `exactW2` (the literature's 2000): the cost grows as
    /// n³, so 20 000 would take hours.
    public static let evaluationSamples = 2000

    /// W₂ between the first min(rows of `a`, rows of `b`, `evaluationSamples`) rows of each: what evaluations
    /// report (exact OT needs equal counts, and its cost bounds the count).
    public static func evaluationW2(_ a: [Float], _ b: [Float], dimension d: Int) -> Double {
        let n = min(a.count, b.count, evaluationSamples * d) / d * d
        return exactW2(Array(a[0..<n]), Array(b[0..<n]), dimension: d)
    }

    /// W₂ between the rows of `a` and `b` (both `n × dimension`, row-major).
    public static func exactW2(_ a: [Float], _ b: [Float], dimension d: Int) -> Double {
        precondition(a.count == b.count && a.count % d == 0, "exactW2: sample sets must have equal size")
        let n = a.count / d
        if n == 0 { return 0 }
        // The assignment does not terminate on NaN costs; a set with non-finite points has no finite W₂.
        guard a.allSatisfy(\.isFinite) && b.allSatisfy(\.isFinite) else { return .nan }
        var cost = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                var s: Double = 0
                for k in 0..<d { let diff = Double(a[i * d + k] - b[j * d + k]); s += diff * diff }
                cost[i * n + j] = s
            }
        }
        let assignment = minimumCostAssignment(cost, n: n)
        let total = (0..<n).reduce(0.0) { $0 + cost[$1 * n + assignment[$1]] }
        return (total / Double(n)).squareRoot()
    }

    /// The column assigned to each row in a minimum-cost perfect matching of the n×n `cost` matrix.
    public static func minimumCostAssignment(_ cost: [Double], n: Int) -> [Int] {
        // Potentials u (rows), v (columns); p[j] is the row matched to column j (1-based, 0 = free).
        var u = [Double](repeating: 0, count: n + 1), v = [Double](repeating: 0, count: n + 1)
        var p = [Int](repeating: 0, count: n + 1), way = [Int](repeating: 0, count: n + 1)
        var minv = [Double](repeating: 0, count: n + 1)
        var used = [Bool](repeating: false, count: n + 1)
        for i in 1...n {
            p[0] = i
            var j0 = 0
            for j in 0...n { minv[j] = .infinity; used[j] = false }
            repeat {
                used[j0] = true
                let i0 = p[j0]
                var delta = Double.infinity, j1 = 0
                let rowBase = (i0 - 1) * n - 1
                for j in 1...n where !used[j] {
                    let reduced = cost[rowBase + j] - u[i0] - v[j]
                    if reduced < minv[j] { minv[j] = reduced; way[j] = j0 }
                    if minv[j] < delta { delta = minv[j]; j1 = j }
                }
                for j in 0...n {
                    if used[j] { u[p[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                }
                j0 = j1
            } while p[j0] != 0
            repeat {
                let j1 = way[j0]
                p[j0] = p[j1]
                j0 = j1
            } while j0 != 0
        }
        var assignment = [Int](repeating: 0, count: n)
        for j in 1...n where p[j] > 0 { assignment[p[j] - 1] = j - 1 }
        return assignment
    }
}

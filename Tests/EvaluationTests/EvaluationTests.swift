import XCTest
import Foundation
@testable import Evaluation
@testable import Numerics
@testable import NeuralSDE
@testable import Densities

/// A stored cost matrix that counts the rows the solver asks for (its work, through `AssignmentCosts`).
private final class Counting: AssignmentCosts {
    let n: Int, cost: UnsafeMutablePointer<Double>
    var rows = 0
    init(_ cost: [Double], n: Int) {
        self.n = n
        self.cost = .allocate(capacity: n * n)
        self.cost.initialize(from: cost, count: n * n)
    }
    deinit { cost.deallocate() }
    var count: Int { n }
    func row(_ i: Int) -> UnsafePointer<Double> {
        rows += 1
        return UnsafePointer(cost + i * n)
    }
}

final class EvaluationTests: XCTestCase {
    func testEstimatorsOnKnownWeights() {
        // Weights log w = log 2 for half the paths and log 1 (=0) for the other half: mean w = 1.5.
        let w = [Double](repeating: log(2), count: 500) + [Double](repeating: 0, count: 500)
        let e = LogZEstimates(logWeights: w)
        XCTAssertEqual(e.importanceWeighted, log(1.5), accuracy: 1e-12)
        XCTAssertEqual(e.meanLogWeight, 0.5 * log(2), accuracy: 1e-12)
        XCTAssertEqual(e.effectiveSampleSize, 1.5 * 1.5 / 2.5, accuracy: 1e-12)
        // Shifting all log weights by a large constant changes only the log Z estimates.
        let shifted = LogZEstimates(logWeights: w.map { $0 + 800 })
        XCTAssertEqual(shifted.importanceWeighted, log(1.5) + 800, accuracy: 1e-9)
        XCTAssertEqual(shifted.effectiveSampleSize, e.effectiveSampleSize, accuracy: 1e-12)
    }

    /// Importance sampling of a Gaussian with a wider Gaussian proposal recovers log Z.
    func testImportanceWeightedEstimateIsConsistent() {
        var rng = Xoshiro256(seed: 4)
        let n = 100_000
        var w: [Double] = []
        for _ in 0..<n {
            let x = 2 * Double(rng.nextGaussian())  // q = N(0, 4); R = exp(−x²/2), Z = √(2π)
            let logQ = -0.5 * x * x / 4 - 0.5 * log(2 * Double.pi * 4)
            w.append(-0.5 * x * x - logQ)
        }
        let e = LogZEstimates(logWeights: w)
        XCTAssertEqual(e.importanceWeighted, 0.5 * log(2 * Double.pi), accuracy: 0.01)
        XCTAssertLessThan(e.meanLogWeight, e.importanceWeighted)
    }

    /// The Jonker–Volgenant solver against brute force on small problems (random, and with many ties), against an
    /// independent O(n³) Hungarian solver on larger squared-Euclidean ones, and W₂ of a shift.
    func testAssignmentMatchesBruteForce() {
        var rng = Xoshiro256(seed: 2)
        func total(_ cost: [Double], _ a: [Int], _ n: Int) -> Double { (0..<n).reduce(0.0) { $0 + cost[$1 * n + a[$1]] } }
        for trial in 0..<140 {
            let n = 1 + trial % 7
            // Every other problem has integer costs from {0, 1, 2}: ties everywhere.
            let cost = (0..<(n * n)).map { _ in trial % 2 == 0 ? Double(rng.nextUniform()) : Double(rng.next() % 3) }
            let a = LinearAssignment.solve(cost, n: n)
            XCTAssertEqual(Set(a).count, n)
            let best = permutations(Array(0..<n)).map { total(cost, $0, n) }.min()!
            XCTAssertEqual(total(cost, a, n), best, accuracy: 1e-12)
        }
        for (n, d) in [(300, 2), (200, 10), (250, 1)] {
            let x = (0..<(n * d)).map { _ in rng.nextGaussian() }, y = (0..<(n * d)).map { _ in 2 * rng.nextGaussian() + 1 }
            var cost = [Double](repeating: 0, count: n * n)
            for i in 0..<n { for j in 0..<n { cost[i * n + j] = (0..<d).reduce(0.0) { let e = Double(x[i * d + $1] - y[j * d + $1]); return $0 + e * e } } }
            let a = LinearAssignment.solve(cost, n: n)
            XCTAssertEqual(Set(a).count, n)
            XCTAssertEqual(total(cost, a, n), total(cost, hungarian(cost, n: n), n), accuracy: 1e-9 * total(cost, a, n))
        }
        // A large common offset under small differences (prices far above ε's scale) once made bids stop moving
        // prices: the solver must still finish with the optimum.
        for offset in [1e10, 1e15, -1e12] {
            for n in [3, 60] {
                let cost = (0..<(n * n)).map { _ in offset + Double(rng.next() % 3) }
                let a = LinearAssignment.solve(cost, n: n)
                XCTAssertEqual(total(cost, a, n), total(cost, hungarian(cost, n: n), n), "offset \(offset), n \(n)")
            }
        }
        var far: [Float] = [], near: [Float] = []
        for _ in 0..<200 { far += [0, Float(rng.next() % 4) * 1e-3]; near += [1e6, Float(rng.next() % 4) * 1e-3] }
        XCTAssertEqual(Wasserstein.exactW2(far, near, dimension: 2), 1e6, accuracy: 1e-3)
        XCTAssertTrue(Wasserstein.exactW2([-3e38, -2e38], [3e38, 0], dimension: 1).isNaN)  // differences overflow float32
        let x = (0..<200).map { _ in rng.nextGaussian() }
        XCTAssertEqual(Wasserstein.exactW2(x, x.map { $0 + 3 }, dimension: 2), 3 * 2.0.squareRoot(), accuracy: 1e-5)
        // exactW2's own cost paths — rows computed on demand (d ≤ 12) and stored (d > 12) — on sets far apart, where
        // many rows crowd the same columns, against the Hungarian solver on the same squared distances.
        for d in [2, 5, 20] {
            let n = 240
            let a = (0..<(n * d)).map { _ in 0.5 * rng.nextGaussian() }
            let b = (0..<(n * d)).map { k in rng.nextGaussian() + Float(k % d == 0 ? 6 : 0) }
            var cost = [Double](repeating: 0, count: n * n)
            for i in 0..<n { for j in 0..<n { cost[i * n + j] = (0..<d).reduce(0.0) { let e = Double(a[i * d + $1] - b[j * d + $1]); return $0 + e * e } } }
            let reference = (total(cost, hungarian(cost, n: n), n) / Double(n)).squareRoot()
            XCTAssertEqual(Wasserstein.exactW2(a, b, dimension: d), reference, accuracy: 1e-12 * reference, "d = \(d)")
        }
    }

    /// A few far points among many near ones must not round the near ones' matching away: ε once started from the
    /// largest cost, and one point at 10⁸ among 499 standard normal ones made W₂ of a set with itself 0.37.
    func testFarPointsKeepTheBulkExact() {
        var rng = Xoshiro256(seed: 5)
        func shuffled(_ x: [Float], _ d: Int) -> [Float] {
            var order = Array(0..<(x.count / d))
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            return order.flatMap { x[($0 * d)..<($0 * d + d)] }
        }
        for (far, d, n) in [(Float(1e8), 2, 500), (1e6, 1, 2000), (1e15, 2, 300)] {
            var x = (0..<(n * d)).map { _ in rng.nextGaussian() }
            for k in 0..<d { x[k] = far }
            XCTAssertEqual(Wasserstein.exactW2(x, shuffled(x, d), dimension: d), 0, "far \(far), d \(d)")
        }
        // a = {(F, F)} ∪ {(i, 0)}, b = {(i + ¼, 0)} ∪ {(F, F)}: the far points match each other, the rest by a shift of ¼.
        for (far, k) in [(Float(1e12), 3), (1e8, 100)] {
            let a: [Float] = [far, far] + (0..<k).flatMap { [Float($0), 0] }
            let b: [Float] = (0..<k).reversed().flatMap { [Float($0) + 0.25, 0] } + [far, far]
            XCTAssertEqual(Wasserstein.exactW2(a, b, dimension: 2), (Double(k) / 16 / Double(k + 1)).squareRoot(), accuracy: 1e-12)
        }
        // Half the points at 10¹⁵, half at 10⁻³ (ε from the bulk's scale alone left ten rows bidding for ever), and
        // one row far from every column by 10¹² with ties (its coarse bids against a fine ε took minutes).
        func total(_ cost: [Double], _ a: [Int], _ n: Int) -> Double { (0..<n).reduce(0.0) { $0 + cost[$1 * n + a[$1]] } }
        let mixed = (0..<800).map { _ in rng.next() % 2 == 0 ? 1e-3 * rng.nextGaussian() : 1e15 * rng.nextGaussian() }
        var cost = [Double](repeating: 0, count: 400 * 400)
        for i in 0..<400 { for j in 0..<400 { let e = Double(mixed[i] - mixed[400 + j]); cost[i * 400 + j] = e * e } }
        let reference = total(cost, hungarian(cost, n: 400), 400)
        XCTAssertEqual(Wasserstein.exactW2(Array(mixed[0..<400]), Array(mixed[400...]), dimension: 1), (reference / 400).squareRoot(),
                       accuracy: 1e-9 * (reference / 400).squareRoot())
        var ties = (0..<(300 * 300)).map { _ in Double(rng.next() % 3) }
        for j in 0..<300 { ties[j] = 1e12 + Double(rng.next() % 3) }
        XCTAssertEqual(total(ties, LinearAssignment.solve(ties, n: 300), 300), total(ties, hungarian(ties, n: 300), 300))
        // Heavy tails in 1-D (lognormal, σ = 4: samples from 10⁻⁷ to 10⁶), where sorting gives the exact W₂.
        let a = (0..<2000).map { _ in expf(4 * rng.nextGaussian()) }
        // A copy matches itself up to the rounding floor of costs 10⁻¹⁴ apart beside potentials of order one
        // (points near 10⁻⁷ may swap partners): W₂ ≤ 10⁻⁹ on data reaching 10⁶.
        XCTAssertEqual(Wasserstein.exactW2(a, shuffled(a, 1), dimension: 1), 0, accuracy: 1e-9)
        let b = shuffled(a, 1).map { $0 * (1 + 1e-3 * rng.nextGaussian()) }
        let sorted = zip(a.sorted(), b.sorted()).reduce(0.0) { let e = Double($1.0 - $1.1); return $0 + e * e }
        XCTAssertEqual(Wasserstein.exactW2(a, b, dimension: 1), (sorted / 2000).squareRoot(), accuracy: 1e-9 * (sorted / 2000).squareRoot())
    }

    /// One far point among the columns (a diverged model sample on the target's side): its costs are rounded to steps
    /// of 10¹⁴ that no price of the bulk's scale can resolve, so the auction's later phases became price wars (each one
    /// raising ε ×8 every 64n bids up to 10¹³), and the exact augmentation then freed every row (2000 points took
    /// 50–90 s). The war's prices of 10¹³ also rounded the bulk's matching away (here its cost came out 23.7 and 43.3
    /// against the optimum's 2.09 and 31.1, invisible in W₂ beside the far point's 10³⁰). The matching must be optimal,
    /// the bulk's too, and the work bounded: cost rows computed, counted through the `AssignmentCosts` protocol, at
    /// most 100 per row (56 and 33 here; about 10 000 before).
    func testOneFarColumnStaysCheap() {
        var rng = Xoshiro256(seed: 8)
        func total(_ cost: [Double], _ a: [Int], _ n: Int, skipping column: Int) -> Double {
            (0..<n).reduce(0.0) { $0 + (a[$1] == column ? 0 : cost[$1 * n + a[$1]]) }
        }
        for d in [1, 2] {
            // Row 0 sits 5 from the origin towards the far point, 3·10¹⁵ nearer it than any other in cost (30 steps of
            // the rounding), so the optimum gives it the far column and matches the rest as if it were not there.
            let n = 400, far = n / 3
            var a = (0..<(n * d)).map { _ in rng.nextGaussian() }
            var b = (0..<(n * d)).map { _ in rng.nextGaussian() }
            (a[0], b[d * far]) = (5, 1e15)
            var cost = [Double](repeating: 0, count: n * n)
            for i in 0..<n {
                for j in 0..<n {
                    cost[i * n + j] = (0..<d).reduce(0.0) { let e = Double(a[i * d + $1]) - Double(b[j * d + $1]); return $0 + e * e }
                }
            }
            let counting = Counting(cost, n: n)
            let columns = LinearAssignment.solve(counting), reference = hungarian(cost, n: n)
            XCTAssertEqual(Set(columns).count, n, "d \(d): a permutation")
            XCTAssertEqual(columns[0], far, "d \(d)")
            XCTAssertEqual(reference[0], far, "d \(d)")
            let bulk = total(cost, reference, n, skipping: far)
            XCTAssertEqual(total(cost, columns, n, skipping: far), bulk, accuracy: 1e-9 * bulk, "d \(d)")
            XCTAssertLessThanOrEqual(counting.rows, 100 * n, "d \(d): cost rows computed")
        }
        // Without the planted row, rows tie at the far column in rounding; the work stays bounded (130 rows per row
        // here, about 10 000 before).
        var tied = Xoshiro256(seed: 2025, stream: 1)
        let n = 1000, a = (0..<n).map { _ in tied.nextGaussian() }
        var b = (0..<n).map { _ in tied.nextGaussian() }
        b[n / 3] = 1e15
        let counting = Counting((0..<(n * n)).map { let e = Double(a[$0 / n]) - Double(b[$0 % n]); return e * e }, n: n)
        let columns = LinearAssignment.solve(counting)
        XCTAssertEqual(Set(columns).count, n, "ties: a permutation")
        // Its partner is one of the rows nearest it in rounding: any other costs a step of 10¹⁴ more.
        let partner = columns.firstIndex(of: n / 3)!
        XCTAssertEqual(counting.cost[partner * n + n / 3], (0..<n).map { counting.cost[$0 * n + n / 3] }.min()!, "ties: far partner")
        XCTAssertLessThanOrEqual(counting.rows, 200 * n, "ties: cost rows computed")
    }

    /// Far points among the rows (diverged model samples, 10⁵–10¹⁰ from the rest): their reduced costs round to steps
    /// far above the bulk's ε. ε once stopped at 10⁻¹² of such a row's least cost, which left the bulk's matching to
    /// the exact augmentation (2000 gmm25 samples with one at 10⁷: 3.7 s against 0.15); bidding at the bulk's ε, one
    /// far row left its old column priced out of the bulk's reach (a price war), and 200 fought over the columns at
    /// their edge (2.1 s). The matching must be optimal: its total against the Hungarian method's (within the far
    /// costs' rounding), and, given the far rows' columns, the rest against the Hungarian method on what remains
    /// (where the far costs resolve the bulk's differences, up to 10⁷). On gmm25-like sets of 1500 the work is bounded
    /// (at most 100 cost rows per row: about 60 here; 335 with one row at 10⁷ before) and the prices certify the
    /// matching to within the rounding of the largest cost (a far row's augmentation moves the prices of the columns
    /// it scans by steps of its own rounding).
    func testFarRowsStayCheap() {
        var rng = Xoshiro256(seed: 9)
        func costs(_ a: [Float], _ b: [Float], n: Int, d: Int) -> [Double] {
            (0..<(n * n)).map { k in (0..<d).reduce(0.0) { let e = Double(a[k / n * d + $1] - b[k % n * d + $1]); return $0 + e * e } }
        }
        /// Moves `count` rows of `a` (n × 2), every seventh, to distance `far` in random directions; returns them.
        func scatter(_ a: inout [Float], count: Int, far: Float) -> Set<Int> {
            let rows = Set((0..<count).map { $0 * 7 % (a.count / 2) })
            for i in rows.sorted() { let t = 6.2831855 * rng.nextUniform(); (a[2 * i], a[2 * i + 1]) = (far * cos(t), far * sin(t)) }
            return rows
        }
        for (far, count): (Float, Int) in [(1e5, 1), (1e7, 1), (1e8, 1), (1e10, 1), (1e5, 30), (1e7, 30), (1e10, 30)] {
            let n = 300, label = "\(count) at \(far)"
            var a = (0..<(n * 2)).map { _ in 5 * rng.nextGaussian() }
            let farRows = scatter(&a, count: count, far: far)
            let cost = costs(a, (0..<(n * 2)).map { _ in 5 * rng.nextGaussian() }, n: n, d: 2)
            let columns = LinearAssignment.solve(cost, n: n), reference = hungarian(cost, n: n)
            XCTAssertEqual(Set(columns).count, n, "\(label): a permutation")
            func total(_ m: [Int]) -> Double { (0..<n).reduce(0.0) { $0 + cost[$1 * n + m[$1]] } }
            XCTAssertEqual(total(columns), total(reference), accuracy: 4 * total(reference).ulp, "\(label): the total")
            guard far <= 1e7 else { continue }
            let bulk = (0..<n).filter { !farRows.contains($0) }, left = Set(0..<n).subtracting(farRows.map { columns[$0] }).sorted()
            let m = bulk.count, rest = bulk.flatMap { i in left.map { cost[i * n + $0] } }
            let own = bulk.reduce(0.0) { $0 + cost[$1 * n + columns[$1]] }
            let best = hungarian(rest, n: m).enumerated().reduce(0.0) { $0 + rest[$1.offset * m + $1.element] }
            XCTAssertEqual(own, best, accuracy: 1e-9 * best, "\(label): the rest, given the far rows' columns")
        }
        for (far, count): (Float, Int) in [(1e6, 1), (1e7, 1), (1e8, 1), (1e7, 150)] {
            let n = 1500, label = "\(count) at \(far)"
            func gmm25() -> [Float] { (0..<(n * 2)).map { _ in Float(Int(rng.next() % 5) * 5 - 10) + 0.55 * rng.nextGaussian() } }
            var a = gmm25()
            _ = scatter(&a, count: count, far: far)
            let counting = Counting(costs(a, gmm25(), n: n, d: 2), n: n)
            let (columns, prices) = LinearAssignment.optimum(counting)
            XCTAssertLessThanOrEqual(counting.rows, 100 * n, "\(label): cost rows computed")
            XCTAssertEqual(Set(columns).count, n, "\(label): a permutation")
            var (worst, largest) = (0.0, 0.0)
            for i in 0..<n {
                let row = counting.cost + i * n
                let least = (0..<n).map { row[$0] - prices[$0] }.min()!
                worst = max(worst, row[columns[i]] - prices[columns[i]] - least)
                largest = max(largest, (0..<n).map { row[$0] }.max()!)
            }
            XCTAssertLessThanOrEqual(worst, 16 * largest.ulp, "\(label): every row within 16 roundings of its least reduced cost")
        }
    }

    /// The textbook O(n³) Hungarian method with row and column potentials (Kuhn–Munkres, shortest-path form), as an
    /// independent reference for the solver under test.
    func hungarian(_ cost: [Double], n: Int) -> [Int] {
        var u = [Double](repeating: 0, count: n + 1), v = [Double](repeating: 0, count: n + 1)
        var match = [Int](repeating: 0, count: n + 1), way = [Int](repeating: 0, count: n + 1)
        for i in 1...n {
            match[0] = i
            var j0 = 0
            var minv = [Double](repeating: .infinity, count: n + 1), used = [Bool](repeating: false, count: n + 1)
            repeat {
                used[j0] = true
                let i0 = match[j0]
                var (delta, j1) = (Double.infinity, 0)
                for j in 1...n where !used[j] {
                    let r = cost[(i0 - 1) * n + j - 1] - u[i0] - v[j]
                    if r < minv[j] { (minv[j], way[j]) = (r, j0) }
                    if minv[j] < delta { (delta, j1) = (minv[j], j) }
                }
                for j in 0...n {
                    if used[j] { u[match[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                }
                j0 = j1
            } while match[j0] != 0
            repeat { let j1 = way[j0]; match[j0] = match[j1]; j0 = j1 } while j0 != 0
        }
        var a = [Int](repeating: 0, count: n)
        for j in 1...n { a[match[j] - 1] = j - 1 }
        return a
    }

    func permutations(_ a: [Int]) -> [[Int]] {
        if a.count <= 1 { return [a] }
        return a.indices.flatMap { i -> [[Int]] in
            var rest = a
            let x = rest.remove(at: i)
            return permutations(rest).map { [x] + $0 }
        }
    }

    func testModeCoverage() {
        let centres: [[Float]] = [[0, 0], [10, 0], [0, 10], [10, 10]]
        let samples: [Float] = [0.1, 0, 9.9, 0.2, 0.3, 0.1, 10, 0.1]  // modes 0, 1, 0, 1
        let c = ModeCoverage(samples: samples, dimension: 2, centres: centres)
        XCTAssertEqual(c.covered, 2)
        XCTAssertEqual(c.effectiveModes, 2, accuracy: 1e-12)
        XCTAssertEqual(c.entropicCoverage, 0.5, accuracy: 1e-12, "two of four modes equally: log 2 / log 4")
        // Weight KL with empty modes: 4 samples, 2 of 4 equal-weight modes empty. Floored fractions (½, ½, ⅛, ⅛)
        // renormalised to (0.4, 0.4, 0.1, 0.1): KL = ½·log(0.25/0.4)·… ≥ 0 (it was negative before renormalising).
        let kl = try! XCTUnwrap(ModeCoverage(samples: samples, dimension: 2, centres: centres, weights: [0.25, 0.25, 0.25, 0.25]).weightKL)
        XCTAssertEqual(kl, 0.5 * log(0.25 / 0.4) + 0.5 * log(0.25 / 0.1), accuracy: 1e-12)
        XCTAssertGreaterThan(kl, 0)
        for n in [1, 2, 3, 7] {  // every sample in mode 0, n samples: never negative
            let one = ModeCoverage(samples: [Float](repeating: 0.1, count: 2 * n), dimension: 2, centres: centres, weights: [0.7, 0.1, 0.1, 0.1])
            XCTAssertGreaterThanOrEqual(one.weightKL!, 0, "n = \(n)")
        }
    }

    /// For the Gaussian target N(0, σ²I) the untrained (Brownian) sampler is exact: ELBO = EUBO = log Z = 0,
    /// ESS = 1, and W₂ to exact samples is at the finite-sample floor.
    func testEvaluatorOnExactSampler() throws {
        var rng = Xoshiro256(seed: 1)
        let net = DriftNetwork(dimension: 2, hidden: 8, rng: &rng)
        let target = GaussianMixture(name: "n", means: [[0, 0]], componentStd: Float(3).squareRoot(), defaultSigma2: 3)
        let sampler = PathSampler(target: target, process: DiffusionProcess(sigma2: 3, grid: .uniform(steps: 10)), threads: 2)
        var exactRNG = Xoshiro256(seed: 3, stream: Evaluator.exactStream)
        let exact = try XCTUnwrap(target.exactSamples(count: 2100, rng: &exactRNG))
        let second = try XCTUnwrap(target.exactSamples(count: 2100, rng: &exactRNG))
        let comparison = ComparisonSet(rows: exact, description: "2100 exact samples", isExact: true, second: second)
        let r = try Evaluator(paths: 2100, seed: 3).evaluate(net, sampler: sampler, comparison: comparison)
        let e = try XCTUnwrap(r.onPolicy)
        XCTAssertEqual(e.meanLogWeight, 0, accuracy: 1e-3)
        XCTAssertEqual(e.importanceWeighted, 0, accuracy: 1e-3)
        XCTAssertEqual(e.effectiveSampleSize, 1, accuracy: 1e-4)
        XCTAssertEqual(r.eubo!, 0, accuracy: 1e-3)
        XCTAssertEqual(r.samples.rows, 2100)
        // W₂ takes the first 2000 of each set (exact OT is O(n³)); its finite-sample floor here is about 0.2, and the
        // exact sampler's own W₂ to a second exact set is that floor.
        let s = try XCTUnwrap(r.sampleMetrics)
        XCTAssertEqual(s.w2, Wasserstein.exactW2(Array(r.samples.storage[0..<4000]), Array(exact.storage[0..<4000]), dimension: 2))
        XCTAssertEqual(s.w2Floor!, Wasserstein.exactW2(Array(second.storage[0..<4000]), Array(exact.storage[0..<4000]), dimension: 2))
        XCTAssertLessThan(s.w2!, 0.35)
        XCTAssertEqual(s.w2!, s.w2Floor!, accuracy: 0.1)
        // The mean energy −log N(x; 0, 3·I) of exact draws in 2-D: E[‖x‖²/6] + log(2π·3) = 1 + log 6π, within a few
        // standard errors (the energy's std is 1 here, so 0.1 is four of them for the 2100 samples).
        XCTAssertEqual(s.energyMean!, 1 + log(6 * Double.pi), accuracy: 0.1)
    }
}

final class ParticleMetricsTests: XCTestCase {
    /// 1-D W₂ by quantile matching: a shift by c gives c; unequal sizes match quantiles.
    func testOneDimensionalW2() {
        let a: [Double] = [0, 1, 2, 3], b = a.map { $0 + 0.5 }
        XCTAssertEqual(ParticleMetrics.w2(a, b), 0.5, accuracy: 1e-12)
        // {0, 1} against {0, 0, 1, 1}: identical distributions.
        XCTAssertEqual(ParticleMetrics.w2([0, 1], [1, 0, 1, 0]), 0, accuracy: 1e-12)
        // {0} against {0, 2}: half the mass moves by 2 → sqrt(0.5·4).
        XCTAssertEqual(ParticleMetrics.w2([0], [0, 2]), 2.0.squareRoot(), accuracy: 1e-12)
    }

    /// Identical sets have zero distances; one configuration's distances are its pair distances.
    func testParticleMetricsOnKnownSets() throws {
        let target = DoubleWellParticles()
        let particles = try XCTUnwrap(target.particleStructure)
        var rng = Xoshiro256(seed: 1)
        let x = rng.gaussianMatrix(rows: 50, cols: 8)
        let same = try ParticleMetrics(target: target, particles: particles, model: x, reference: x)
        XCTAssertEqual(same.energyW2, 0, accuracy: 1e-9)
        XCTAssertEqual(same.distanceW2, 0, accuracy: 1e-9)
        XCTAssertEqual(same.distanceTV, 0, accuracy: 1e-12)
        let square = Matrix(rows: 1, cols: 8, storage: [0, 0, 1, 0, 1, 1, 0, 1])
        XCTAssertEqual(ParticleMetrics.distances(square, particles).sorted(), [1, 1, 1, 1, 2.0.squareRoot(), 2.0.squareRoot()].map { $0 })
        var scaled = x
        for k in scaled.storage.indices { scaled.storage[k] *= 2 }  // distances double
        let far = try ParticleMetrics(target: target, particles: particles, model: scaled, reference: x)
        let d = ParticleMetrics.distances(x, particles)
        let rms = (d.reduce(0) { $0 + $1 * $1 } / Double(d.count)).squareRoot()
        XCTAssertEqual(far.distanceW2, rms, accuracy: 1e-4 * rms)  // W₂(2X, X) = ‖X‖ for a scaling
        XCTAssertGreaterThan(far.distanceTV, 0.2)
    }

    /// A Lennard-Jones pair at distance r: both particles feel |2r·dE/ds + r/2| with s = r² + 10⁻⁶ and
    /// E(s) = 2(s⁻⁶ − 2s⁻³) over ordered pairs, plus the harmonic pull (x_i − x̄); quantiles and shares follow.
    func testForceProfileOfLennardJonesPairs() throws {
        let target = LennardJones(name: "lj2", count: 2)
        let particles = try XCTUnwrap(target.particleStructure)
        func force(_ r: Double) -> Double {
            let s = r * r + 1e-6
            return abs(2 * r * 2 * (-6 * pow(s, -7) + 6 * pow(s, -4)) + r / 2)
        }
        let x = Matrix(rows: 2, cols: 6, storage: [-0.6, 0, 0, 0.6, 0, 0, 0, -0.475, 0, 0, 0.475, 0])
        let profile = try ForceProfile(target: target, particles: particles, configurations: x)
        let (a, b) = (force(1.2), force(0.95))
        XCTAssertEqual(profile.norms.count, 4)
        for (got, want) in zip(profile.norms, [a, a, b, b].sorted()) { XCTAssertEqual(got, want, accuracy: 1e-4 * want) }
        XCTAssertEqual(profile.quantile(0.5), 0.5 * (a + b), accuracy: 1e-4 * b)
        XCTAssertEqual(profile.quantile(1), max(a, b), accuracy: 1e-4 * b)
        XCTAssertEqual(profile.shareAbove(0.5 * (a + b)), 0.5)
        XCTAssertEqual(profile.shareAbove(max(a, b) + 1), 0)
        let diverged = Matrix(rows: 1, cols: 6, storage: [.nan, 0, 0, 1, 0, 0])  // e.g. a sampler that blew up
        XCTAssertThrowsError(try ForceProfile(target: target, particles: particles, configurations: diverged)) {
            XCTAssertTrue($0 is NonFiniteDensityError, "\($0)")
        }
    }

    /// A Lennard-Jones pair quenched from r = 1.2 and from r = 0.9 stops where the pair force balances the
    /// harmonic pull: dE/dr = 4r(6s⁻⁴ − 6s⁻⁷) + r/2 = 0 with s = r² + 10⁻⁶, found here by bisection.
    func testQuenchFindsTheLennardJonesPairMinimum() throws {
        let target = LennardJones(name: "lj2", count: 2)
        func slope(_ r: Double) -> Double { let s = r * r + 1e-6; return 4 * r * (6 * pow(s, -4) - 6 * pow(s, -7)) + r / 2 }
        var (lo, hi) = (0.9, 1.2)
        for _ in 0..<60 { let mid = 0.5 * (lo + hi); if slope(mid) > 0 { hi = mid } else { lo = mid } }
        let s = lo * lo + 1e-6, minimum = 2 * (pow(s, -6) - 2 * pow(s, -3)) + lo * lo / 4
        let x = Matrix(rows: 2, cols: 6, storage: [-0.6, 0, 0, 0.6, 0, 0, 0, -0.45, 0, 0, 0.45, 0])
        let result = try Quench().run(target, from: x)
        for r in 0..<2 {
            var d2 = 0.0
            for a in 0..<3 { let v = Double(result.configurations[r, a] - result.configurations[r, 3 + a]); d2 += v * v }
            XCTAssertEqual(d2.squareRoot(), lo, accuracy: 1e-4)
            XCTAssertEqual(result.energies[r], minimum, accuracy: 1e-4)
            XCTAssertLessThan(result.gradientNorms[r], 1e-2)
        }
    }
}

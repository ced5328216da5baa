import Foundation

/// Maximum mean discrepancy with a Gaussian kernel whose bandwidth is set by the median heuristic, as the
/// Beyond-ELBOs benchmark evaluates it (Blessing et al. 2024, their `ipm_eval` code; Gretton et al. 2012 for MMD).
public enum MaximumMeanDiscrepancy {
    /// MMD between the rows of `x` and `y` (row-major, `dimension` columns): k(a, b) = exp(−‖a − b‖²/(2h²)) with h the
    /// median of the pooled points' pairwise distances (each unordered pair once, the N zero self-distances
    /// included), MMD² = ΣK_xx/(n(n−1)) + ΣK_yy/(m(m−1)) − 2·mean K_xy with the diagonals kept in the sums (the
    /// benchmark's estimator), reported as √max(MMD², 10⁻²⁰). O((n + m)²) time and memory for the distances.
    /// - Precondition: at least two rows in each set.
    public static func medianHeuristic(_ x: [Float], _ y: [Float], dimension d: Int) -> Double {
        let n = x.count / d, m = y.count / d, total = n + m
        precondition(n >= 2 && m >= 2, "MMD: need two rows in each set")
        let pooled = x + y, pairs = total * (total + 1) / 2
        // Squared distances of each unordered pair, diagonal included; the median of the distances is taken on them
        // (the square root is monotone), so only the two middle values need a root.
        let squared = [Double](unsafeUninitializedCapacity: pairs) { buffer, count in
            pooled.withUnsafeBufferPointer { P in
                var index = 0
                for i in 0..<total {
                    for j in i..<total {
                        var s = 0.0
                        for k in 0..<d { let e = Double(P[i * d + k]) - Double(P[j * d + k]); s += e * e }
                        buffer[index] = s
                        index += 1
                    }
                }
            }
            count = pairs
        }
        let h = median(squared) { $0.squareRoot() }
        let scale = h > 0 ? -1 / (2 * h * h) : 0
        // Sums over ordered pairs from the upper triangle: off-diagonal pairs twice, the diagonal (k = 1) once.
        var xx = 0.0, yy = 0.0, xy = 0.0, index = 0
        for i in 0..<total {
            for j in i..<total {
                let k = exp(squared[index] * scale)
                index += 1
                switch (i < n, j < n) {
                case (true, true): xx += i == j ? k : 2 * k
                case (false, false): yy += i == j ? k : 2 * k
                default: xy += k
                }
            }
        }
        let mmd2 = xx / Double(n * (n - 1)) + yy / Double(m * (m - 1)) - 2 * xy / Double(n * m)
        return max(mmd2, 1e-20).squareRoot()
    }

    /// The median of f(v) for a monotone increasing f (the mean of the two middle values for an even count), by
    /// selection on v.
    static func median(_ values: [Double], _ f: (Double) -> Double = { $0 }) -> Double {
        var v = values
        let c = v.count, upper = c / 2
        let high = f(select(&v, upper))
        guard c % 2 == 0 else { return high }
        // After selecting `upper`, every value left of it is ≤ it: the lower middle is their maximum.
        return (f(v[0..<upper].max()!) + high) / 2
    }

    /// Rearranges `v` so that `v[k]` is its k-th smallest value with no larger value before it (Hoare's quickselect
    /// with a median-of-three pivot); returns `v[k]`.
    static func select(_ v: inout [Double], _ k: Int) -> Double {
        var low = 0, high = v.count - 1
        while low < high {
            let mid = (low + high) / 2
            let pivot = [v[low], v[mid], v[high]].sorted()[1]
            var i = low, j = high
            while i <= j {
                while v[i] < pivot { i += 1 }
                while v[j] > pivot { j -= 1 }
                if i <= j { v.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { high = j } else if k >= i { low = i } else { break }
        }
        return v[k]
    }
}

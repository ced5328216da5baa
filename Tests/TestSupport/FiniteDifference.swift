import Numerics

/// A derivative estimate by finite differences with a measured error bound, for functions that are computed in
/// float32 (the sampler's network, the targets' kernels) and therefore carry rounding noise of unknown size.
///
/// Why not a two-point difference: the rounding noise ε of f makes (f(h) − f(−h))/2h wrong by about ε/h, and ε
/// depends on the BLAS kernel (OpenBLAS's Haswell, SkylakeX, Zen and Sandybridge kernels round differently), so
/// a fixed tolerance passes on one CPU and fails on another. Here f is sampled at s = ±h·i/m (i = 1…m); the odd
/// part g(s) = (f(s) − f(−s))/2 = a₁s + a₃s³ + a₅s⁵ + O(s⁷) is fitted by least squares (in double), so the slope
/// a₁ averages the noise, and the residuals *measure* it: the bound is `z` standard errors of a₁ plus a relative
/// floor for the model's truncation. On an exact double-precision function the residuals vanish and so does the
/// bound. (Any noise-robust derivative scheme would do; this one is the textbook least-squares differentiator,
/// e.g. Savitzky & Golay 1964, with its standard error.)
public struct FiniteDifference: CustomStringConvertible {
    /// The slope a₁ at s = 0.
    public let value: Double
    /// Standard error of `value` from the fit's residuals (m − 3 degrees of freedom).
    public let standardError: Double
    /// |analytic − value| allowed: z standard errors plus 10⁻⁵·max(1, |value|).
    public let bound: Double
    /// Largest standard error for which the check still means something: 1 % of max(1, |value|).
    public var isPrecise: Bool { standardError <= 1e-2 * max(1, abs(value)) }

    /// Samples `f` at 2m points s = ±h·i/m and fits its odd part.
    /// - Parameters:
    ///   - h: half-width of the sampled interval (in the units of f's argument).
    ///   - m: points per side (≥ 6); 2m evaluations of f.
    ///   - z: standard errors allowed. With m = 16 the slope's t-statistic has 13 degrees of freedom, and
    ///     P(|t| > 10) ≈ 2·10⁻⁷ per check.
    public init(step h: Double, points m: Int = 16, z: Double = 10, _ f: (Double) throws -> Double) rethrows {
        precondition(h > 0 && m >= 6, "FiniteDifference: need h > 0 and at least 6 points a side")
        // Normal equations in u = s/h ∈ (0, 1] for the basis u, u³, u⁵ (well conditioned on that interval).
        var ata = [[Double]](repeating: [0, 0, 0], count: 3), atg = [Double](repeating: 0, count: 3)
        var samples: [(u: Double, g: Double)] = []
        for i in 1...m {
            let u = Double(i) / Double(m)
            let g = (try f(u * h) - f(-u * h)) / 2
            samples.append((u, g))
            let basis = [u, u * u * u, u * u * u * u * u]
            for r in 0..<3 {
                atg[r] += basis[r] * g
                for c in 0..<3 { ata[r][c] += basis[r] * basis[c] }
            }
        }
        let inverse = Self.invert3(ata)
        let coefficients = (0..<3).map { r in (0..<3).reduce(0.0) { $0 + inverse[r][$1] * atg[$1] } }
        var rss = 0.0
        for (u, g) in samples {
            let fit = coefficients[0] * u + coefficients[1] * u * u * u + coefficients[2] * u * u * u * u * u
            rss += (g - fit) * (g - fit)
        }
        let variance = rss / Double(m - 3)
        value = coefficients[0] / h
        standardError = (variance * inverse[0][0]).squareRoot() / h
        bound = z * standardError + 1e-5 * max(1, abs(value))
    }

    /// Whether `analytic` agrees with the estimate within the bound, and the estimate is precise enough to tell.
    public func accepts(_ analytic: Double) -> Bool { isPrecise && abs(analytic - value) <= bound }

    /// A failure message for `analytic` at `label`.
    public func message(_ analytic: Double, _ label: String) -> String {
        isPrecise ? "\(label): analytic \(analytic), finite difference \(self)"
            : "\(label): the finite difference is too noisy to check (\(self)); widen the step"
    }

    public var description: String { "\(value) ± \(bound) (standard error \(standardError))" }

    /// The inverse of a symmetric positive definite 3 × 3 matrix (adjugate over determinant).
    static func invert3(_ a: [[Double]]) -> [[Double]] {
        let c00 = a[1][1] * a[2][2] - a[1][2] * a[2][1], c01 = a[1][2] * a[2][0] - a[1][0] * a[2][2]
        let c02 = a[1][0] * a[2][1] - a[1][1] * a[2][0]
        let det = a[0][0] * c00 + a[0][1] * c01 + a[0][2] * c02
        let c11 = a[0][0] * a[2][2] - a[0][2] * a[2][0], c12 = a[0][2] * a[1][0] - a[0][0] * a[1][2]
        let c22 = a[0][0] * a[1][1] - a[0][1] * a[1][0]
        return [[c00, c01, c02], [c01, c11, c12], [c02, c12, c22]].map { $0.map { $0 / det } }
    }
}

extension FiniteDifference {
    /// Checks `gradient[k]` = ∂loss/∂values[k] at each k in `indices` (each entry perturbed alone by s, stored as
    /// Float(values[k] + s)) and returns one message per disagreement, empty when all agree.
    /// - Parameters:
    ///   - values: the float32 inputs (parameters or points), flat.
    ///   - gradient: the analytic gradient, same layout.
    ///   - h: half-width of the sampled interval around each entry.
    ///   - label: names entry k in messages.
    ///   - loss: the scalar function of the perturbed values; it also gets k (for per-row functions).
    public static func check(_ values: [Float], gradient: [Float], at indices: [Int], step h: Double,
                             label: (Int) -> String = { "[\($0)]" },
                             _ loss: (_ values: [Float], _ index: Int) throws -> Double) rethrows -> [String] {
        try zip(indices, estimates(values, at: indices, step: h, loss)).compactMap { k, estimate in
            estimate.accepts(Double(gradient[k])) ? nil : estimate.message(Double(gradient[k]), label(k))
        }
    }

    /// The estimates of ∂loss/∂values[k] at each k in `indices` that `check` compares with, so that several
    /// gradients can be judged on one set of loss evaluations (64 per entry).
    public static func estimates(_ values: [Float], at indices: [Int], step h: Double,
                                 _ loss: (_ values: [Float], _ index: Int) throws -> Double) rethrows -> [FiniteDifference] {
        try indices.map { k in
            let x = Double(values[k])
            func f(_ s: Double) throws -> Double {
                var perturbed = values
                perturbed[k] = Float(x + s)
                return try loss(perturbed, k)
            }
            // A float input moves by Float(x + s) − x, not s (off by up to half an ulp of x, 10⁻⁴ of the smallest steps):
            // a second fit adds back slope × (s − actual step) with the first fit's slope, so that a function exactly
            // linear in its input (whose fit has no residuals to widen the bound) is not judged on the rounding of x + s.
            let first = try FiniteDifference(step: h, f)
            return try FiniteDifference(step: h) { s in try f(s) + first.value * (s - (Double(Float(x + s)) - x)) }
        }
    }
}

extension FiniteDifference {
    /// Checks the gradients accumulated in `store` against finite differences of `loss` at about `perSlot`
    /// entries of every parameter slot (named "slot[j]" in messages); returns the entries checked and the failures.
    public static func checkParameters(_ store: ParameterStore, perSlot: Int, step h: Double,
                                       _ loss: (ParameterStore) throws -> Double) rethrows -> (checked: Int, failures: [String]) {
        let found = try parameterEstimates(store, perSlot: perSlot, step: h, loss)
        let failures = found.compactMap { entry in
            let analytic = Double(store.gradients[entry.index])
            return entry.estimate.accepts(analytic) ? nil : entry.estimate.message(analytic, entry.label)
        }
        return (found.count, failures)
    }

    /// The estimates `checkParameters` compares with: about `perSlot` entries of every slot, each with its flat index
    /// and its name "slot[j]".
    public static func parameterEstimates(_ store: ParameterStore, perSlot: Int, step h: Double,
                                          _ loss: (ParameterStore) throws -> Double) rethrows
        -> [(index: Int, label: String, estimate: FiniteDifference)] {
        var entries: [(index: Int, label: String)] = []
        for slot in store.slots {
            for j in stride(from: 0, to: slot.count, by: max(1, slot.count / perSlot)) {
                entries.append((slot.offset + j, "\(slot.name)[\(j)]"))
            }
        }
        let found = try estimates(store.values, at: entries.map(\.index), step: h) { values, _ in
            var perturbed = store
            perturbed.values = values
            return try loss(perturbed)
        }
        return zip(entries, found).map { ($0.index, $0.label, $1) }
    }
}

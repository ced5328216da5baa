import Foundation

/// The ziggurat method for standard normals (Marsaglia & Tsang 2000, "The Ziggurat Method for Generating Random
/// Variables", J. Stat. Softw. 5(8)), with 256 layers of equal area under f(x) = exp(−x²/2).
///
/// A draw takes one 64-bit word: 8 bits pick a layer, 1 bit the sign, 53 bits a uniform position in the layer.
/// About 99 % of draws fall inside their layer's rectangle and cost one multiply and one compare; the rest take
/// the wedge test or, from the base layer, the tail beyond r by Marsaglia's exponential rejection (1964). The
/// result is exact for the normal law up to Double rounding (no approximation of the density), then rounded to
/// Float.
enum Ziggurat {
    /// Layers; a power of two so a layer index is the low bits of a word.
    static let layers = 256
    /// Right edge of the base layer's rectangle, r, and the common area of every layer, v (the paper's
    /// constants for 256 layers of the unnormalised density).
    static let r = 3.6541528853610088
    static let v = 0.00492867323399

    /// Layer edges x₀ … x₂₅₆ (x₀ = v/f(r), the base layer's pseudo-width; x₁ = r; x₂₅₆ = 0) and f at each edge.
    /// Layer i ≥ 1 is the rectangle [0, xᵢ] × [f(xᵢ), f(xᵢ₊₁)], of area v.
    static let tables: (x: [Double], f: [Double]) = {
        var x = [Double](repeating: 0, count: layers + 1)
        x[0] = v / exp(-0.5 * r * r)
        x[1] = r
        for i in 1..<(layers - 1) {
            x[i + 1] = (-2 * log(exp(-0.5 * x[i] * x[i]) + v / x[i])).squareRoot()
        }
        x[layers] = 0
        return (x, x.map { exp(-0.5 * $0 * $0) })
    }()

    /// One standard normal, drawing as many words from `rng` as the rejection steps need (one in ~99 % of draws).
    /// Only the rectangle test is inlined; the rest is `rejected`, out of line, so that a caller's loop keeps the
    /// generator's state in registers (inlined whole, the loop spilled it and ran at about a third of the speed).
    @inline(__always)
    static func sample(_ rng: inout Xoshiro256, x: UnsafePointer<Double>, f: UnsafePointer<Double>) -> Double {
        let (i, sign, z) = position(rng.next(), x: x)
        if _fastPath(z < x[i + 1]) { return Double(bitPattern: z.bitPattern | sign) }
        // The generator goes by value, not inout: its address would keep it in memory on the common path too.
        let (value, state) = rejected(rng, layer: i, z: z, sign: sign, x: x, f: f)
        rng = state
        return value
    }

    /// The draw after its first word fell outside layer `i`'s rectangle at position `z`: the tail (base layer) or
    /// the wedge test, then new words as `sample` takes them until one is accepted. Returns the draw and the
    /// generator after it.
    @inline(never)
    static func rejected(_ generator: Xoshiro256, layer: Int, z: Double, sign: UInt64, x: UnsafePointer<Double>,
                         f: UnsafePointer<Double>) -> (Double, Xoshiro256) {
        var (rng, i, z, sign) = (generator, layer, z, sign)
        while true {
            if i == 0 { return (Double(bitPattern: tail(&rng).bitPattern | sign), rng) }
            // Wedge: a uniform height between the layer's bottom f(xᵢ) and top f(xᵢ₊₁), accepted under the curve.
            let height = f[i] + uniform(&rng) * (f[i + 1] - f[i])
            if height < exp(-0.5 * z * z) { return (Double(bitPattern: z.bitPattern | sign), rng) }
            (i, sign, z) = position(rng.next(), x: x)
            if z < x[i + 1] { return (Double(bitPattern: z.bitPattern | sign), rng) }
        }
    }

    /// What one word picks: 8 bits the layer i, bit 8 the sign (as the sign bit of a Double: a data-dependent branch
    /// on it would be mispredicted half the time), 53 bits a uniform position z in [0, xᵢ).
    @inline(__always)
    private static func position(_ bits: UInt64, x: UnsafePointer<Double>) -> (layer: Int, sign: UInt64, z: Double) {
        let i = Int(truncatingIfNeeded: bits & 0xFF)
        return (i, (bits & 0x100) << 55, Double(Int64(bitPattern: bits >> 11)) * 0x1p-53 * x[i])
    }

    /// A uniform in (0, 1] from the top 53 bits of a word.
    @inline(__always) private static func uniform(_ rng: inout Xoshiro256) -> Double {
        Double((rng.next() >> 11) + 1) * 0x1p-53
    }

    /// |z| conditioned on |z| > r: a = −ln(u₁)/r, b = −ln(u₂), accepted when 2b > a², giving r + a.
    private static func tail(_ rng: inout Xoshiro256) -> Double {
        while true {
            let a = -log(uniform(&rng)) / r, b = -log(uniform(&rng))
            if 2 * b > a * a { return r + a }
        }
    }
}

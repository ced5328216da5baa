/// Pointwise nonlinearities with fast, vectorised forward and derivative kernels.
///
/// glibc's `tanhf`/`expf` cost ~10 ns per element and block vectorisation; these kernels use a degree-5
/// polynomial `exp` on sixteen lanes (relative error below 1e-5, ample for activations), which keeps them a
/// small share of a training step.
public enum Activation: String, Sendable, CaseIterable {
    /// GELU in its tanh form, x·σ(1.5957691·(x + 0.044715·x³)).
    case gelu
    /// SiLU (swish), x·σ(x).
    case silu
    /// The identity (no nonlinearity).
    case identity
    /// tanh, as 2σ(2x) − 1.
    case tanh
}

/// Sixteen float lanes, the vector width of the pointwise kernels: one AVX-512 register, or two AVX2 ones (where they
/// ran 5–15 % faster than eight lanes, and 30 % faster in AVX-512 registers; session 28). Every lane computes the same
/// operations, so a value depends neither on the width nor on its neighbours.
public typealias FloatLanes = SIMD16<Float>

@usableFromInline let geluC1: Float = 1.5957691216057308  // 2·sqrt(2/π)
@usableFromInline let geluC2: Float = 1.5957691216057308 * 0.044715

/// e^x on sixteen lanes; inputs are clamped to [−87, 88] so the result stays finite and normal.
///
/// Rounding to the nearest integer n uses the 1.5·2²³ trick (adding it leaves n in the low mantissa bits),
/// because the generic SIMD rounding and float→int conversions do not vectorise.
/// NaN inputs stay NaN.
@inlinable @inline(__always)
public func fastExp(_ x: FloatLanes) -> FloatLanes {
    let magic = FloatLanes(repeating: 12_582_912)
    // `replace(with:where:)` vectorises; the generic `pointwiseMin`/`clamped` do not.
    var clamped = x
    clamped.replace(with: 88, where: x .> 88)
    clamped.replace(with: -87, where: x .< -87)
    // Fused multiply-adds: one rounding each, and 21 % less time per GELU value and slope than separate
    // products and sums (session 22; without FMA hardware they become exact but slow library calls).
    let shifted = magic.addingProduct(clamped, FloatLanes(repeating: 1.4426950408889634))
    let n = shifted - magic
    let r = clamped.addingProduct(n, FloatLanes(repeating: -0.6931471805599453))
    var p = FloatLanes(repeating: 1.0 / 120)
    p = FloatLanes(repeating: 1.0 / 24).addingProduct(p, r)
    p = FloatLanes(repeating: 1.0 / 6).addingProduct(p, r)
    p = FloatLanes(repeating: 0.5).addingProduct(p, r)
    p = FloatLanes(repeating: 1).addingProduct(p, r)
    p = FloatLanes(repeating: 1).addingProduct(p, r)
    let exponent = (unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return p * unsafeBitCast(exponent, to: FloatLanes.self)
}

/// The logistic function on sixteen lanes.
@inlinable @inline(__always)
public func fastSigmoid(_ x: FloatLanes) -> FloatLanes { 1 / (1 + fastExp(-x)) }

extension Activation {
    /// f(z) on sixteen lanes.
    @inlinable @inline(__always)
    public func apply(_ z: FloatLanes) -> FloatLanes {
        switch self {
        case .gelu: return GELUSlope.value(z)
        case .silu: return SiLUSlope.value(z)
        case .identity: return z
        case .tanh: return TanhSlope.value(z)
        }
    }

    /// f′(z) on sixteen lanes.
    @inlinable @inline(__always)
    public func derivative(_ z: FloatLanes) -> FloatLanes { valueAndDerivative(z).1 }

    /// (f(z), f′(z)) on sixteen lanes, sharing the exponential.
    @inlinable @inline(__always)
    public func valueAndDerivative(_ z: FloatLanes) -> (FloatLanes, FloatLanes) {
        switch self {
        case .gelu: return GELUSlope.valueAndDerivative(z)
        case .silu: return SiLUSlope.valueAndDerivative(z)
        case .identity: return (z, FloatLanes(repeating: 1))
        case .tanh: return TanhSlope.valueAndDerivative(z)
        }
    }

    /// f(z) for one scalar (tails and tests).
    public func apply(_ z: Float) -> Float { apply(FloatLanes(repeating: z))[0] }
    /// f′(z) for one scalar.
    public func derivative(_ z: Float) -> Float { derivative(FloatLanes(repeating: z))[0] }
}

/// One activation's (f, f′) on sixteen lanes as a type, so the row loops are specialised per activation (a
/// switch inside the loop became a jump table per vector and kept the calls out of line).
public protocol ActivationSlope {
    /// f(z), rounded as the first value of `valueAndDerivative`.
    static func value(_ z: FloatLanes) -> FloatLanes
    /// (f(z), f′(z)), sharing the exponential.
    static func valueAndDerivative(_ z: FloatLanes) -> (FloatLanes, FloatLanes)
}

/// GELU (tanh form) and its derivative.
public enum GELUSlope: ActivationSlope {
    @inlinable @inline(__always)
    public static func value(_ z: FloatLanes) -> FloatLanes { z * fastSigmoid(argument(z, z * z)) }
    @inlinable @inline(__always)
    public static func valueAndDerivative(_ z: FloatLanes) -> (FloatLanes, FloatLanes) {
        let z2 = z * z
        let s = fastSigmoid(argument(z, z2))
        let value = z * s
        // f′ = s + z·s·(1 − s)·(c₁ + 3c₂z²)
        return (value, s.addingProduct(value * (1 - s), FloatLanes(repeating: geluC1).addingProduct(FloatLanes(repeating: 3 * geluC2), z2)))
    }
    /// The logistic's argument z·(c₁ + c₂z²), shared by both forms so that they round alike.
    @inlinable @inline(__always)
    static func argument(_ z: FloatLanes, _ z2: FloatLanes) -> FloatLanes {
        z * FloatLanes(repeating: geluC1).addingProduct(FloatLanes(repeating: geluC2), z2)
    }
}

/// SiLU and its derivative.
public enum SiLUSlope: ActivationSlope {
    @inlinable @inline(__always)
    public static func value(_ z: FloatLanes) -> FloatLanes { z * fastSigmoid(z) }
    @inlinable @inline(__always)
    public static func valueAndDerivative(_ z: FloatLanes) -> (FloatLanes, FloatLanes) {
        let s = fastSigmoid(z)
        return (z * s, s * (1 + z * (1 - s)))
    }
}

/// tanh and its derivative.
public enum TanhSlope: ActivationSlope {
    @inlinable @inline(__always)
    public static func value(_ z: FloatLanes) -> FloatLanes { 2 * fastSigmoid(2 * z) - 1 }
    @inlinable @inline(__always)
    public static func valueAndDerivative(_ z: FloatLanes) -> (FloatLanes, FloatLanes) {
        let t = 2 * fastSigmoid(2 * z) - 1
        return (t, 1 - t * t)
    }
}

/// The identity and its derivative.
public enum IdentitySlope: ActivationSlope {
    @inlinable @inline(__always)
    public static func value(_ z: FloatLanes) -> FloatLanes { z }
    @inlinable @inline(__always)
    public static func valueAndDerivative(_ z: FloatLanes) -> (FloatLanes, FloatLanes) { (z, FloatLanes(repeating: 1)) }
}

/// Fused row-wise kernels over `rows × cols` row-major blocks.
public enum PointwiseKernels {
    /// z ← z + bias (`adding`) or z ← bias, the 1 × cols bias broadcast over the rows: a bias added to a product, or
    /// written as the start of a dense layer's output before its product is accumulated onto it. Inline vector copies
    /// rather than a `memmove` call per row (a row of 64 floats took about as long to call as to copy).
    @inlinable
    public static func broadcastBias(_ bias: UnsafePointer<Float>, rows: Int, cols: Int, into z: UnsafeMutablePointer<Float>,
                                     adding: Bool) {
        forEachVector(rows: rows, cols: cols) { o, c, width in
            let b = load(bias + c, width)
            store(adding ? load(z + o, width) + b : b, z + o, width)
        }
    }

    /// out ← f(z), row by row: sixteen lanes at a time, then eight, then the row's last values one by one (so a row's
    /// values do not depend on the rows around it).
    @inlinable
    public static func activate(_ z: UnsafePointer<Float>, rows: Int, cols: Int, activation: Activation,
                                out: UnsafeMutablePointer<Float>) {
        switch activation {  // decided once per call, as in `activateKeepingDerivative`
        case .gelu: activateRows(GELUSlope.self, z, rows: rows, cols: cols, out: out)
        case .silu: activateRows(SiLUSlope.self, z, rows: rows, cols: cols, out: out)
        case .identity: activateRows(IdentitySlope.self, z, rows: rows, cols: cols, out: out)
        case .tanh: activateRows(TanhSlope.self, z, rows: rows, cols: cols, out: out)
        }
    }

    /// out ← f(z), and f′(z) into `derivative` when one is given (a differentiable tape's value), over a row-major
    /// `rows × cols` block; `out` may be `z`. The values of `activate` either way.
    @inlinable
    public static func activate(_ z: UnsafePointer<Float>, rows: Int, cols: Int, activation: Activation,
                                out: UnsafeMutablePointer<Float>, derivative: UnsafeMutablePointer<Float>?) {
        if let derivative {
            activateKeepingDerivative(z, rows: rows, cols: cols, bias: nil, activation: activation, out: out, derivative: derivative)
        } else {
            activate(z, rows: rows, cols: cols, activation: activation, out: out)
        }
    }

    /// The rows of `activate` for one activation.
    @inlinable @inline(__always)
    static func activateRows<F: ActivationSlope>(_: F.Type, _ z: UnsafePointer<Float>, rows: Int, cols: Int,
                                                 out: UnsafeMutablePointer<Float>) {
        forEachVector(rows: rows, cols: cols) { o, _, width in store(F.value(load(z + o, width)), out + o, width) }
    }

    /// Walks a row-major `rows × cols` block sixteen lanes at a time, two vectors per step (their exponential and
    /// division chains overlap), then eight lanes (the low half of a vector) and each row's last `cols` mod 8 values
    /// one by one, so that a row's values do not depend on the rows around it. The body gets the element's offset,
    /// its column and the number of values (16, 8 or 1) for `load` and `store`.
    @inlinable @inline(__always)
    static func forEachVector(rows: Int, cols: Int, _ body: (Int, Int, Int) -> Void) {
        let pairEnd = cols & ~31, vectorEnd = cols & ~15, halfEnd = cols & ~7
        for r in 0..<rows {
            let row = r * cols
            var c = 0
            while c < pairEnd { body(row + c, c, 16); body(row + c + 16, c + 16, 16); c += 32 }
            while c < vectorEnd { body(row + c, c, 16); c += 16 }
            if c < halfEnd { body(row + c, c, 8); c += 8 }
            while c < cols { body(row + c, c, 1); c += 1 }
        }
    }

    /// `width` values from `p` (16, 8 or 1, a constant where the kernels call it): a whole vector, its low half with
    /// zeros above, or one value in every lane.
    @inlinable @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ width: Int) -> FloatLanes {
        switch width {
        case 16: return UnsafeRawPointer(p).loadUnaligned(as: FloatLanes.self)
        case 8: return FloatLanes(lowHalf: UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self), highHalf: .zero)
        default: return FloatLanes(repeating: p[0])
        }
    }

    /// Stores the first `width` lanes of `v` (16, 8 or 1) at `p`.
    @inlinable @inline(__always)
    static func store(_ v: FloatLanes, _ p: UnsafeMutablePointer<Float>, _ width: Int) {
        switch width {
        case 16: UnsafeMutableRawPointer(p).storeBytes(of: v, as: FloatLanes.self)
        case 8: UnsafeMutableRawPointer(p).storeBytes(of: v.lowHalf, as: SIMD8<Float>.self)
        default: p[0] = v[0]
        }
    }

    /// out ← f(z + bias) and derivative ← f′(z + bias), the bias row broadcast over rows (none when nil).
    /// `derivative` may be `z` itself. Kept derivatives make the backward pass a plain product
    /// (`multiplyAndSumColumns`) with no exponentials.
    @inlinable
    public static func activateKeepingDerivative(_ z: UnsafePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>?,
                                                 activation: Activation, out: UnsafeMutablePointer<Float>,
                                                 derivative: UnsafeMutablePointer<Float>) {
        // One loop per activation, so the switch is decided once per call rather than once per vector (it was a
        // jump table inside the loop), and the compiler can interleave the independent vectors of a row.
        switch activation {
        case .gelu: activateRows(GELUSlope.self, z, rows: rows, cols: cols, bias: bias, out: out, derivative: derivative)
        case .silu: activateRows(SiLUSlope.self, z, rows: rows, cols: cols, bias: bias, out: out, derivative: derivative)
        case .identity: activateRows(IdentitySlope.self, z, rows: rows, cols: cols, bias: bias, out: out, derivative: derivative)
        case .tanh: activateRows(TanhSlope.self, z, rows: rows, cols: cols, bias: bias, out: out, derivative: derivative)
        }
    }

    /// The rows of `activateKeepingDerivative` for one activation's (f, f′); every lane computes exactly what
    /// `valueAndDerivative` computes. Each vector is read before it is written, so `derivative` may be `z`.
    @inlinable @inline(__always)
    static func activateRows<F: ActivationSlope>(_: F.Type, _ z: UnsafePointer<Float>, rows: Int, cols: Int,
                                                 bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>,
                                                 derivative: UnsafeMutablePointer<Float>) {
        forEachVector(rows: rows, cols: cols) { o, c, width in
            let (value, slope) = F.valueAndDerivative(bias.map { load(z + o, width) + load($0 + c, width) } ?? load(z + o, width))
            store(value, out + o, width); store(slope, derivative + o, width)
        }
    }

    /// out ← g ⊙ f over `rows × cols` values (`out` may be `g`) and, when `sums` is given, sums[c] += Σ_r out[r, c]
    /// (in row order, as `accumulateColumnSums`): a dense layer's δ and its bias gradient in one pass over δ.
    @inlinable
    public static func multiplyAndSumColumns(_ g: UnsafePointer<Float>, by f: UnsafePointer<Float>, rows: Int, cols: Int,
                                             out: UnsafeMutablePointer<Float>, into sums: UnsafeMutablePointer<Float>?) {
        for r in 0..<rows {
            let gr = g + r * cols, fr = f + r * cols, o = out + r * cols
            if let sums {
                for c in 0..<cols {
                    let product = gr[c] * fr[c]
                    o[c] = product
                    sums[c] += product
                }
            } else {
                for c in 0..<cols { o[c] = gr[c] * fr[c] }
            }
        }
    }

    /// out[c] += Σ_r g[r, c]: the bias gradient of a dense layer.
    @inlinable
    public static func accumulateColumnSums(_ g: UnsafePointer<Float>, rows: Int, cols: Int,
                                            into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let gr = g + r * cols
            for c in 0..<cols { out[c] += gr[c] }
        }
    }
}

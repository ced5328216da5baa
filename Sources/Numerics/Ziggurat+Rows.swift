extension Xoshiro256 {
    /// Fills row r of `rows` (`count` values at `out` + r·`stride`) with standard normals from `generators[r]`: the same
    /// values, and the same generators after, as `generators[r].fillGaussian(out + r·stride, count: count)` row by row.
    ///
    /// Eight rows' generators run in the lanes of one vector, with the ziggurat's rectangle test (`Ziggurat.sample`)
    /// done on all eight draws at once; a lane whose draw falls outside its rectangle (about 1 % of draws) finishes
    /// that draw alone through `Ziggurat.rejected` on its own generator, so each row consumes its stream exactly as
    /// the one-row loop does. The rows left over after the last eight go through `fillGaussian`. A path sampler draws
    /// each step's noise this way, one generator per path: the one-row loop spent about a tenth of a TB step on
    /// manywell's 32 coordinates (session 28).
    public static func fillGaussianRows(_ generators: UnsafeMutablePointer<Xoshiro256>, rows: Int, count: Int,
                                        into out: UnsafeMutablePointer<Float>, stride: Int) {
        typealias Words = SIMD8<UInt64>
        let tables = Ziggurat.tables
        var first = 0
        tables.x.withUnsafeBufferPointer { xb in
            tables.f.withUnsafeBufferPointer { fb in
                let x = xb.baseAddress!, f = fb.baseAddress!
                while first + 8 <= rows {
                    var (s0, s1, s2, s3) = (Words(), Words(), Words(), Words())
                    for lane in 0..<8 {
                        let g = generators[first + lane]
                        (s0[lane], s1[lane], s2[lane], s3[lane]) = (g.s0, g.s1, g.s2, g.s3)
                    }
                    let base = out + first * stride
                    for c in 0..<count {
                        // xoshiro256** on every lane, as `next`.
                        let scrambled = s1 &* 5
                        let bits = (scrambled &<< 7 | scrambled &>> 57) &* 9
                        let t = s1 &<< 17
                        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
                        s2 ^= t
                        s3 = s3 &<< 45 | s3 &>> 19
                        // `Ziggurat.position` and the rectangle test on every lane.
                        let layer = bits & 0xFF, sign = (bits & 0x100) &<< 55, mantissa = bits &>> 11
                        // x[i] and x[i + 1] as one 16-byte load per lane (a gather instruction was slower).
                        var width = SIMD8<Double>(), edge = SIMD8<Double>()
                        for lane in 0..<8 {
                            let pair = UnsafeRawPointer(x + Int(truncatingIfNeeded: layer[lane])).loadUnaligned(as: SIMD2<Double>.self)
                            (width[lane], edge[lane]) = (pair[0], pair[1])
                        }
                        // The 53-bit mantissa as a double, exactly, from its two 32-bit halves put into the mantissa
                        // of 2⁵² (AVX2 has no 64-bit integer conversion: one scalar conversion per lane took longer).
                        let magic = Words(repeating: 0x4330_0000_0000_0000)
                        let high = unsafeBitCast(mantissa &>> 32 | magic, to: SIMD8<Double>.self) - 0x1p52
                        let low = unsafeBitCast(mantissa & 0xFFFF_FFFF | magic, to: SIMD8<Double>.self) - 0x1p52
                        let uniform = high * 0x1p32 + low
                        let z = uniform * 0x1p-53 * width
                        let inside = z .< edge
                        let signed = unsafeBitCast(unsafeBitCast(z, to: Words.self) | sign, to: SIMD8<Double>.self)
                        if _fastPath(all(inside)) {  // all eight draws in their rectangles: eight stores, unrolled
                            for lane in 0..<8 { base[lane &* stride &+ c] = Float(signed[lane]) }
                            continue
                        }
                        for lane in 0..<8 {
                            if inside[lane] {
                                base[lane &* stride &+ c] = Float(signed[lane])
                                continue
                            }
                            var g = generators[first + lane]
                            (g.s0, g.s1, g.s2, g.s3) = (s0[lane], s1[lane], s2[lane], s3[lane])
                            let (value, after) = Ziggurat.rejected(g, layer: Int(truncatingIfNeeded: layer[lane]), z: z[lane],
                                                                   sign: sign[lane], x: x, f: f)
                            base[lane &* stride &+ c] = Float(value)
                            (s0[lane], s1[lane], s2[lane], s3[lane]) = (after.s0, after.s1, after.s2, after.s3)
                        }
                    }
                    for lane in 0..<8 {
                        (generators[first + lane].s0, generators[first + lane].s1) = (s0[lane], s1[lane])
                        (generators[first + lane].s2, generators[first + lane].s3) = (s2[lane], s3[lane])
                    }
                    first += 8
                }
            }
        }
        for r in first..<rows { generators[r].fillGaussian(out + r * stride, count: count) }
    }
}

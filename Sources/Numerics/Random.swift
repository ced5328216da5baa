import Foundation

/// xoshiro256** (Blackman & Vigna): a fast 64-bit generator with 256 bits of state.
///
/// Streams are derived from a seed and a list of identifiers (for example run seed, iteration, row) through
/// SplitMix64, so every row of every iteration has its own reproducible stream, independent of how rows are
/// split across threads.
public struct Xoshiro256: RandomNumberGenerator, Sendable {
    @usableFromInline var s0, s1, s2, s3: UInt64

    /// A generator seeded from `seed` and the stream identifiers `stream`.
    public init(seed: UInt64, stream: UInt64...) { self.init(seed: seed, streamPath: stream) }

    /// A generator seeded from `seed` and the stream identifiers `streamPath`.
    public init(seed: UInt64, streamPath: [UInt64]) {
        var h = SplitMix64(state: seed)
        var mixed = h.next()
        for id in streamPath {
            h = SplitMix64(state: mixed ^ (id &* 0x9E37_79B9_7F4A_7C15))
            mixed = h.next()
        }
        var sm = SplitMix64(state: mixed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
    }

    /// The 256-bit state, for checkpoints of runs that keep one generator across iterations.
    public var state: [UInt64] { [s0, s1, s2, s3] }

    /// A generator continuing from `state` (four words, not all zero, as `state` returned them).
    public init?(state: [UInt64]) {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }
        (s0, s1, s2, s3) = (state[0], state[1], state[2], state[3])
    }

    /// The next 64 random bits.
    @inlinable public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// A uniform Float in the open interval (0, 1).
    @inlinable public mutating func nextUniform() -> Float {
        Float((next() >> 40) + 1) * (1.0 / 16_777_218.0)
    }

    /// Fills `count` elements at `out` with independent standard normals (the ziggurat method, `Ziggurat`).
    public mutating func fillGaussian(_ out: UnsafeMutablePointer<Float>, count: Int) {
        let tables = Ziggurat.tables
        var rng = self  // a local copy stays in registers; `self` would be written back on every draw
        tables.x.withUnsafeBufferPointer { x in
            tables.f.withUnsafeBufferPointer { f in
                for i in 0..<count { out[i] = Float(Ziggurat.sample(&rng, x: x.baseAddress!, f: f.baseAddress!)) }
            }
        }
        self = rng
    }

    /// One standard normal.
    public mutating func nextGaussian() -> Float {
        var z: Float = 0
        fillGaussian(&z, count: 1)
        return z
    }

    /// A matrix of independent standard normals.
    public mutating func gaussianMatrix(rows: Int, cols: Int) -> Matrix {
        Matrix(rows: rows, cols: cols) { fillGaussian($0.baseAddress!, count: rows * cols) }
    }
}

/// SplitMix64, used only to turn seeds and stream identifiers into well-mixed generator states.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

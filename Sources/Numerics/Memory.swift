import CBLAS

/// Process-wide allocator settings.
public enum Memory {
    /// Keeps freed blocks of up to 32 MiB (glibc's largest threshold) in the heap instead of returning them to the
    /// system. The tape allocates a fresh matrix per operation; with glibc's defaults every block above 128 KiB is
    /// a new mapping, and the page faults of touching it cost as much as the arithmetic (iDEM on LJ13 spent 45 %
    /// in the kernel). Networks evaluate in chunks small enough to stay under the threshold. All threads share the
    /// main arena, where that setting holds (per-thread arenas map such blocks anew).
    public static func keepFreedMemory() { dsn_keep_freed_memory() }
}

extension Memory {
    /// The alignment of `allocateFloats`, in bytes: one cache line.
    public static let cacheLine = 64

    /// Uninitialised room for `count` floats starting on a cache line; free it with `deallocate()`.
    ///
    /// Product operands live in such blocks: libxsmm's AVX2 kernel for a weight gradient hᵀ·δ (64 × 64 over 600
    /// rows) took 99–113 µs when δ's rows started 16 or 32 bytes into a line, where glibc puts the start of a large
    /// block, against 70–76 µs when they start a line (Zen 3, session 31). The arithmetic, and so every bit, is the same.
    public static func allocateFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
        let capacity = max(count, 1)
        return UnsafeMutableRawPointer.allocate(byteCount: capacity * MemoryLayout<Float>.stride, alignment: cacheLine)
            .bindMemory(to: Float.self, capacity: capacity)
    }
}

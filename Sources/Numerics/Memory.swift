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

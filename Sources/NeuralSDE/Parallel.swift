import Foundation
import Numerics

/// Splits `0..<count` into `parts` contiguous chunks and runs `body(chunkIndex, range)` for each, concurrently.
///
/// Chunks touch disjoint rows of shared buffers, which is why the body may capture raw pointers. The split
/// depends only on `count` and `parts`, so a reduction over chunks in index order is reproducible for a
/// fixed thread count.
public func parallelChunks(_ count: Int, parts: Int, _ body: (Int, Range<Int>) -> Void) {
    let ranges = evenSplit(count, parts: parts)
    let n = ranges.count
    BLAS.flushDenormalsToZero()
    if n == 1 { body(0, ranges[0]); return }
    withoutActuallyEscaping(body) { escapable in
        let shared = UncheckedSendable(escapable)
        DispatchQueue.concurrentPerform(iterations: n) { k in
            BLAS.flushDenormalsToZero()
            shared.value(k, ranges[k])
        }
    }
}

/// `0..<count` cut into `min(parts, count)` contiguous ranges (at least one) whose sizes differ by at most one.
public func evenSplit(_ count: Int, parts: Int) -> [Range<Int>] {
    let n = max(1, min(parts, count))
    return (0..<n).map { k in (count * k / n)..<(count * (k + 1) / n) }
}

/// Wraps a value whose concurrent use the caller has made safe by construction (disjoint writes).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

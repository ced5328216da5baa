/// A dense, row-major matrix of `Float` with value semantics (copy-on-write through `Array`).
///
/// Vectors are matrices with one row or one column; a scalar is 1×1. Kernels take raw pointers
/// (`withUnsafeBufferPointer`), so the storage is one contiguous array and `cols` is the leading dimension.
public struct Matrix: Equatable, Sendable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns (also the leading dimension of the storage).
    public let cols: Int
    /// Row-major elements, `rows * cols` of them.
    public var storage: [Float]

    /// A matrix filled with `value`.
    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        precondition(rows >= 0 && cols >= 0, "Matrix: negative shape \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        self.storage = [Float](repeating: value, count: rows * cols)
    }

    /// A matrix over existing row-major elements; `storage.count` must equal `rows * cols`.
    public init(rows: Int, cols: Int, storage: [Float]) {
        precondition(storage.count == rows * cols, "Matrix: \(storage.count) elements for shape \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        self.storage = storage
    }

    /// A matrix whose elements are written by `initializer` before first use (no zero fill).
    public init(rows: Int, cols: Int, uninitialized initializer: (UnsafeMutableBufferPointer<Float>) -> Void) {
        self.rows = rows
        self.cols = cols
        self.storage = [Float](unsafeUninitializedCapacity: rows * cols) { buffer, count in
            initializer(buffer)
            count = rows * cols
        }
    }

    /// The rows of this matrix at `indices`, in that order (repeats allowed), as a new `indices.count × cols` matrix.
    public func rows(_ indices: [Int]) -> Matrix {
        Matrix(rows: indices.count, cols: cols, storage: indices.flatMap { storage[($0 * cols)..<(($0 + 1) * cols)] })
    }

    /// A 1×1 matrix.
    public init(scalar: Float) { self.init(rows: 1, cols: 1, storage: [scalar]) }

    /// Number of elements.
    @inlinable public var count: Int { rows * cols }

    /// The single element of a 1×1 matrix.
    public var scalar: Float {
        precondition(count == 1, "Matrix.scalar on a \(rows)×\(cols) matrix")
        return storage[0]
    }

    /// Element at (`row`, `col`).
    @inlinable public subscript(row: Int, col: Int) -> Float {
        get { storage[row * cols + col] }
        set { storage[row * cols + col] = newValue }
    }
}

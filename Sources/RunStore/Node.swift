/// A scalar attribute value.
public enum AttributeValue: Sendable, Equatable, CustomStringConvertible {
    case int(Int64)
    case double(Double)
    case string(String)
    /// A boolean, stored as h5py stores numpy booleans (an 8-bit enum FALSE = 0, TRUE = 1), so `attrs[k]` is a
    /// Python bool and `bool(attrs[k])` is never true for false.
    case bool(Bool)

    public var description: String {
        switch self {
        case .int(let v): return "\(v)"
        case .double(let v): return "\(v)"
        case .string(let v): return v
        case .bool(let v): return "\(v)"
        }
    }

    /// The value as a Double, when numeric.
    public var doubleValue: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let v): return v
        case .string, .bool: return nil
        }
    }
}

/// An n-dimensional array stored as a dataset.
public enum Dataset: Sendable, Equatable {
    case float(shape: [Int], values: [Float])
    case double(shape: [Int], values: [Double])
    case int64(shape: [Int], values: [Int64])

    /// The array's shape.
    public var shape: [Int] {
        switch self {
        case .float(let s, _), .double(let s, _), .int64(let s, _): return s
        }
    }

    /// The values widened to Double.
    public var doubles: [Double] {
        switch self {
        case .float(_, let v): return v.map(Double.init)
        case .double(_, let v): return v
        case .int64(_, let v): return v.map(Double.init)
        }
    }

    /// The values narrowed to Float.
    public var floats: [Float] {
        switch self {
        case .float(_, let v): return v
        case .double(_, let v): return v.map(Float.init)
        case .int64(_, let v): return v.map(Float.init)
        }
    }
}

/// An HDF5 group as a value: ordered attributes, datasets and subgroups.
///
/// Run files are built as one `Node` tree in memory and written in one go, which is what makes the atomic
/// write (temporary file, then rename) simple.
public struct Node: Sendable, Equatable {
    /// Attributes in write order.
    public var attributes: [(name: String, value: AttributeValue)] = []
    /// Datasets in write order.
    public var datasets: [(name: String, data: Dataset)] = []
    /// Subgroups in write order.
    public var groups: [(name: String, node: Node)] = []

    /// An empty group.
    public init() {}

    /// Sets (or replaces) an attribute.
    public mutating func set(_ name: String, _ value: AttributeValue) {
        attributes.removeAll { $0.name == name }
        attributes.append((name, value))
    }

    /// Adds (or replaces) a dataset.
    public mutating func put(_ name: String, _ data: Dataset) {
        datasets.removeAll { $0.name == name }
        datasets.append((name, data))
    }

    /// Adds (or replaces) a subgroup.
    public mutating func put(_ name: String, _ node: Node) {
        groups.removeAll { $0.name == name }
        groups.append((name, node))
    }

    /// The attribute called `name`.
    public func attribute(_ name: String) -> AttributeValue? { attributes.first { $0.name == name }?.value }
    /// The dataset called `name`.
    public func dataset(_ name: String) -> Dataset? { datasets.first { $0.name == name }?.data }
    /// The subgroup called `name`.
    public func group(_ name: String) -> Node? { groups.first { $0.name == name }?.node }

    public static func == (a: Node, b: Node) -> Bool {
        a.attributes.elementsEqual(b.attributes) { $0.name == $1.name && $0.value == $1.value }
            && a.datasets.elementsEqual(b.datasets) { $0.name == $1.name && $0.data == $1.data }
            && a.groups.elementsEqual(b.groups) { $0.name == $1.name && $0.node == $1.node }
    }
}

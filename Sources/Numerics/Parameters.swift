import Foundation

/// A named, shaped view into a `ParameterStore`.
public struct ParameterSlot: Sendable, Equatable {
    /// Unique name within the store (used in checkpoints).
    public let name: String
    /// Offset of the first element in the flat arrays.
    public let offset: Int
    /// Rows of the parameter matrix.
    public let rows: Int
    /// Columns of the parameter matrix.
    public let cols: Int
    /// Number of elements.
    public var count: Int { rows * cols }
}

/// All trainable values of one model in one flat `Float` array, plus a gradient array of the same layout.
///
/// One flat layout makes the optimiser, gradient clipping and checkpointing single loops and keeps
/// parameters contiguous for the kernels.
public struct ParameterStore: Sendable, Equatable {
    /// The slots in creation order.
    public private(set) var slots: [ParameterSlot] = []
    /// Parameter values, concatenated in slot order.
    public var values: [Float] = []
    /// Gradients, same layout as `values`; models accumulate into it, `zeroGradients` clears it.
    public var gradients: [Float] = []

    /// An empty store.
    public init() {}

    /// Appends a parameter with the given initial value and returns its slot.
    public mutating func add(_ name: String, _ initial: Matrix) -> ParameterSlot {
        precondition(!slots.contains { $0.name == name }, "ParameterStore: duplicate name \(name)")
        let slot = ParameterSlot(name: name, offset: values.count, rows: initial.rows, cols: initial.cols)
        slots.append(slot)
        values += initial.storage
        gradients += [Float](repeating: 0, count: initial.count)
        return slot
    }

    /// A copy of a parameter's value.
    public func value(_ slot: ParameterSlot) -> Matrix {
        Matrix(rows: slot.rows, cols: slot.cols, storage: Array(values[slot.offset..<(slot.offset + slot.count)]))
    }

    /// A copy of a parameter's gradient.
    public func gradient(_ slot: ParameterSlot) -> Matrix {
        Matrix(rows: slot.rows, cols: slot.cols,
               storage: Array(gradients[slot.offset..<(slot.offset + slot.count)]))
    }

    /// Adds `g` to a parameter's gradient.
    public mutating func accumulateGradient(_ slot: ParameterSlot, _ g: Matrix) {
        precondition(g.rows == slot.rows && g.cols == slot.cols, "gradient shape mismatch for \(slot.name)")
        for i in 0..<slot.count { gradients[slot.offset + i] += g.storage[i] }
    }

    /// Sets every gradient to zero.
    public mutating func zeroGradients() {
        gradients.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    /// The Euclidean norm of all gradients together.
    public var gradientNorm: Float {
        var s: Double = 0
        for g in gradients { s += Double(g) * Double(g) }
        return Float(s.squareRoot())
    }

    /// Rescales the gradients so that their joint norm is at most `maxNorm`; returns the norm before clipping.
    @discardableResult
    public mutating func clipGradientNorm(_ maxNorm: Float) -> Float {
        let norm = gradientNorm
        if norm > maxNorm && norm > 0 {
            let scale = maxNorm / norm
            for i in gradients.indices { gradients[i] *= scale }
        }
        return norm
    }
}

/// Adam (Kingma & Ba 2015) over one `ParameterStore`, with bias correction.
public struct Adam: Sendable, Equatable {
    /// Step size.
    public var learningRate: Float
    /// Decay rate of the first-moment estimate.
    public var beta1: Float = 0.9
    /// Decay rate of the second-moment estimate.
    public var beta2: Float = 0.999
    /// Added to the denominator for stability.
    public var epsilon: Float = 1e-8
    /// First moments, same layout as the store.
    public var firstMoment: [Float]
    /// Second moments, same layout as the store.
    public var secondMoment: [Float]
    /// Number of updates taken.
    public var step: Int = 0

    /// An optimiser for a store with `count` values.
    public init(learningRate: Float, count: Int) {
        self.learningRate = learningRate
        firstMoment = [Float](repeating: 0, count: count)
        secondMoment = [Float](repeating: 0, count: count)
    }

    /// One update of `store.values` from `store.gradients`; the slots in `overrides` use their own learning
    /// rate (e.g. a flow head trained faster than the policy that shares its trunk).
    public mutating func update(_ store: inout ParameterStore, overrides: [(slot: ParameterSlot, learningRate: Float)] = []) {
        precondition(store.values.count == firstMoment.count, "Adam: store size changed")
        step += 1
        var rates = [(range: 0..<store.values.count, rate: learningRate)]
        for o in overrides.sorted(by: { $0.slot.offset < $1.slot.offset }) {
            let last = rates.removeLast()
            let slot = o.slot.offset..<(o.slot.offset + o.slot.count)
            rates += [(last.range.lowerBound..<slot.lowerBound, last.rate), (slot, o.learningRate),
                      (slot.upperBound..<last.range.upperBound, last.rate)]
        }
        for (range, rate) in rates { update(&store, range: range, learningRate: rate) }
    }

    private mutating func update(_ store: inout ParameterStore, range: Range<Int>, learningRate lr: Float) {
        let c1 = 1 - Float(Foundation.pow(Double(beta1), Double(step)))
        let c2 = 1 - Float(Foundation.pow(Double(beta2), Double(step)))
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        for i in range {
            let g = store.gradients[i]
            let m = b1 * firstMoment[i] + (1 - b1) * g
            let v = b2 * secondMoment[i] + (1 - b2) * g * g
            firstMoment[i] = m
            secondMoment[i] = v
            store.values[i] -= lr * (m / c1) / ((v / c2).squareRoot() + eps)
        }
    }
}

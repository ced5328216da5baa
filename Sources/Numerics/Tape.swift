import Foundation

/// Reverse-mode automatic differentiation at tensor granularity.
///
/// Each operation records its output and a pullback that maps the output's cotangent to its inputs'
/// cotangents. Operations are whole-matrix kernels (BLAS for products, the fused pointwise kernels for
/// activations), so the bookkeeping cost is per operation, not per element. A tape is used for one
/// forward/backward pass and then dropped.
public final class Tape {
    /// A handle to a value recorded on a tape.
    public struct Variable: Hashable, Sendable {
        /// Position on the tape.
        public let id: Int
    }

    private var values: [Matrix] = []
    private var cotangents: [Matrix?] = []
    private var pullbacks: [((Matrix, Tape) -> Void)?] = []
    private var parameterLeaves: [(id: Int, slot: ParameterSlot)] = []

    /// Whether pullbacks are recorded. An inference tape (false) keeps values only: operations skip the work
    /// that exists for the backward pass, and `backward` must not be called.
    public let differentiable: Bool

    /// An empty tape; `differentiable: false` for forward evaluation only.
    public init(differentiable: Bool = true) { self.differentiable = differentiable }

    /// The forward value of `v`.
    public func value(_ v: Variable) -> Matrix { values[v.id] }

    /// The cotangent of `v` after `backward`, or zeros when nothing flowed into it.
    public func gradient(_ v: Variable) -> Matrix {
        cotangents[v.id] ?? Matrix(rows: values[v.id].rows, cols: values[v.id].cols)
    }

    /// Records `value`, computed from other variables, with the pullback that propagates its cotangent.
    public func record(_ value: Matrix, pullback: ((Matrix, Tape) -> Void)?) -> Variable {
        values.append(value)
        cotangents.append(nil)
        pullbacks.append(differentiable ? pullback : nil)
        return Variable(id: values.count - 1)
    }

    /// A leaf that receives no gradient bookkeeping beyond its own cotangent.
    public func constant(_ m: Matrix) -> Variable { record(m, pullback: nil) }

    /// A leaf holding a copy of a stored parameter; `exportGradients` adds its cotangent to the store.
    public func parameter(_ store: ParameterStore, _ slot: ParameterSlot) -> Variable {
        let v = record(store.value(slot), pullback: nil)
        parameterLeaves.append((v.id, slot))
        return v
    }

    /// Adds `g` to the cotangent of `v` (used by pullbacks).
    public func accumulate(_ v: Variable, _ g: Matrix) {
        precondition(g.rows == values[v.id].rows && g.cols == values[v.id].cols,
                     "Tape: cotangent \(g.rows)×\(g.cols) for value \(values[v.id].rows)×\(values[v.id].cols)")
        if var existing = cotangents[v.id] {
            cotangents[v.id] = nil  // keep the buffer uniquely referenced while adding in place
            existing.storage.withUnsafeMutableBufferPointer { E in
                g.storage.withUnsafeBufferPointer { G in for i in 0..<E.count { E[i] += G[i] } }
            }
            cotangents[v.id] = existing
        } else {
            cotangents[v.id] = g
        }
    }

    /// Propagates cotangents from `output` to every earlier value. `seed` defaults to ones (for a scalar loss,
    /// the gradient).
    public func backward(from output: Variable, seed: Matrix? = nil) {
        precondition(differentiable, "Tape.backward on an inference tape (Tape(differentiable: false))")
        let out = values[output.id]
        accumulate(output, seed ?? Matrix(rows: out.rows, cols: out.cols, repeating: 1))
        for id in stride(from: output.id, through: 0, by: -1) {
            guard let pullback = pullbacks[id], let g = cotangents[id] else { continue }
            pullback(g, self)
        }
    }

    /// Adds the cotangents of all parameter leaves to `store.gradients`.
    public func exportGradients(into store: inout ParameterStore) {
        for (slot, g) in parameterGradients() { store.accumulateGradient(slot, g) }
    }

    /// The cotangents of the parameter leaves that received one, in recording order: what `exportGradients` adds,
    /// for callers that run tapes on several threads and must add them to one store in a fixed order.
    public func parameterGradients() -> [(slot: ParameterSlot, gradient: Matrix)] {
        parameterLeaves.compactMap { leaf in cotangents[leaf.id].map { (leaf.slot, $0) } }
    }
}

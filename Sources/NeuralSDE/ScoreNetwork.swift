import Foundation
import Numerics

/// A time-conditioned vector field s(x, t) recorded on a `Tape`: the score network of energy matching (iDEM).
public protocol ScoreNetwork: Sendable {
    /// All trainable values.
    var parameters: ParameterStore { get set }
    /// Records s(x, t) for the rows of `x` (B × d) at times `t` (B values). The result holds the B × d outputs in
    /// row-major order (particle networks return them as B·n × D).
    func forward(_ tape: Tape, x: Matrix, t: [Float]) -> Tape.Variable
    /// Rows per tape: small enough that the tape's temporaries stay below the allocator's reuse threshold.
    var chunkRows: Int { get }
    /// Names the function the parameters parameterise; a checkpoint written under another name cannot be resumed
    /// even when the parameter count matches.
    var architecture: String { get }
}

extension ScoreNetwork {
    /// s(x, t) as B × d, without keeping the tape, `chunkRows` rows at a time.
    public func evaluate(_ x: Matrix, t: [Float]) -> Matrix {
        var out = Matrix(rows: x.rows, cols: x.cols)
        for start in stride(from: 0, to: x.rows, by: chunkRows) {
            let end = min(start + chunkRows, x.rows), d = x.cols
            let tape = Tape(differentiable: false)
            let chunk = Matrix(rows: end - start, cols: d, storage: Array(x.storage[(start * d)..<(end * d)]))
            out.storage.replaceSubrange((start * d)..<(end * d), with: tape.value(forward(tape, x: chunk, t: Array(t[start..<end]))).storage)
        }
        return out
    }
}

extension EGNN: ScoreNetwork {
    /// Version 2: normalised differences, sum over neighbours, coordinate range (version 1 averaged raw differences).
    public var architecture: String { "egnn-v2 range=\(coordinateRange)" }

    /// About 16 000 edges per tape.
    public var chunkRows: Int { max(1, 16_384 / (particles * (particles - 1))) }
}

/// Fourier features of t: [t, sin(ω_k t), cos(ω_k t)] for 8 frequencies ω_k from 1 to 100, shared by the
/// time-conditioned networks.
enum TimeFeatures {
    static let frequencies: [Float] = (0..<8).map { 1 + 99 * Float($0) / 7 }
    static var width: Int { 1 + 2 * frequencies.count }

    /// One row of features per entry of `t`, each repeated `repeats` times.
    static func matrix(_ t: [Float], repeats: Int = 1) -> Matrix {
        var m = Matrix(rows: t.count * repeats, cols: width)
        for (b, time) in t.enumerated() {
            for r in 0..<repeats {
                let row = b * repeats + r
                m[row, 0] = time
                for (k, w) in frequencies.enumerated() {
                    m[row, 1 + 2 * k] = Foundation.sin(w * time)
                    m[row, 2 + 2 * k] = Foundation.cos(w * time)
                }
            }
        }
        return m
    }
}

/// A plain score network for targets without particle structure: [x, time features] → SiLU MLP → d.
public struct TimeConditionedMLP: ScoreNetwork {
    public var parameters: ParameterStore
    let layers: [(weight: ParameterSlot, bias: ParameterSlot)]

    /// `depth` hidden layers of width `hidden` (PyTorch's default uniform initialisation).
    public init(dimension: Int, hidden: Int = 128, depth: Int = 3, rng: inout Xoshiro256) {
        var p = ParameterStore()
        let widths = [dimension + TimeFeatures.width] + Array(repeating: hidden, count: depth) + [dimension]
        layers = (0..<(widths.count - 1)).map { l in
            let bound = 1 / Float(widths[l]).squareRoot()
            func uniform(_ rows: Int, _ cols: Int) -> Matrix {
                Matrix(rows: rows, cols: cols, storage: (0..<(rows * cols)).map { _ in (2 * rng.nextUniform() - 1) * bound })
            }
            return (p.add("layer\(l).weight", uniform(widths[l], widths[l + 1])), p.add("layer\(l).bias", uniform(1, widths[l + 1])))
        }
        parameters = p
    }

    public var chunkRows: Int { 4096 }

    public var architecture: String { "mlp" }

    /// Sets the output layer to zero, so the network starts as s ≡ 0 (a control that starts switched off).
    public mutating func zeroOutputLayer() {
        for slot in [layers[layers.count - 1].weight, layers[layers.count - 1].bias] {
            for k in 0..<(slot.rows * slot.cols) { parameters.values[slot.offset + k] = 0 }
        }
    }

    public func forward(_ tape: Tape, x: Matrix, t: [Float]) -> Tape.Variable { forward(tape, input: tape.constant(x), t: t) }

    /// s(x, t) for states recorded on the tape: their cotangent flows back into `x` (B × d).
    public func forward(_ tape: Tape, input x: Tape.Variable, t: [Float]) -> Tape.Variable {
        let input = tape.concatColumns(x, tape.constant(TimeFeatures.matrix(t)))
        return tape.mlp(input, layers.enumerated().map { l, layer in
            Tape.DenseLayer(weight: tape.parameter(parameters, layer.weight), bias: tape.parameter(parameters, layer.bias),
                            activation: l < layers.count - 1 ? .silu : nil)
        })
    }
}

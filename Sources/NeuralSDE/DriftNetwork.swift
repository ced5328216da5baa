import Foundation
import Numerics

/// The "PIS architecture" drift network μθ(x, t) (Zhang & Chen 2022, as used by Sendera et al. 2024).
///
/// Time: Fourier features sin/cos(ω·t + φ) with ω linearly spaced in [0.1, 100] and a learned phase φ,
/// then Linear(2H→H)·GELU·Linear(H→H). State: Linear(d→H). The two are summed and passed through
/// GELU·[Linear(H→H)·GELU]×2·Linear(H→d), whose last layer starts at zero so the initial policy is
/// Brownian motion. With `langevin`, μ = NN₁(x, t) + NN₂(t)·clip(∇log R(x), ±100), NN₂ a time-only net
/// that starts at 0.01. With `flow`, a linear head on the last hidden layer also gives a learned log-flow
/// log F(x, t) per state (DB, SubTB and FL-SubTB); it shares the trunk with the drift.
///
/// Time-only parts run once per time step on a `Tape`; the state part runs over row blocks with BLAS
/// and fused kernels (`StateNetworkKernels`), so the cost per row is three dense layers.
public struct DriftNetwork: Sendable {
    /// State dimension d.
    public let dimension: Int
    /// Hidden width H (also the number of Fourier frequencies).
    public let hidden: Int
    /// Whether the Langevin term NN₂(t)·clip(∇log R) is part of the drift.
    public let langevin: Bool
    /// Whether the last d output columns set a per-coordinate step variance.
    public let learnedVariance: Bool
    /// Output columns per row: d drift values, then d log-variance outputs with `learnedVariance`.
    public var outputWidth: Int { learnedVariance ? 2 * dimension : dimension }
    /// Bound of the learned log-variance scale: s = range·tanh(o) ∈ (−range, range).
    public static let logVarianceRange: Float = 4
    /// The log-variance scale s = range·tanh(o) of a variance output o.
    @inlinable public static func logVarianceScale(_ o: Float) -> Float { logVarianceRange * tanhf(o) }
    /// The variance factor eˢ of a variance output o.
    @inlinable public static func varianceScale(_ o: Float) -> Float { expf(logVarianceScale(o)) }
    /// Whether the network has the log-flow head.
    public var hasFlow: Bool { layout.flow != nil }
    /// The log-flow head's parameter slots (empty without the head), for their own learning rate.
    public var flowSlots: [ParameterSlot] { layout.flow.map { [$0.weight, $0.bias] } ?? [] }
    /// All trainable values.
    public var parameters: ParameterStore
    /// Where each layer lives in `parameters`.
    public let layout: Layout

    /// Clip applied to ∇log R inside the Langevin term.
    public static let scoreClip: Float = 100
    /// Clip applied to the drift output.
    public static let outputClip: Float = 1e4

    /// Parameter slots of the network.
    public struct Layout: Sendable {
        let timePhase, timeW1, timeB1, timeW2, timeB2: ParameterSlot
        /// State layer, joint layers and output layer, in order (weight, bias).
        let stateLayers: [(weight: ParameterSlot, bias: ParameterSlot)]
        let langevinPhase, langevinW1, langevinB1, langevinW2, langevinB2, langevinW3, langevinB3: ParameterSlot?
        /// The log-flow head Linear(H→1) on the last hidden layer, if any.
        let flow: (weight: ParameterSlot, bias: ParameterSlot)?
    }

    /// A freshly initialised network (PyTorch's default uniform initialisation; zero output layer), with the
    /// log-flow head when `flow` is set and the variance outputs when `learnedVariance` is set.
    public init(dimension: Int, hidden: Int = 64, langevin: Bool = false, flow: Bool = false,
                learnedVariance: Bool = false, rng: inout Xoshiro256) {
        self.dimension = dimension
        self.hidden = hidden
        self.langevin = langevin
        self.learnedVariance = learnedVariance
        var p = ParameterStore()
        func dense(_ name: String, _ fanIn: Int, _ fanOut: Int, zero: Bool = false) -> (ParameterSlot, ParameterSlot) {
            let bound = 1 / Float(fanIn).squareRoot()
            func uniform(_ rows: Int, _ cols: Int) -> Matrix {
                Matrix(rows: rows, cols: cols, storage: (0..<(rows * cols)).map { _ in
                    zero ? 0 : (2 * rng.nextUniform() - 1) * bound
                })
            }
            return (p.add(name + ".weight", uniform(fanIn, fanOut)), p.add(name + ".bias", uniform(1, fanOut)))
        }
        let phase = p.add("time.phase", rng.gaussianMatrix(rows: 1, cols: hidden))
        let (tw1, tb1) = dense("time.linear1", 2 * hidden, hidden)
        let (tw2, tb2) = dense("time.linear2", hidden, hidden)
        let layers = [dense("state.embed", dimension, hidden), dense("joint.linear1", hidden, hidden),
                      dense("joint.linear2", hidden, hidden), dense("joint.out", hidden, learnedVariance ? 2 * dimension : dimension, zero: true)]
        var lgv: [ParameterSlot?] = Array(repeating: nil, count: 7)
        if langevin {
            lgv[0] = p.add("langevin.phase", rng.gaussianMatrix(rows: 1, cols: hidden))
            (lgv[1], lgv[2]) = dense("langevin.linear1", 2 * hidden, hidden)
            (lgv[3], lgv[4]) = dense("langevin.linear2", hidden, hidden)
            lgv[5] = p.add("langevin.out.weight", Matrix(rows: hidden, cols: 1))
            lgv[6] = p.add("langevin.out.bias", Matrix(scalar: 0.01))
        }
        let flowHead = flow ? dense("flow", hidden, 1) : nil
        parameters = p
        layout = Layout(timePhase: phase, timeW1: tw1, timeB1: tb1, timeW2: tw2, timeB2: tb2,
                        stateLayers: layers.map { (weight: $0.0, bias: $0.1) },
                        langevinPhase: lgv[0], langevinW1: lgv[1], langevinB1: lgv[2], langevinW2: lgv[3],
                        langevinB2: lgv[4], langevinW3: lgv[5], langevinB3: lgv[6],
                        flow: flowHead.map { (weight: $0.0, bias: $0.1) })
    }

    /// The Fourier frequencies ω, linearly spaced in [0.1, 100].
    public var frequencies: Matrix {
        Matrix(rows: 1, cols: hidden, storage: (0..<hidden).map { 0.1 + (100 - 0.1) * Float($0) / Float(max(hidden - 1, 1)) })
    }

    /// Evaluates the time-only parts of the network at every grid time, recording them on a fresh tape.
    public func timeConditioning(_ grid: TimeGrid) -> TimeConditioning {
        let tape = Tape()
        let t = tape.constant(Matrix(rows: grid.steps, cols: 1, storage: Array(grid.times.dropLast())))
        let omega = tape.constant(frequencies)
        func features(_ phase: ParameterSlot) -> Tape.Variable {
            let arg = tape.linear(t, omega, tape.parameter(parameters, phase))
            return tape.concatColumns(tape.sin(arg), tape.cos(arg))
        }
        func linear(_ x: Tape.Variable, _ w: ParameterSlot, _ b: ParameterSlot) -> Tape.Variable {
            tape.linear(x, tape.parameter(parameters, w), tape.parameter(parameters, b))
        }
        let l = layout
        let hiddenT = tape.activation(linear(features(l.timePhase), l.timeW1, l.timeB1), .gelu)
        let embedding = linear(hiddenT, l.timeW2, l.timeB2)
        // The state layer's bias is folded into the per-step bias row, so it is trained through the tape too.
        let stepBias = tape.addBias(embedding, tape.parameter(parameters, l.stateLayers[0].bias))
        var scale: Tape.Variable?
        if langevin, let phase = l.langevinPhase {
            let h1 = tape.activation(linear(features(phase), l.langevinW1!, l.langevinB1!), .gelu)
            let h2 = tape.activation(linear(h1, l.langevinW2!, l.langevinB2!), .gelu)
            scale = linear(h2, l.langevinW3!, l.langevinB3!)
        }
        return TimeConditioning(tape: tape, stepBias: stepBias, langevinScale: scale)
    }
}

/// The time-only quantities of one pass, with the tape that produced them (for their backward pass).
public struct TimeConditioning {
    let tape: Tape
    let stepBias: Tape.Variable
    let langevinScale: Tape.Variable?

    /// Per-step bias of the first hidden layer, T × H (state bias + time embedding).
    public var stepBiasValues: Matrix { tape.value(stepBias) }
    /// Per-step Langevin scale NN₂(t_i), T values, or nil without the Langevin term.
    public var langevinScaleValues: [Float]? { langevinScale.map { tape.value($0).storage } }

    /// Back-propagates cotangents of the step biases (T × H) and Langevin scales (T) into `parameters`.
    public func backward(stepBiasCotangent: Matrix, scaleCotangent: [Float]?, into parameters: inout ParameterStore) {
        var surrogate = tape.sum(tape.multiply(stepBias, tape.constant(stepBiasCotangent)))
        if let langevinScale, let scaleCotangent {
            let c = tape.constant(Matrix(rows: scaleCotangent.count, cols: 1, storage: scaleCotangent))
            surrogate = tape.add(surrogate, tape.sum(tape.multiply(langevinScale, c)))
        }
        tape.backward(from: surrogate)
        tape.exportGradients(into: &parameters)
    }
}

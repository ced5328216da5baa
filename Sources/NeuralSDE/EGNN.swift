import Foundation
import Numerics

/// An E(n)-equivariant graph network (Satorras et al. 2021) on configurations of n particles in D dimensions,
/// conditioned on a time t: the vector field for particle systems (iDEM's score network).
///
/// Every particle starts with the same feature h⁰ = Linear(time features of t). Each layer, over all ordered
/// pairs i ≠ j of a configuration:
///   m_ij = φ_e(h_i, h_j, ‖x_i − x_j‖²),  x_i ← x_i + (r/L)·Σ_j (x_i − x_j)/(‖x_i − x_j‖ + 1)·tanh(φ_x(m_ij)),
///   h_i ← h_i + φ_h(h_i, Σ_j m_ij),
/// with two-layer SiLU MLPs. The normalised differences and the tanh bound each pair's move by r/L (coordinate
/// range r = 15 over L layers, the EGNN of the iDEM code): enough for clipped scores of norm 20 on 13 particles,
/// yet bounded where the network is untrained. The output is the displacement x^L − x⁰ with its per-configuration
/// mean removed, so rotating, translating or permuting the particles rotates, ignores or permutes the output.
public struct EGNN: Sendable {
    /// Particles per configuration.
    public let particles: Int
    /// Spatial dimension D of each particle.
    public let spatialDimension: Int
    /// Width of node features and messages.
    public let hidden: Int
    /// The bound r on the summed moves of one pair over all layers.
    public let coordinateRange: Float
    /// All trainable values.
    public var parameters: ParameterStore
    let timeLayer: Dense
    let layers: [Layer]

    struct Dense: Sendable {
        let weight, bias: ParameterSlot
    }

    struct Layer: Sendable {
        /// The first edge layer acts on [h_i, h_j, ‖x_i − x_j‖²]; its weight is kept as the three blocks so the
        /// node parts are multiplied once per node and gathered, instead of once per edge.
        let edgeFrom, edgeTo, edgeDistance: ParameterSlot
        let edge1Bias: ParameterSlot
        let edge2, coordinate1, coordinate2, node1, node2: Dense
    }

    /// A freshly initialised network with `layers` message-passing layers (PyTorch's default uniform
    /// initialisation; the last coordinate layer is scaled by 10⁻³, as in the public EGNN, so the initial field is
    /// small even summed over 54 neighbours).
    public init(particles: Int, spatialDimension: Int, hidden: Int = 32, layers: Int = 3, coordinateRange: Float = 15,
                rng: inout Xoshiro256) {
        precondition(particles >= 2, "EGNN: need at least two particles")
        self.particles = particles
        self.coordinateRange = coordinateRange
        self.spatialDimension = spatialDimension
        self.hidden = hidden
        var p = ParameterStore()
        func uniform(_ name: String, _ rows: Int, _ cols: Int, fanIn: Int, gain: Float = 1) -> ParameterSlot {
            let bound = gain / Float(fanIn).squareRoot()
            return p.add(name, Matrix(rows: rows, cols: cols, storage: (0..<(rows * cols)).map { _ in (2 * rng.nextUniform() - 1) * bound }))
        }
        func dense(_ name: String, _ fanIn: Int, _ fanOut: Int, gain: Float = 1) -> Dense {
            Dense(weight: uniform(name + ".weight", fanIn, fanOut, fanIn: fanIn, gain: gain),
                  bias: uniform(name + ".bias", 1, fanOut, fanIn: fanIn, gain: gain))
        }
        let h = hidden
        timeLayer = dense("time", TimeFeatures.width, h)
        self.layers = (0..<layers).map { l in
            let name = "layer\(l).edge1"
            return Layer(edgeFrom: uniform(name + ".from", h, h, fanIn: 2 * h + 1), edgeTo: uniform(name + ".to", h, h, fanIn: 2 * h + 1),
                         edgeDistance: uniform(name + ".distance", 1, h, fanIn: 2 * h + 1),
                         edge1Bias: uniform(name + ".bias", 1, h, fanIn: 2 * h + 1), edge2: dense("layer\(l).edge2", h, h),
                         coordinate1: dense("layer\(l).coordinate1", h, h), coordinate2: dense("layer\(l).coordinate2", h, 1, gain: 0.001),
                         node1: dense("layer\(l).node1", 2 * h, h), node2: dense("layer\(l).node2", h, h))
        }
        parameters = p
    }

    /// Sender and receiver node of every ordered pair i ≠ j, configuration by configuration.
    func edges(configurations: Int) -> (from: [Int], to: [Int]) {
        var from: [Int] = [], to: [Int] = []
        let n = particles
        from.reserveCapacity(configurations * n * (n - 1))
        to.reserveCapacity(configurations * n * (n - 1))
        for b in 0..<configurations { for i in 0..<n { for j in 0..<n where j != i { from.append(b * n + i); to.append(b * n + j) } } }
        return (from, to)
    }

    /// Records the network on `tape` for configurations `x` (B × n·D, row-major particle coordinates) at times
    /// `t` (B values); returns the B·n × D output (row b·n + i is particle i of configuration b).
    public func forward(_ tape: Tape, x: Matrix, t: [Float]) -> Tape.Variable {
        let n = particles, D = spatialDimension, B = x.rows
        precondition(x.cols == n * D && t.count == B, "EGNN: need B × \(n * D) positions and B times")
        func dense(_ d: Dense, _ f: Activation? = nil) -> Tape.DenseLayer {
            Tape.DenseLayer(weight: tape.parameter(parameters, d.weight), bias: tape.parameter(parameters, d.bias), activation: f)
        }
        func mlp(_ v: Tape.Variable, _ a: Dense, _ b: Dense) -> Tape.Variable { tape.mlp(v, [dense(a, .silu), dense(b)]) }
        let (from, to) = edges(configurations: B)
        let onesD = tape.constant(Matrix(rows: D, cols: 1, repeating: 1))
        let broadcastD = tape.constant(Matrix(rows: 1, cols: D, repeating: 1))
        let start = tape.constant(Matrix(rows: B * n, cols: D, storage: x.storage))
        var h = tape.mlp(tape.constant(TimeFeatures.matrix(t, repeats: n)), [dense(timeLayer)])
        var position = start
        for layer in layers {
            let difference = tape.subtract(tape.gatherRows(position, from), tape.gatherRows(position, to))
            let squared = tape.matmul(tape.multiply(difference, difference), onesD)
            func nodes(_ w: ParameterSlot) -> Tape.Variable { tape.matmul(h, tape.parameter(parameters, w)) }
            let hidden1 = tape.pairInput(nodes(layer.edgeFrom), from: from, nodes(layer.edgeTo), to: to, squared,
                                         tape.parameter(parameters, layer.edgeDistance), tape.parameter(parameters, layer.edge1Bias),
                                         activation: .silu)
            let message = tape.mlp(hidden1, [dense(layer.edge2, .silu)])
            let weight = tape.multiply(tape.activation(mlp(message, layer.coordinate1, layer.coordinate2), .tanh),
                                       tape.inverseLengthPlusOne(squared))
            let shift = tape.multiply(difference, tape.matmul(weight, broadcastD))
            position = tape.add(position, tape.scale(tape.scatterAddRows(shift, from, rows: B * n), by: coordinateRange / Float(layers.count)))
            let aggregated = tape.scatterAddRows(message, from, rows: B * n)
            h = tape.add(h, mlp(tape.concatColumns(h, aggregated), layer.node1, layer.node2))
        }
        let displacement = tape.subtract(position, start)
        // Remove each configuration's mean displacement: gather the per-configuration sums back to its particles.
        let owner = (0..<(B * n)).map { $0 / n }
        let mean = tape.scale(tape.scatterAddRows(displacement, owner, rows: B), by: 1 / Float(n))
        return tape.subtract(displacement, tape.gatherRows(mean, owner))
    }
}

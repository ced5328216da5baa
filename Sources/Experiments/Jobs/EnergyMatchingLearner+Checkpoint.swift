import Foundation
import Numerics
import Objectives
import Training
import RunStore

/// iDEM's part of `/checkpoint`: the score network, its optimiser chain (Adam state, the rate a plateau may have
/// cut, weight average), the plateau schedule, the FIFO buffer and the counter of discarded samples.
extension EnergyMatchingLearner {
    public func checkpointNode() -> Node {
        let s = trainer.state
        var n = Node()
        n.put("network", .float(shape: [s.parameters.count], values: s.parameters))
        n.set("network_architecture", .string(trainer.network.architecture))
        RunFile.put(s.optimizer, prefix: "network", into: &n)
        RunFile.put(s.plateau, into: &n)
        n.set("discarded_samples", .int(Int64(s.discardedSamples)))
        let d = trainer.target.dimension
        n.put("buffer_states", .float(shape: [s.buffer.count / d, d], values: s.buffer))
        return n
    }

    public func restore(_ cp: CheckpointFields, stored: RunConfig) throws {
        guard cp.node.dataset("buffer_states") != nil else { throw cp.damaged("is missing or is not an iDEM checkpoint") }
        // Files from before the attribute hold an MLP (same function today) or a version-1 EGNN.
        let saved = cp.node.attribute("network_architecture")?.description ?? (trainer.target.particleStructure == nil ? "mlp" : "egnn-v1")
        guard saved == trainer.network.architecture else {
            throw RunFileError(message: "\(cp.path): the checkpoint holds a \(saved) network but this version builds "
                + "\(trainer.network.architecture); evaluate or resume it with the version that wrote it, or train anew")
        }
        let n = trainer.network.parameters.values.count
        let values = try cp.floats("network", count: n)
        var optimizer = trainer.state.optimizer
        // A learning-rate step on resume replaces the rate the checkpoint carries, which a plateau may have cut.
        try RunFile.load(&optimizer, prefix: "network", from: cp,
                         resetRate: config.learningRate != stored.learningRate ? config.learningRate : nil)
        guard let buffer = try cp.buffer("buffer", width: trainer.target.dimension) else { throw cp.damaged("has no buffer_states") }
        try trainer.restore(EnergyMatchingTrainer.State(
            parameters: values, optimizer: optimizer, buffer: buffer.states, epoch: try cp.count("iteration", limit: 1_000_000_000),
            gradientEvaluations: try cp.count("grad_evals"), energyEvaluations: try cp.count("energy_evals"),
            discardedSamples: try cp.count("discarded_samples"), plateau: try RunFile.plateau(from: cp),
            seconds: try cp.number("seconds", fallback: 0)))
    }
}

import Foundation
import Numerics
import Objectives
import RunStore

/// iDEM's part of `/checkpoint`: the score network, its weight average and Adam state, the learning rate a plateau
/// may have cut, the plateau schedule, the FIFO buffer and the counter of discarded samples.
extension EnergyMatchingLearner {
    public func checkpointNode() -> Node {
        let s = trainer.state
        var n = Node()
        n.put("network", .float(shape: [s.parameters.count], values: s.parameters))
        n.set("network_architecture", .string(trainer.network.architecture))
        if let average = s.averagedParameters { n.put("network_average", .float(shape: [average.count], values: average)) }
        n.put("network_adam_m", .float(shape: [s.optimizer.firstMoment.count], values: s.optimizer.firstMoment))
        n.put("network_adam_v", .float(shape: [s.optimizer.secondMoment.count], values: s.optimizer.secondMoment))
        n.set("network_adam_step", .int(Int64(s.optimizer.step)))
        n.set("discarded_samples", .int(Int64(s.discardedSamples)))
        n.set("learning_rate", .double(Double(s.optimizer.learningRate)))
        n.set("plateau_best_loss", .double(s.plateau.bestLoss))
        n.set("plateau_epochs", .int(Int64(s.plateau.epochsSinceBest)))
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
        optimizer.firstMoment = try cp.floats("network_adam_m", count: n)
        optimizer.secondMoment = try cp.floats("network_adam_v", count: n)
        optimizer.step = try cp.count("network_adam_step")
        if let rate = cp.node.attribute("learning_rate")?.doubleValue {
            guard rate.isFinite, rate > 0 else { throw cp.damaged("learning_rate = \(rate) is not a positive number") }
            optimizer.learningRate = Float(rate)
        }
        // A learning-rate step on resume replaces the rate the checkpoint carries, which a plateau may have cut.
        if config.learningRate != stored.learningRate { optimizer.learningRate = config.learningRate }
        guard let buffer = try cp.buffer("buffer", width: trainer.target.dimension) else { throw cp.damaged("has no buffer_states") }
        let plateau = EnergyMatchingTrainer.Plateau(bestLoss: try cp.number("plateau_best_loss", fallback: .infinity),
                                                    epochsSinceBest: try cp.count("plateau_epochs"))
        try trainer.restore(EnergyMatchingTrainer.State(
            parameters: values, optimizer: optimizer, buffer: buffer.states, epoch: try cp.count("iteration", limit: 1_000_000_000),
            gradientEvaluations: try cp.count("grad_evals"), energyEvaluations: try cp.count("energy_evals"),
            discardedSamples: try cp.count("discarded_samples"), plateau: plateau,
            seconds: try cp.number("seconds", fallback: 0),
            averagedParameters: try cp.node.dataset("network_average").map { _ in try cp.floats("network_average", count: n) }))
    }
}

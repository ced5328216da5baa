import Foundation
import Numerics
import RunStore
import Objectives

/// The run-file layout of iDEM runs: the common groups (`/config`, `/provenance`, `/train` with epochs as
/// iterations, `/eval`, `/samples`) and a checkpoint of the score network, its optimiser and the FIFO buffer.
extension EnergyMatchingJob {
    /// The values an iDEM run uses for its "default" settings (from the target spec's `idem:` line or iDEM's code).
    static func resolved(_ s: EnergyMatchingSettings) -> [String: String] {
        ["idem_sigma_min": "\(s.schedule.sigmaMin)", "idem_sigma_max": "\(s.schedule.sigmaMax)",
         "idem_samples": "\(s.estimator.samples)", "idem_score_clip": "\(s.estimator.maxNorm ?? 0)",
         "idem_diffusion_scale": "\(s.diffusionScale)", "eval_steps": "\(s.integrationSteps)", "grad_clip": "\(s.gradientClip)",
         "sigma2": "unused by iDEM and MALA (the noise schedule is idem_sigma_min, idem_sigma_max)"]
    }

    static func node(_ trainer: EnergyMatchingTrainer, config: RunConfig, provenance: Provenance,
                     history: History, status: String,
                     error: String?, report: EnergyMatchingReport?) -> Node {
        var root = RunFile.header(config, provenance: provenance, status: status, error: error, resolved: resolved(trainer.settings))
        var train = Node()
        train.put("iteration", .int64(shape: [history.count], values: history.map { Int64($0.epoch) }))
        train.put("loss", .double(shape: [history.count], values: history.map(\.loss)))
        train.put("seconds", .double(shape: [history.count], values: history.map(\.seconds)))
        train.put("grad_evals", .int64(shape: [history.count], values: history.map { Int64($0.evaluations) }))
        root.put("train", train)
        let s = trainer.state
        var checkpoint = Node()
        checkpoint.put("network", .float(shape: [s.parameters.count], values: s.parameters))
        checkpoint.set("network_architecture", .string(trainer.network.architecture))
        if let average = s.averagedParameters { checkpoint.put("network_average", .float(shape: [average.count], values: average)) }
        checkpoint.put("network_adam_m", .float(shape: [s.optimizer.firstMoment.count], values: s.optimizer.firstMoment))
        checkpoint.put("network_adam_v", .float(shape: [s.optimizer.secondMoment.count], values: s.optimizer.secondMoment))
        checkpoint.set("network_adam_step", .int(Int64(s.optimizer.step)))
        checkpoint.set("iteration", .int(Int64(s.epoch)))
        checkpoint.set("grad_evals", .int(Int64(s.gradientEvaluations)))
        checkpoint.set("energy_evals", .int(Int64(s.energyEvaluations)))
        checkpoint.set("discarded_samples", .int(Int64(s.discardedSamples)))
        checkpoint.set("learning_rate", .double(Double(s.optimizer.learningRate)))
        checkpoint.set("plateau_best_loss", .double(s.plateau.bestLoss))
        checkpoint.set("plateau_epochs", .int(Int64(s.plateau.epochsSinceBest)))
        checkpoint.set("seconds", .double(s.seconds))
        let d = trainer.target.dimension
        checkpoint.put("buffer_states", .float(shape: [s.buffer.count / d, d], values: s.buffer))
        root.put("checkpoint", checkpoint)
        if let report {
            root.put("eval", evalNode(report))
            root.put("samples", .float(shape: [report.samples.rows, report.samples.cols], values: report.samples.storage))
        }
        return root
    }

    /// `/eval` of a sample-scored run: W₂, particle metrics with their histograms, mode coverage.
    static func evalNode(_ report: EnergyMatchingReport) -> Node {
        var eval = Node()
        eval.set("n_eval", .int(Int64(report.samples.rows)))
        eval.set("w2", .double(report.w2))
        eval.set("w2_reference", .string(report.reference + "; exact OT, Euclidean cost, W2 not squared"))
        if let floor = report.w2Floor { eval.set("w2_floor", .double(floor)) }
        if let p = report.particles {
            eval.set("energy_w2", .double(p.energyW2))
            eval.set("distance_w2", .double(p.distanceW2))
            eval.set("distance_tv", .double(p.distanceTV))
            eval.set("non_finite_energies", .int(Int64(p.nonFiniteEnergies)))
            eval.set("particle_metrics", .string("1-D W2 by quantile matching, not squared; TV of 100-bin histograms; "
                + "against " + report.reference))
            for (name, h) in [("energy_histogram", p.energyHistogram), ("distance_histogram", p.distanceHistogram)] {
                var g = Node()
                g.put("edges", .double(shape: [h.edges.count], values: h.edges))
                g.put("model", .double(shape: [h.model.count], values: h.model))
                g.put("reference", .double(shape: [h.reference.count], values: h.reference))
                eval.put(name, g)
            }
        }
        if let c = report.coverage {
            eval.set("modes_covered", .int(Int64(c.covered)))
            eval.set("modes_effective", .double(c.effectiveModes))
        }
        return eval
    }

    /// A trainer rebuilt from the checkpoint of the iDEM run file `root` (written with this job's network settings).
    public func restoredTrainer(from root: Node, path: String) throws -> EnergyMatchingTrainer {
        let trainer = try makeTrainer()
        var history: History = []
        try Self.restore(trainer, history: &history, from: root, path: path)
        return trainer
    }

    static func restore(_ trainer: EnergyMatchingTrainer, history: inout History,
                        from root: Node, path: String) throws {
        let cp = try CheckpointFields(root, path: path)
        guard cp.node.dataset("buffer_states") != nil else {
            throw RunFileError(message: "\(path): /checkpoint is missing or is not an iDEM checkpoint")
        }
        // Files from before the attribute hold an MLP (same function today) or a version-1 EGNN.
        let stored = cp.node.attribute("network_architecture")?.description ?? (trainer.target.particleStructure == nil ? "mlp" : "egnn-v1")
        guard stored == trainer.network.architecture else {
            throw RunFileError(message: "\(path): the checkpoint holds a \(stored) network but this version builds "
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
        guard let buffer = try cp.buffer("buffer", width: trainer.target.dimension) else { throw cp.damaged("has no buffer_states") }
        let plateau = EnergyMatchingTrainer.Plateau(bestLoss: try cp.number("plateau_best_loss", fallback: .infinity),
                                                    epochsSinceBest: try cp.count("plateau_epochs"))
        try trainer.restore(EnergyMatchingTrainer.State(
            parameters: values, optimizer: optimizer, buffer: buffer.states, epoch: try cp.count("iteration", limit: 1_000_000_000),
            gradientEvaluations: try cp.count("grad_evals"), energyEvaluations: try cp.count("energy_evals"),
            discardedSamples: try cp.count("discarded_samples"), plateau: plateau,
            seconds: try cp.number("seconds", fallback: 0),
            averagedParameters: try cp.node.dataset("network_average").map { _ in try cp.floats("network_average", count: n) }))
        let columns = try CheckpointFields.curve(root, keys: ["iteration", "loss", "seconds", "grad_evals"],
                                                 counts: ["iteration", "grad_evals"], path: path)
        history = columns.isEmpty ? [] : columns[0].indices.map { (Int(columns[0][$0]), columns[1][$0], columns[2][$0], Int(columns[3][$0])) }
    }
}

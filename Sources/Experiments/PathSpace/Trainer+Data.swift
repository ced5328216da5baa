import Foundation
import Numerics
import Densities
import NeuralSDE
import RunStore

/// The data of maximum-likelihood training and the prior of RTB fine-tuning.
extension Trainer {
    /// MLE data from `data=FILE.h5[:DATASET]`, or nil for `data=exact` (drawn fresh from the target each iteration).
    func loadData() throws -> Matrix? {
        if config.data == "exact" {
            guard target.hasExactSampler else {
                throw TrainingError.unsupportedSettings("objective=mle with data=exact needs a target with an exact sampler; "
                    + "give data=FILE.h5[:DATASET]")
            }
            return nil
        }
        let parts = config.data.split(separator: ":", maxSplits: 1).map(String.init)
        let name = parts.count > 1 ? parts[1] : "samples"
        let root: Node
        do { root = try HDF5.read(parts[0]) } catch {
            throw RunFileError(message: "data=\(config.data): cannot read \(parts[0]) (\(error)); give data=exact or an HDF5 file")
        }
        guard let set = root.dataset(name), set.shape.count == 2, set.shape[1] == target.dimension else {
            throw RunFileError(message: "\(parts[0]) has no dataset '\(name)' of shape [n, \(target.dimension)]")
        }
        return Matrix(rows: set.shape[0], cols: set.shape[1], storage: set.floats)
    }

    /// Bridge paths back from a batch of data: fresh exact samples, or rows drawn with replacement from the file.
    func dataBatch(stream: UInt64, context: String) throws -> TrajectoryBatch {
        var rng = Xoshiro256(seed: config.seed, stream: 1 << 47, stream)
        let terminal: Matrix
        if let dataSet {
            var rows = Matrix(rows: config.batchSize, cols: dataSet.cols)
            for r in 0..<config.batchSize {
                let source = Int(rng.next() % UInt64(dataSet.rows))
                for c in 0..<dataSet.cols { rows[r, c] = dataSet[source, c] }
            }
            terminal = rows
        } else {
            terminal = target.exactSamples(count: config.batchSize, rng: &rng)!
        }
        return try sampler.sampleBackward(network, terminal: terminal, seed: config.seed, stream: stream | 1 << 48, context: context)
    }

    /// Loads the prior diffusion of `prior=RUN.h5`, checks that it matches this run's network and noise, and starts
    /// the posterior policy from it (RTB fine-tunes the prior).
    func attachPrior() throws {
        let root: Node
        do { root = try HDF5.read(config.prior) } catch {
            throw RunFileError(message: "prior=\(config.prior): cannot read the prior's run file (\(error)); "
                + "train one first with objective=mle")
        }
        guard let priorTrainer = try RunFile.restore(root, path: config.prior) as? Trainer else {
            throw TrainingError.unsupportedSettings("prior=\(config.prior) is not a path-space run; train the prior with objective=mle")
        }
        let p = priorTrainer.network
        guard p.dimension == network.dimension, p.hidden == network.hidden, p.langevin == network.langevin,
              p.parameters.values.count == network.parameters.values.count else {
            throw TrainingError.unsupportedSettings("the prior \(config.prior) has another network (dimension \(p.dimension), "
                + "hidden \(p.hidden), langevin \(p.langevin)); use the same hidden and langevin settings")
        }
        guard priorTrainer.sampler.process.sigma2 == sampler.process.sigma2 else {
            throw TrainingError.unsupportedSettings("the prior was trained with σ² = \(priorTrainer.sampler.process.sigma2), "
                + "this run uses \(sampler.process.sigma2); set sigma2 to match")
        }
        restorePolicy(p.parameters.values)
        prior = (p, PathSampler(target: target, process: sampler.process, threads: config.threads))
    }
}

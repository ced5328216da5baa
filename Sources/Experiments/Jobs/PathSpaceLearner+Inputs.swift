import Foundation
import Numerics
import NeuralSDE
import Training
import RunStore

/// The files path-space training reads besides the target: MLE's data and RTB's prior.
extension PathSpaceLearner {
    /// MLE data from `data=FILE.h5[:DATASET]` (default dataset `samples`, shape [n, dimension]), or nil for
    /// `data=exact` (drawn fresh from the target each iteration).
    /// - Throws: `RunFileError` naming the file or dataset and what to give instead.
    static func loadData(_ data: String, dimension: Int) throws -> Matrix? {
        guard data != "exact" else { return nil }
        let parts = data.split(separator: ":", maxSplits: 1).map(String.init)
        let name = parts.count > 1 ? parts[1] : "samples"
        let root: Node
        do { root = try HDF5.read(parts[0]) } catch {
            throw RunFileError(message: "data=\(data): cannot read \(parts[0]) (\(error)); give data=exact or an HDF5 file")
        }
        guard let set = root.dataset(name), set.shape.count == 2, set.shape[1] == dimension else {
            throw RunFileError(message: "\(parts[0]) has no dataset '\(name)' of shape [n, \(dimension)]")
        }
        let rows = set.floats
        if let bad = rows.firstIndex(where: { !$0.isFinite }) {
            throw RunFileError(message: "\(parts[0]) dataset '\(name)' has a non-finite value (\(rows[bad])) in row \(bad / dimension); "
                + "remove or repair that row")
        }
        return Matrix(rows: set.shape[0], cols: set.shape[1], storage: rows)
    }

    /// The prior diffusion of `prior=RUN.h5`: its trained network and reference process (RTB starts from and scores against it).
    /// - Throws: `RunFileError` for an unreadable file, `TrainingError` for a run that is not path-space training.
    static func loadPrior(_ path: String) throws -> PathSpaceTrainer.Prior {
        let root: Node
        do { root = try HDF5.read(path) } catch {
            throw RunFileError(message: "prior=\(path): cannot read the prior's run file (\(error)); train one first with objective=mle")
        }
        guard let prior = try RunFile.restore(root, path: path) as? PathSpaceLearner else {
            throw TrainingError.unsupportedSettings("prior=\(path) is not a path-space run; train the prior with objective=mle")
        }
        return PathSpaceTrainer.Prior(network: prior.trainer.network, reference: prior.trainer.sampler.process.reference)
    }
}

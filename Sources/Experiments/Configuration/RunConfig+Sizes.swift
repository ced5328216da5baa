import Foundation
import RunStore

extension RunConfig {
    /// Largest number of floats one array of a run may hold (2³¹, 8 GiB): the states of a batch of paths, of the
    /// evaluation paths, or of a replay buffer.
    public static let maxElements = HDF5.maxElements

    /// Checks, with overflow-checked products, that the arrays these settings make for a target of `dimension`
    /// stay within `maxElements`. Path-space objectives: (steps + 1)·batch_size·d, (eval_steps + 1)·eval_paths·d
    /// and buffer_size·d with local search; iDEM: idem_generate·d, eval_paths·d, batch_size·(idem_samples + 1)·d
    /// (the Monte-Carlo points of one regression step) and idem_buffer·d; MALA: eval_paths·d; every network:
    /// hidden·(d + hidden) parameters per layer.
    /// - Throws: `ConfigError.badValue` naming the product and the limit.
    public func checkSizes(dimension d: Int, idemSamples: Int? = nil) throws {
        func product(_ factors: [Int]) -> Int? {
            factors.reduce(Int?(1)) { p, f in p.flatMap { let (r, o) = $0.multipliedReportingOverflow(by: f); return o ? nil : r } }
        }
        var arrays = [("hidden", hidden, "hidden × (dimension + hidden)", [hidden, d + hidden])]
        switch method.family {
        case .energyMatching:
            arrays += [("idem_generate", idem.samplesPerEpoch, "idem_generate × dimension", [idem.samplesPerEpoch, d]),
                       ("eval_paths", evaluation.paths, "eval_paths × dimension", [evaluation.paths, d]),
                       ("batch_size", batchSize, "batch_size × (idem_samples + 1) × dimension", [batchSize, (idemSamples ?? 1) + 1, d]),
                       ("idem_buffer", idem.bufferCapacity, "idem_buffer × dimension", [idem.bufferCapacity, d])]
        case .mcmc, .annealing, .variational:
            arrays.append(("eval_paths", evaluation.paths, "eval_paths × dimension", [evaluation.paths, d]))
        case .annealedLangevin:
            arrays += [("batch_size", batchSize, "(steps + 1) × batch_size × dimension", [steps + 1, batchSize, d]),
                       ("eval_paths", evaluation.paths, "eval_paths × dimension", [evaluation.paths, d])]
        case .pathSpace:
            arrays += [("batch_size", batchSize, "(steps + 1) × batch_size × dimension", [steps + 1, batchSize, d]),
                       ("eval_paths", evaluation.paths, "(eval_steps + 1) × eval_paths × dimension", [(evaluation.steps ?? steps) + 1, evaluation.paths, d])]
            if localSearch { arrays.append(("buffer_size", bufferSize, "buffer_size × dimension", [bufferSize, d])) }
        }
        for (key, value, what, factors) in arrays {
            guard let n = product(factors), n <= Self.maxElements else {
                throw ConfigError.badValue(key: key, value: "\(value)", expected: "a smaller value: \(what) = "
                    + factors.map(String.init).joined(separator: " × ") + " exceeds the limit of \(Self.maxElements) values per array")
            }
        }
        if method.family == .annealing || method.family == .variational {
            // Particles, their cached gradients and an HMC move's copies (momenta, proposals, states): about twelve
            // eval_paths × d float arrays (MFVI: its draws and their gradients, batch_size × d, a few).
            let rows = Swift.max(evaluation.paths, method.family == .variational ? batchSize : 0)
            let bytes = product([rows, d, 12 * 4]) ?? .max
            let memory = Int(clamping: ProcessInfo.processInfo.physicalMemory)
            if bytes > memory {
                throw ConfigError.badValue(key: "eval_paths", value: "\(evaluation.paths)", expected: String(format: "fewer particles: "
                    + "about %.1f GiB (12 × eval_paths × dimension floats) are needed and this machine has %.1f GiB",
                    Double(bytes) / 1_073_741_824, Double(memory) / 1_073_741_824))
            }
        }
        if method.family == .pathSpace || method.family == .annealedLangevin {
            // One iteration keeps every step's states, drift, noise and the network's activations for the backward
            // pass: about 6·d + 8·hidden floats per row and step for the path-space trainer; the annealed Langevin tape
            // keeps about 24·d + 16·hidden (measured: 2.4 GB for 10 000 steps of 64 rows, d = 2, hidden 64).
            let perRow = method.family == .pathSpace ? (6 * d + 8 * hidden, "6 × dimension + 8 × hidden") : (24 * d + 16 * hidden, "24 × dimension + 16 × hidden")
            let bytes = product([steps + 1, batchSize, perRow.0, 4]) ?? .max
            let memory = Int(clamping: ProcessInfo.processInfo.physicalMemory)
            if bytes > memory {
                throw ConfigError.badValue(key: "batch_size", value: "\(batchSize)", expected: String(format: "a smaller batch_size "
                    + "or steps: one iteration needs about %.1f GiB ((steps + 1) × batch_size × (\(perRow.1)) floats) "
                    + "and this machine has %.1f GiB", Double(bytes) / 1_073_741_824, Double(memory) / 1_073_741_824))
            }
        }
    }
}

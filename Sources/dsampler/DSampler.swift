import ArgumentParser
import Foundation
import Experiments
import Densities
import Evaluation
import RunStore

/// The `dsampler` command line.
struct DSampler: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dsampler",
        abstract: "Train and evaluate diffusion samplers for unnormalised densities.",
        subcommands: [Train.self, Eval.self, Targets.self, Bench.self])
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time training iterations (median of repeats after warm-up) and print one line per case.")

    @Option(help: "Worker threads.") var threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
    @Option(help: "Timed groups per case.") var repeats = 5
    @Option(help: "Iterations per timed group.") var iterations = 10
    @Argument(help: "Cases to run (default: all): \(Benchmark.cases.map(\.name).joined(separator: ", "))")
    var cases: [String] = []

    func run() throws {
        let selected = cases.isEmpty ? Benchmark.cases : try cases.map { name in
            guard let c = Benchmark.cases.first(where: { $0.name == name }) else {
                throw ValidationError("unknown case \(name); cases: \(Benchmark.cases.map(\.name).joined(separator: ", "))")
            }
            return c
        }
        for c in selected {
            print(try Benchmark.run(c, threads: threads, repeats: repeats, iterations: iterations).line)
            fflush(nil)
        }
    }
}

struct Targets: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the built-in targets with dimension, known log Z, reference samples and default σ².")

    func run() {
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        print(pad("name", 10) + pad("dim", 5) + pad("log Z", 11) + pad("reference", 15) + pad("σ²", 5) + "description")
        for e in TargetRegistry.entries {
            let t = e.make()
            print(pad(e.name, 10) + pad("\(t.dimension)", 5) + pad(t.logZ.map { String(format: "%.4f", $0) } ?? "unknown", 11)
                  + pad(t.hasExactSampler ? "exact sampler" : "none", 15) + pad(String(format: "%g", t.defaultSigma2), 5) + e.summary)
        }
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-evaluate a saved run from its checkpoint and print the metrics.")

    @Argument(help: "Run file (.h5).") var file: String
    @Option(help: "On-policy paths (default: the run's eval_paths).") var paths: Int?

    func run() throws {
        let trainer = try RunFile.restore(try HDF5.read(file), path: file)
        let evaluator = Evaluator(paths: paths ?? trainer.config.evalPaths, seed: trainer.config.seed)
        let report = try evaluator.evaluate(trainer.network, sampler: trainer.sampler)
        print(Summary.lines(report, trainer: trainer).joined(separator: "\n"))
    }
}

import ArgumentParser
import Foundation
import Experiments
import Densities
import Evaluation
import RunStore
import Numerics

/// The `dsampler` command line.
struct DSampler: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dsampler",
        abstract: "Train and evaluate diffusion samplers for unnormalised densities.",
        subcommands: [Train.self, Eval.self, Targets.self, Bench.self, Reference.self, Forces.self, QuenchCommand.self, ScoreErrorCommand.self, SweepCommand.self, ReportCommand.self, PlotCommand.self])
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time training iterations (median of repeats after warm-up) and print one line per case.")

    @Option(help: "Worker threads.") var threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
    @Option(help: "Timed groups per case.") var repeats = 5
    @Option(help: "Iterations per timed group.") var iterations = 10
    @Argument(help: "Cases to run (default: all): \(Bench.allNames.joined(separator: ", "))")
    var cases: [String] = []

    func validate() throws {
        for (name, value, limit) in [("--threads", threads, 256), ("--repeats", repeats, 1000), ("--iterations", iterations, 100_000)]
        where value < 1 || value > limit {
            throw ValidationError("\(name) must be from 1 to \(limit) (got \(value))")
        }
    }

    static let allNames = Benchmark.cases.map(\.name) + Benchmark.densityCases.keys.sorted()
        + [Benchmark.localSearchCase, Benchmark.energyMatchingCase, Benchmark.evaluationCase, Benchmark.productsCase]
        + Benchmark.pythonCases.keys.sorted()

    func run() throws {
        let names = cases.isEmpty ? Self.allNames : cases
        var peak: Double?, probe: Benchmark.GEMMPeakProbe?
        if names.contains(where: { name in Benchmark.cases.contains { $0.name == name } }) {
            peak = Benchmark.gemmPeak(threads: threads)
            probe = Benchmark.GEMMPeakProbe(threads: threads)
            print(String(format: "bench sgemm-peak gflops=%.1f (2048³ split over %d workers, one BLAS thread each, %@)", peak!, threads, BLAS.configuration))
        }
        for name in names {
            if let c = Benchmark.cases.first(where: { $0.name == name }) {
                print(try Benchmark.run(c, threads: threads, repeats: repeats, iterations: iterations, probe: probe).line)
            } else if Benchmark.densityCases[name] != nil {
                print(try Benchmark.runDensity(name, repeats: repeats).line)
            } else if name == Benchmark.energyMatchingCase {
                print(try Benchmark.runEnergyMatching(threads: threads, repeats: min(repeats, 3)).line)
            } else if name == Benchmark.evaluationCase {
                print(try Benchmark.runEvaluation(threads: threads, repeats: repeats).line)
            } else if Benchmark.pythonCases[name] != nil {
                print(try Benchmark.runPythonCall(name, repeats: repeats))
            } else if name == Benchmark.productsCase {
                // Its products run on one thread: their shares refer to the one-thread peak.
                let onePeak = threads == 1 && peak != nil ? peak! : Benchmark.gemmPeak(threads: 1)
                if threads != 1 || peak == nil {
                    print(String(format: "bench sgemm-peak gflops=%.1f (2048³ on 1 worker, one BLAS thread, %@)", onePeak, BLAS.configuration))
                }
                Benchmark.runProducts(peak: onePeak, repeats: repeats).forEach { print($0.line) }
            } else if name == Benchmark.localSearchCase {
                print(try Benchmark.runLocalSearch(threads: threads, repeats: repeats).line)
            } else {
                throw ValidationError("unknown case \(name); cases: \(Self.allNames.joined(separator: ", "))")
            }
            fflush(nil)
        }
    }
}

struct Targets: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the targets (dimension, known log Z, reference, default σ²), or show one target's spec.")

    @Argument(help: "A target to show in full.") var name: String?

    func run() throws {
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        func reference(_ t: any Target, _ spec: TargetSpec?) -> String {
            spec?.reference.map { "samples " + URL(fileURLWithPath: $0).lastPathComponent } ?? (t.hasExactSampler ? "exact sampler" : "none")
        }
        guard let name else {
            let specs = try TargetCatalog.specs(), width = (specs.map(\.name.count).max() ?? 4) + 1
            print(pad("name", width) + pad("dim", 5) + pad("log Z", 11) + pad("reference", 20) + pad("σ²", 6) + "description")
            for spec in specs {
                let t = try spec.make()
                print(pad(spec.name, width) + pad("\(t.dimension)", 5) + pad(t.logZ.map { String(format: "%.4f", $0) } ?? "unknown", 11)
                      + pad(reference(t, spec), 20) + pad(String(format: "%g", t.defaultSigma2), 6) + spec.summary)
            }
            return
        }
        let t = try TargetCatalog.resolve(name)
        let spec = try TargetCatalog.spec(name)
        if let spec { print("# \(spec.file.path)\n" + spec.text) }
        print("dimension: \(t.dimension)")
        print("log Z: " + (t.logZ.map { String(format: "%.6f", $0) } ?? "unknown"))
        print("default σ²: \(t.defaultSigma2)")
        print("exact sampler: \(t.hasExactSampler ? "yes" : "no")")
        if let particles = t.particleStructure { print("particles: \(particles.count) in \(particles.spatialDimension)-D") }
        if let path = spec?.reference {
            let root = try HDF5.read(path)
            print("reference: \(path)")
            for (key, value) in root.attributes { print("  \(key): \(value)") }
            for (split, data) in root.datasets {
                let stats = root.group(split)?.attributes.map { "\($0.name) \($0.value)" }.joined(separator: ", ") ?? ""
                print("  \(split): \(data.shape.map(String.init).joined(separator: " × ")) \(stats)")
            }
        }
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-evaluate a saved run from its checkpoint and print the metrics.")

    @Argument(help: "Run file (.h5).") var file: String
    @Option(help: "On-policy paths or generated samples (default: the run's eval_paths).") var paths: Int?
    @Option(help: "Steps of the evaluation grid or, for iDEM, of the reverse SDE (default: the run's eval_steps).")
    var steps: Int?
    @Option(help: "Worker threads (default: the run's threads); iDEM samples depend on the thread count.") var threads: Int?

    func validate() throws {
        // The same ranges as the eval_paths, eval_steps and threads settings (a variance needs two paths).
        for (name, value, low, high) in [("--paths", paths, 2, 1_000_000), ("--steps", steps, 1, 100_000), ("--threads", threads, 1, 256)] {
            if let value, value < low || value > high { throw ValidationError("\(name) must be from \(low) to \(high) (got \(value))") }
        }
    }

    func run() throws {
        let root = try HDF5.read(file)
        var config = try RunFile.config(of: root, path: file)
        config.evaluation.paths = paths ?? config.evaluation.paths
        config.evaluation.steps = steps ?? config.evaluation.steps
        config.threads = threads ?? config.threads
        guard config.method.hasModel else {
            throw ValidationError("\(file) is a run of objective=\(config.objective), a training-free baseline: it has no model to "
                                  + "re-evaluate (its metrics are in /eval; `dsampler report` lists them)")
        }
        let learner = try RunFile.restore(root, path: file, config: config)
        // A state that is not a finished run is evaluated as it stands; say so, beside the figures.
        if let status = root.attribute("status")?.description, status != "complete" {
            let error = status == "failed" ? root.attribute("error").map { ": \($0)" } ?? "" : ""
            writeToStandardError("note: \(file) has status \(status)\(error); these figures are of its state at iteration "
                                 + "\(learner.iteration), not of a finished run\n")
        }
        print(([learner.trainingSummary] + Summary.lines(try learner.evaluate())).joined(separator: "\n"))
    }
}

struct Reference: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a reference sample set (val/test) for a target by a long MCMC run (MALA or HMC), as an HDF5 file.")

    @Argument(help: "Target name.") var target: String
    @Option(help: "Chains per population (two populations run on two threads).") var chains = 64
    @Option(help: "Kernel steps (sweeps) per chain.") var sweeps = 40_000
    @Option(help: "MCMC kernel: mala, or hmc (with --leapfrog steps per proposal).") var kernel = "mala"
    @Option(help: "Leapfrog steps per HMC proposal (default 5; only with --kernel hmc).") var leapfrog: Int?
    @Option(help: "Adaptation sweeps at the start, discarded.") var burnIn = 20_000
    @Option(help: "Keep every n-th sweep after burn-in.") var thin = 1_000
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Option(help: "Output file.") var out: String
    @Flag(help: "Replace an existing --out file.") var overwrite = false

    func validate() throws {
        guard KernelChoice.names.contains(kernel) else {
            throw ValidationError("--kernel must be one of \(KernelChoice.names.joined(separator: ", ")) (got \(kernel))")
        }
        if leapfrog != nil && kernel != "hmc" { throw ValidationError("--leapfrog applies to --kernel hmc; add --kernel hmc or drop it") }
        for (name, value, limit) in [("--chains", chains, 100_000), ("--sweeps", sweeps, 100_000_000), ("--thin", thin, 100_000_000),
                                     ("--leapfrog", leapfrog ?? 5, 1000)]
        where value < 1 || value > limit {
            throw ValidationError("\(name) must be from 1 to \(limit) (got \(value))")
        }
        guard burnIn >= 0, burnIn < sweeps else {
            throw ValidationError("--burn-in must be from 0 to --sweeps − 1 (got \(burnIn) with --sweeps \(sweeps)): some sweeps must be kept")
        }
        guard (sweeps - burnIn) / thin >= 1 else {
            throw ValidationError("--thin \(thin) keeps no sweep of the \(sweeps - burnIn) after burn-in; use a smaller --thin")
        }
    }

    func run() throws {
        try AtomicFile.checkWritable(out)  // before hours of sampling, not after
        if FileManager.default.fileExists(atPath: out) && !overwrite {
            throw ValidationError("\(out) already exists; pass --overwrite to replace it, or choose another --out")
        }
        var sampling = ReferenceSampling()
        (sampling.chains, sampling.sweeps, sampling.burnIn, sampling.thin, sampling.seed) = (chains, sweeps, burnIn, thin, seed)
        sampling.kernel = KernelChoice(name: kernel, leapfrogSteps: leapfrog ?? 5)
        let t = try TargetCatalog.resolve(target)
        // Two populations of chains, and every kept sweep of every chain, as float arrays of d columns.
        let kept = 2 * chains * ((sweeps - burnIn) / thin)
        for (what, rows) in [("2 × --chains", 2 * chains), ("2 × --chains × (--sweeps − --burn-in) / --thin kept samples", kept)] {
            let (n, overflow) = rows.multipliedReportingOverflow(by: t.dimension)
            guard !overflow, n <= RunConfig.maxElements else {
                throw ValidationError("\(what) × dimension \(t.dimension) exceeds \(RunConfig.maxElements) values; use fewer chains or a larger --thin")
            }
        }
        let node = try sampling.run(t) { sweep in print("sweep \(sweep)/\(sweeps)"); fflush(nil) }
        try HDF5.write(node, to: out)
        for key in ["acceptance", "step_size_mean", "val_energy_mean", "val_energy_std", "test_energy_mean", "test_energy_std", "seconds"] {
            print("\(key) \(node.attribute(key)!)")
        }
        print("wrote \(out): \(node.dataset("val")!.shape[0]) + \(node.dataset("test")!.shape[0]) samples")
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Tabulate a directory of run files: complete runs grouped by target and method, mean ± std over seeds.")

    @Argument(help: "Directory searched (recursively) for run files (*.h5).") var directory: String
    @Option(help: "markdown, latex or csv.") var format = "markdown"
    @Flag(help: "Report the standard error of the mean instead of the standard deviation.") var sem = false
    @Flag(help: "Each run's best 5-point moving average over its eval_every curve instead of its final value (the Beyond-ELBOs convention).")
    var best = false
    @Option(help: "YAML of published numbers: target → method (as printed, or * for all) → metric → value.") var published: String?
    @Option(help: ArgumentHelp("Comma-separated metrics to show (default: delta_elbo,delta_log_z_is,w2,ess,eubo,seconds).",
                               discussion: "Choices: " + ReportColumn.all.map(\.metric).joined(separator: ", ")))
    var columns: String?

    func validate() throws {
        guard ["markdown", "latex", "csv"].contains(format) else {
            throw ValidationError("unknown format \(format); use markdown, latex or csv")
        }
    }

    func run() throws {
        let numbers = try published.map { path -> [String: [String: [String: Double]]] in
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("cannot read the published numbers \(path)")
            }
            return try Report.published(yaml: text)
        } ?? [:]
        let (records, unreadable) = try Report.records(in: directory)
        let shown = try columns.map { try ReportColumn.named($0) } ?? ReportColumn.defaults
        var report = Report(records: records, columns: shown, standardError: sem, bestOverTraining: best, published: numbers)
        report.unreadable = unreadable
        print(report.render(format), terminator: "")
        // A published number whose target or method matches no row would otherwise vanish without a word.
        for (target, methods) in numbers.sorted(by: { $0.key < $1.key }) {
            let rows = report.rows.filter { $0.target == target }
            for method in methods.keys.sorted() where method != "*" && !rows.contains(where: { $0.method == method }) || rows.isEmpty {
                writeToStandardError("published numbers for \(target) / \(method) match no reported run\n")
            }
        }
        for (path, reason) in unreadable { writeToStandardError("skipped \(path): \(reason)\n") }
    }
}

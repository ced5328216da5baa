import CBuildInfo
import Foundation
import Numerics
import RunStore
import Evaluation
import Objectives

/// The run-file schema: how a run's settings, provenance, curves, metrics, samples and checkpoint map onto
/// HDF5 groups, datasets and attributes (see the README's "Run file" section).
public enum RunFile {
    /// Schema version stored in the root attribute `format_version`. 2: booleans in `/config` are h5py bools,
    /// "default" settings hold the value used, replay-buffer log-rewards are float64, and the file is sealed
    /// (whole-file checksum in the HDF5 user block). Version 1 files are read as before.
    public static let formatVersion: Int64 = 2

    /// Where a run writes when no `--out` is given: `Results/runs/<target>-<objective>-<config hash>-seed<seed>.h5`.
    /// The hash covers the settings that differ from their defaults (without seed and thread count), so a new
    /// setting added to the toolkit does not rename the files of earlier runs.
    public static func defaultPath(for c: RunConfig) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in c.changedEntries(ignoring: ["seed", "threads"]).map({ "\($0.0)=\($0.1);" }).joined().utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return "Results/runs/\(fileNameStem(target: c.target))-\(c.objective)-\(String(hash, radix: 16).prefix(8))-seed\(c.seed).h5"
    }

    /// The target's part of a run file name: a catalog name as it is; for `plugin:PATH` or a spec `PATH.yaml` the
    /// file's base name without extension, with anything but letters, digits, `.`, `_`, `-` as `_` (the hash
    /// still tells two paths apart), so the name is one path component.
    static func fileNameStem(target: String) -> String {
        var name = target.hasPrefix("plugin:") ? String(target.dropFirst("plugin:".count)) : target
        if name.contains("/") || name.hasSuffix(".yaml") || name.hasSuffix(".so") {
            name = ((name as NSString).lastPathComponent as NSString).deletingPathExtension
            if target.hasPrefix("plugin:") { name = "plugin-" + name }
        }
        let safe = String(name.unicodeScalars.map { s -> Character in
            s.isASCII && (CharacterSet.alphanumerics.contains(s) || "._-".unicodeScalars.contains(s)) ? Character(s) : "_"
        })
        return safe.isEmpty || safe.hasPrefix(".") ? "target" + safe : safe
    }

    /// Builds the whole file for `trainer`'s current state. `status` is "running", "complete" or "failed".
    public static func node(_ trainer: Trainer, provenance: Provenance, status: String, error: String? = nil,
                            report: EvaluationReport? = nil) -> Node {
        var root = header(trainer.config, provenance: provenance, status: status, error: error, resolved: resolved(trainer))
        root.put("train", trainNode(trainer.history))
        root.put("checkpoint", checkpointNode(trainer.checkpoint))
        if let report {
            root.put("eval", evalNode(report, config: trainer.config))
            root.put("samples", .float(shape: [report.samples.rows, report.samples.cols], values: report.samples.storage))
            root.put("log_weights", .double(shape: [report.logWeights.count], values: report.logWeights))
        }
        return root
    }

    /// The groups every run file starts with: format, status (and error), `/config`, `/provenance`.
    /// `resolved` gives the values actually used for settings whose value is "default" (σ², evaluation steps,
    /// iDEM's target defaults), so the typed `/config` attributes say what ran.
    static func header(_ config: RunConfig, provenance: Provenance, status: String, error: String? = nil,
                       resolved: [String: String] = [:]) -> Node {
        var root = Node()
        root.set("format", .string("dsampler-run"))
        root.set("format_version", .int(formatVersion))
        root.set("status", .string(status))
        if let error { root.set("error", .string(error)) }
        root.put("config", configNode(config, resolved: resolved))
        root.put("provenance", provenance.node)
        return root
    }

    /// `/config`: the settings as given (`yaml`, which `--resume` compares) and one attribute per setting with its
    /// HDF5 type — integers, floats, booleans (h5py bools) and strings — holding the value used (`resolved` for
    /// the settings whose value is derived: "default" ones, and iDEM's grad_clip = 0, which means the target's).
    static func configNode(_ c: RunConfig, resolved: [String: String] = [:]) -> Node {
        var n = Node()
        n.set("yaml", .string(c.yaml))
        for (k, given) in c.entries {
            let v = resolved[k] ?? given
            if v == "true" || v == "false" { n.set(k, .bool(v == "true")) }
            else if let i = Int64(v) { n.set(k, .int(i)) } else if let d = Double(v) { n.set(k, .double(d)) } else { n.set(k, .string(v)) }
        }
        return n
    }

    /// The values a path-space run uses for its "default" settings: σ² and the evaluation steps (iDEM's
    /// "default" settings are marked unused).
    static func resolved(_ trainer: Trainer) -> [String: String] {
        var values = ["sigma2": "\(trainer.sampler.process.sigma2)", "eval_steps": "\(trainer.config.evalSteps ?? trainer.config.steps)"]
        for (key, value) in trainer.config.entries where key.hasPrefix("idem_") && value == "default" {  // a path-space run
            values[key] = "unused by objective=\(trainer.config.objective)"
        }
        return values
    }

    static func trainNode(_ h: [TrainingPoint]) -> Node {
        var n = Node()
        n.put("iteration", .int64(shape: [h.count], values: h.map { Int64($0.iteration) }))
        n.put("loss", .double(shape: [h.count], values: h.map(\.loss)))
        n.put("log_z", .double(shape: [h.count], values: h.map(\.logZ)))
        n.put("seconds", .double(shape: [h.count], values: h.map(\.seconds)))
        n.put("energy_evals", .int64(shape: [h.count], values: h.map { Int64($0.budget.energy) }))
        n.put("grad_evals", .int64(shape: [h.count], values: h.map { Int64($0.budget.gradient) }))
        return n
    }

    static func evalNode(_ r: EvaluationReport, config: RunConfig) -> Node {
        var n = Node()
        let e = r.onPolicy
        n.set("n_eval", .int(Int64(e.count)))
        n.set("elbo", .double(e.meanLogWeight))
        n.set("log_z_is", .double(e.importanceWeighted))
        n.set("ess", .double(e.effectiveSampleSize))
        if let truth = r.logZTrue {
            n.set("log_z_true", .double(truth))
            n.set("delta_elbo", .double(abs(e.meanLogWeight - truth)))
            n.set("delta_log_z_is", .double(abs(e.importanceWeighted - truth)))
        }
        if let eubo = r.eubo { n.set("eubo", .double(eubo)) }
        if let w2 = r.w2 {
            n.set("w2", .double(w2))
            let used = min(e.count, Wasserstein.evaluationSamples)
            n.set("w2_reference", .string("first \(used) model vs \(used) exact target samples; exact OT, squared-Euclidean cost, sqrt of mean cost"))
        }
        if let c = r.coverage {
            n.set("modes_covered", .int(Int64(c.covered)))
            n.set("modes_effective", .double(c.effectiveModes))
            n.put("mode_fractions", .double(shape: [c.fractions.count], values: c.fractions))
            if let kl = c.weightKL { n.set("mode_weight_kl", .double(kl)) }
        }
        return n
    }

    static func checkpointNode(_ c: Checkpoint) -> Node {
        var n = Node()
        func put(_ prefix: String, _ store: ParameterStore, _ adam: Adam) {
            n.put(prefix, .float(shape: [store.values.count], values: store.values))
            n.put(prefix + "_adam_m", .float(shape: [adam.firstMoment.count], values: adam.firstMoment))
            n.put(prefix + "_adam_v", .float(shape: [adam.secondMoment.count], values: adam.secondMoment))
            n.set(prefix + "_adam_step", .int(Int64(adam.step)))
            n.set(prefix + "_layout", .string(store.slots.map { "\($0.name):\($0.rows)x\($0.cols)" }.joined(separator: ",")))
        }
        put("network", c.network, c.networkOptimizer)
        put("objective", c.objective, c.objectiveOptimizer)
        n.set("iteration", .int(Int64(c.iteration)))
        n.set("energy_evals", .int(Int64(c.budget.energy)))
        n.set("grad_evals", .int(Int64(c.budget.gradient)))
        n.set("seconds", .double(c.seconds))
        for (prefix, buffer) in [("buffer", c.buffer), ("ls_buffer", c.localSearchBuffer)] {
            guard let b = buffer else { continue }
            n.put(prefix + "_states", .float(shape: [b.count, b.dimension], values: b.states))
            n.put(prefix + "_log_rewards", .double(shape: [b.count], values: b.logRewards))
        }
        return n
    }

    /// The settings a run file was written with (its `/config` YAML, one `key: value` per line).
    public static func config(of root: Node, path: String) throws -> RunConfig {
        guard root.attribute("format") == .string("dsampler-run"), case .string(let yaml)? = root.group("config")?.attribute("yaml") else {
            throw RunFileError(message: "\(path) is not a dsampler run file (no /config)")
        }
        let version = root.attribute("format_version")?.doubleValue ?? 1
        guard version >= 1, version <= Double(formatVersion) else {
            throw RunFileError(message: "\(path) has format_version \(root.attribute("format_version")!), this dsampler reads 1 to "
                               + "\(formatVersion); use the dsampler version that wrote it, or a newer one")
        }
        do {
            return try RunConfig.parse(yaml.split(separator: "\n").map { $0.replacingOccurrences(of: ": ", with: "=") })
        } catch {
            throw RunFileError(message: "\(path): its settings do not parse with this version (\(error))")
        }
    }

    /// Reads the settings, checkpoint and curve of a run file and rebuilds its trainer at that point. `config`
    /// replaces the file's settings (e.g. other evaluation settings); it must describe the same networks.
    public static func restore(_ root: Node, path: String, config override: RunConfig? = nil) throws -> Trainer {
        let trainer = try Trainer(config: try override ?? config(of: root, path: path))
        let cp = try CheckpointFields(root, path: path)
        var checkpoint = trainer.checkpoint
        func load(_ prefix: String, _ store: inout ParameterStore, _ adam: inout Adam) throws {
            let n = store.values.count
            store.values = try cp.floats(prefix, count: n)
            adam.firstMoment = try cp.floats(prefix + "_adam_m", count: n)
            adam.secondMoment = try cp.floats(prefix + "_adam_v", count: n)
            adam.step = try cp.count(prefix + "_adam_step")
        }
        try load("network", &checkpoint.network, &checkpoint.networkOptimizer)
        try load("objective", &checkpoint.objective, &checkpoint.objectiveOptimizer)
        checkpoint.iteration = try cp.count("iteration", limit: trainer.config.iterations)
        checkpoint.budget = EvaluationBudget(energy: try cp.count("energy_evals"), gradient: try cp.count("grad_evals"))
        checkpoint.seconds = try cp.number("seconds", fallback: 0)
        func restoreBuffer(_ prefix: String, _ buffer: inout ReplayBuffer?) throws {
            guard var b = buffer, let stored = try cp.buffer(prefix, width: b.dimension), let rewards = stored.logRewards else { return }
            b.add(Matrix(rows: stored.rows, cols: b.dimension, storage: stored.states), logRewards: rewards)
            buffer = b
        }
        try restoreBuffer("buffer", &checkpoint.buffer)
        try restoreBuffer("ls_buffer", &checkpoint.localSearchBuffer)
        let columns = try CheckpointFields.curve(root, keys: ["iteration", "loss", "log_z", "seconds", "energy_evals", "grad_evals"],
                                                 counts: ["iteration", "energy_evals", "grad_evals"], path: path)
        let history = columns.isEmpty ? [] : columns[0].indices.map { k in
            TrainingPoint(iteration: Int(columns[0][k]), loss: columns[1][k], logZ: columns[2][k], seconds: columns[3][k],
                          budget: EvaluationBudget(energy: Int(columns[4][k]), gradient: Int(columns[5][k])))
        }
        try trainer.restore(checkpoint, history: history)
        return trainer
    }
}

/// Where and how a run was produced.
public struct Provenance: Sendable {
    /// When the run started.
    public var startTime = Date()
    /// When the run finished (nil while it runs).
    public var endTime: Date?
    /// The run's seed.
    public var seed: UInt64
    /// Worker threads of the run.
    public var threads: Int
    /// The iteration (epoch for iDEM) this leg started from: 0 unless the run was resumed.
    public var startIteration = 0
    /// The legs that trained the run before this one, oldest first, one line each ("commit, iterations
    /// a–b, lr r[, idem_… v], start … end", listing `RunConfig.resumable`): a resumed run records every binary
    /// and every setting that may change on resume.
    public var earlierLegs: [String] = []

    /// Provenance for a run starting now.
    public init(seed: UInt64, threads: Int) {
        self.seed = seed
        self.threads = threads
    }

    /// Provenance for a leg that resumes the run in `root` at `iteration`: the file's own legs are kept and
    /// the leg that wrote it is appended to them.
    public init(seed: UInt64, threads: Int, resuming root: Node, at iteration: Int) {
        self.init(seed: seed, threads: threads)
        startIteration = iteration
        guard let old = root.group("provenance") else { return }
        func text(_ key: String) -> String { old.attribute(key)?.description ?? "?" }
        if case .string(let legs)? = old.attribute("earlier_legs") { earlierLegs = legs.split(separator: "\n").map(String.init) }
        let from = Int(old.attribute("start_iteration")?.doubleValue ?? 0)
        // A leg without an end time was interrupted (killed or out of time) and resumed from its last checkpoint.
        let end = old.attribute("end_time")?.description ?? "interrupted"
        let config = root.group("config")
        let objective = config?.attribute("objective")?.description ?? ""
        var changeable = ""
        for key in RunConfig.resumable(for: Method.find(objective)) {
            guard let value = config?.attribute(key) else { continue }
            changeable += ", \(key) " + (value.doubleValue.map { String(format: "%g", $0) } ?? value.description)
        }
        earlierLegs.append("\(text("git_commit")), iterations \(from)–\(iteration)\(changeable), \(text("start_time")) … \(end)")
    }

    /// The toolkit version.
    public static let version = "0.1.0"

    var node: Node {
        var n = Node()
        let iso = ISO8601DateFormatter()
        n.set("version", .string(Self.version))
        n.set("git_commit", .string(Self.gitCommit))
        n.set("blas", .string(BLAS.configuration))
        n.set("blas_threads", .int(1))
        n.set("threads", .int(Int64(threads)))
        n.set("seed", .int(Int64(bitPattern: seed)))
        n.set("host", .string(ProcessInfo.processInfo.hostName))
        n.set("start_time", .string(iso.string(from: startTime)))
        if let endTime { n.set("end_time", .string(iso.string(from: endTime))) }
        n.set("start_iteration", .int(Int64(startIteration)))
        if !earlierLegs.isEmpty { n.set("earlier_legs", .string(earlierLegs.joined(separator: "\n"))) }
        return n
    }

    /// The commit this binary was built from (recorded at build time by the scripts; "-dirty" when the sources
    /// had uncommitted changes), or "unknown". Not the working directory's HEAD: a sweep keeps running one
    /// binary while the checkout it runs in moves on.
    static let gitCommit = String(cString: dsn_build_commit())
}

/// A file that is not a usable run file, with what is wrong.
public struct RunFileError: Error, CustomStringConvertible {
    /// What is wrong, and with which file.
    public let message: String
    public var description: String { message }

    /// The refusal to resume `path` under settings it was not written with.
    static func otherSettings(_ path: String) -> String {
        "\(path) was written with other settings; remove it or drop --resume (with --resume only iterations may "
            + "change, raised to train the run further, and these: "
            + RunConfig.resumable.joined(separator: ", ") + ")"
    }
}

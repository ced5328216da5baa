import CBuildInfo
import Foundation
import Numerics
import RunStore
import Evaluation
import Objectives
import Densities
import Training

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
    /// file's base name without extension (`python-FILE-FUNC` for a Python function), with anything but letters, digits, `.`, `_`, `-` as `_` (the hash
    /// still tells two paths apart), so the name is one path component.
    static func fileNameStem(target: String) -> String {
        var name = target.hasPrefix("plugin:") ? String(target.dropFirst("plugin:".count)) : target
        if let (file, function) = TargetCatalog.pythonFunction(target) {  // python-FILE-FUNC
            name = "python-" + ((file as NSString).lastPathComponent as NSString).deletingPathExtension + "-" + function
        }
        if name.contains("/") || name.hasSuffix(".yaml") || name.hasSuffix(".so") {
            name = ((name as NSString).lastPathComponent as NSString).deletingPathExtension
            if target.hasPrefix("plugin:") { name = "plugin-" + name }
        }
        let safe = String(name.unicodeScalars.map { s -> Character in
            s.isASCII && (CharacterSet.alphanumerics.contains(s) || "._-".unicodeScalars.contains(s)) ? Character(s) : "_"
        })
        return safe.isEmpty || safe.hasPrefix(".") ? "target" + safe : safe
    }

    /// Builds the whole file for `learner`'s current state, whatever its method. `status` is "running",
    /// "complete", "interrupted" or "failed".
    public static func node(_ learner: any Learner, provenance: Provenance, status: String, error: String? = nil,
                            report: EvaluationReport? = nil) -> Node {
        var provenance = provenance
        provenance.targetSource = targetSource(learner.config.target, custom: learner.customTarget)
        var root = header(learner.config, provenance: provenance, status: status, error: error, resolved: learner.resolvedSettings)
        var train = curveNode(learner.history)
        if !learner.monitored.isEmpty { train.put("eval", curveNode(learner.monitored)) }
        root.put("train", train)
        var checkpoint = learner.checkpointNode()
        checkpoint.set("iteration", .int(Int64(learner.iteration)))
        checkpoint.set("energy_evals", .int(Int64(learner.budget.energy)))
        checkpoint.set("grad_evals", .int(Int64(learner.budget.gradient)))
        checkpoint.set("seconds", .double(learner.seconds))
        root.put("checkpoint", checkpoint)
        if let report {
            root.put("eval", evalNode(report))
            root.put("samples", .float(shape: [report.samples.rows, report.samples.cols], values: report.samples.storage))
            if let w = report.logWeights { root.put("log_weights", .double(shape: [w.count], values: w)) }
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
        // A target given in Swift has a name the catalog does not know: it is kept as written, not looked up.
        let swift = root.group("provenance")?.attribute("target_source")?.description.hasPrefix("swift ") == true
        do {
            var lines = yaml.split(separator: "\n").map { $0.replacingOccurrences(of: ": ", with: "=") }
            let name = swift ? lines.first { $0.hasPrefix("target=") }.map { String($0.dropFirst("target=".count)) } : nil
            if name != nil { lines.removeAll { $0.hasPrefix("target=") } }
            var config = try RunConfig.parse(lines)
            if let name { config.target = name }
            return config
        } catch {
            throw RunFileError(message: "\(path): its settings do not parse with this version (\(error))")
        }
    }

    /// Where a run's target came from, for `/provenance/target_source`: "catalog", "plugin PATH", "python FILE:FUNC", "spec file PATH",
    /// or "swift TYPE" for a `Target` value given through the API, which only the program that defines it can
    /// rebuild (`restore(_:path:target:)`).
    static func targetSource(_ name: String, custom: (any Target)?) -> String {
        if let custom { return "swift " + String(reflecting: type(of: custom)) }
        if name.hasPrefix("plugin:") { return "plugin " + name.dropFirst("plugin:".count) }
        if name.hasPrefix("python:") { return "python " + name.dropFirst("python:".count) }
        return name.hasSuffix(".yaml") ? "spec file " + name : "catalog"
    }

    /// FNV-1a (64-bit, hex) of the code files behind a target as they are now (`TargetCatalog.codeFiles`: a
    /// `python:FILE.py:FUNC` or `plugin:PATH.so` target, or a spec naming one), in order, or nil (a built-in target,
    /// or a file unreadable): a run records it, and re-evaluating or resuming the run refuses files that changed since,
    /// which would otherwise give other numbers under the run's name.
    static func targetDigest(_ target: String) -> String? {
        let files = TargetCatalog.codeFiles(target)
        guard !files.isEmpty else { return nil }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { return nil }
            for byte in data { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        return String(hash, radix: 16)
    }

    /// The learner of the run file at `path` (see `restore(_:path:config:target:)`).
    /// - Throws: `HDF5Error` when the file cannot be read, `RunFileError` when it is not a usable run file.
    public static func restore(path: String, config: RunConfig? = nil, target: (any Target)? = nil) throws -> any Learner {
        try restore(try HDF5.read(path), path: path, config: config, target: target)
    }

    /// Reads the settings, checkpoint and curves of a run file and rebuilds its learner at that point. `config`
    /// replaces the file's settings (e.g. other evaluation settings, or a resumed leg's); it must describe the same
    /// networks. `target` is the custom target a run was trained on (nil: the catalog's `target=`). `training`
    /// says whether the learner is to train on (a resumed leg), which needs the files it trains from (RTB's prior,
    /// MLE's data); evaluating and plotting a run do not read them, so they work after those files are gone.
    /// - Throws: `RunFileError` for a file that is not a complete, consistent run file of this method.
    public static func restore(_ root: Node, path: String, config override: RunConfig? = nil,
                               target: (any Target)? = nil, training: Bool = false) throws -> any Learner {
        let stored = try config(of: root, path: path)
        let source = root.group("provenance")?.attribute("target_source")?.description ?? "catalog"
        if target == nil, source.hasPrefix("swift ") {
            throw RunFileError(message: "\(path) was trained on a Target given in Swift (\(source.dropFirst(6)), named \(stored.target)); "
                + "only a program that defines it can rebuild the run: pass it as RunFile.restore(_:path:target:) or Job.target")
        }
        if let target, target.name != stored.target || target.dimension != root.dataset("samples")?.shape.last ?? target.dimension {
            throw RunFileError(message: "\(path) was trained on the target \(stored.target); the target given is \(target.name) "
                + "(dimension \(target.dimension)); pass the run's own target")
        }
        if target == nil, let recorded = root.group("provenance")?.attribute("target_digest")?.description,
           let now = targetDigest(stored.target), now != recorded {
            let files = TargetCatalog.codeFiles(stored.target).joined(separator: ", ")
            throw RunFileError(message: "\(path) was trained on \(stored.target), whose file has changed since (\(files): digest "
                + "\(recorded), now \(now)); restore the file the run was trained with, or train a new run")
        }
        let learner = try Learners.make(override ?? stored, target: target, training: training)
        try learner.restore(try CheckpointFields(root, path: path), stored: stored)
        learner.history = try CheckpointFields.curve(root.group("train"), path: path)
        learner.monitored = try CheckpointFields.curve(root.group("train")?.group("eval"), path: path)
        return learner
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
    /// Where the target came from (`RunFile.targetSource`), nil when not known.
    public var targetSource: String?
    /// The digest of a Python or plug-in target's file (`RunFile.targetDigest`).
    public var targetDigest: String?

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
        // A leg without an end time did not stop on its own terms (killed, out of time, or failed: a failure keeps the
        // last checkpoint and writes its state beside it) and is resumed from its last checkpoint. A stop on request
        // records its end time.
        let end = old.attribute("end_time")?.description ?? "unfinished (killed or failed)"
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
        if let targetSource { n.set("target_source", .string(targetSource)) }
        if let targetDigest { n.set("target_digest", .string(targetDigest)) }
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

    /// The refusal of a `--resume` whose settings differ from the file's; it names the `resumable` settings of `method`.
    static func otherSettings(_ path: String, differing: [String], method: Method?) -> String {
        "\(path) was written with other settings (" + differing.joined(separator: "; ") + "); remove it or drop --resume "
            + "(with --resume only iterations may "
            + "change, raised to train the run further, and these: "
            + RunConfig.resumable(for: method).joined(separator: ", ") + ")"
    }

    /// The refusal of a `--resume` of a failed state (`status = failed` at the path: a run that failed before its first
    /// checkpoint, or a `NAME.failed.h5` record): that state is where training broke down, so continuing it fails
    /// again (a diverged state resumed at a lower lr diverged again). A run that failed after
    /// a checkpoint keeps that checkpoint at the path, with `status = running`, and resumes from it.
    static func failedState(_ path: String, error: String?) -> String {
        let failure = "\(path) holds the state in which a run failed" + (error.map { " (\($0))" } ?? "") + ", not a checkpoint to "
            + "continue from; "
        // A failure record beside a kept run file: that file is what resumes.
        if path.hasSuffix(".failed.h5") {
            let run = String(path.dropLast(".failed.h5".count)) + ".h5"
            if FileManager.default.fileExists(atPath: run) { return failure + "the run's own file, \(run), is what --resume continues" }
        }
        return failure + "start the run anew with --overwrite instead of --resume (the failed state is kept beside it as "
            + "\(RunOutput.replacedPath(of: path)) until the new run completes), or remove it"
    }
}

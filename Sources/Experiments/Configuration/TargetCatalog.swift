import Foundation
import Yams
import Densities
import Numerics
import RunStore
import PythonTargets

/// One target spec: a YAML file in `Targets/` that names a target kind and its constants.
public struct TargetSpec {
    /// Canonical name (`target=NAME`).
    public let name: String
    /// Which family builds it (`grid-mixture`, `mixture`, `ratio`, `funnel`, `manywell`, `double-well-particles`,
    /// `lennard-jones`, `cox-process`, `plugin`, and the benchmark kinds of `benchmarkKindKeys`).
    public let kind: String
    /// One-line description.
    public let summary: String
    /// The file it came from.
    public let file: URL
    /// The file's text, as written.
    public let text: String
    /// Plot range [lo, hi] per coordinate, if given.
    public let plotRange: [Double]?
    /// Absolute path of the reference sample set, if any.
    public let reference: String?
    let fields: [String: Any]

    /// Keys every spec may have, and the extra keys of each kind.
    static let commonKeys: Set = ["name", "kind", "description", "sde_sigma2", "plot_range", "reference", "idem"]
    /// Keys of the `idem:` mapping: per-target defaults of `objective=idem`.
    static let idemKeys: Set = ["sigma_min", "sigma_max", "samples", "score_clip", "diffusion_scale", "scale",
                                "variance_weighting", "grad_clip"]
    static let kindKeys: [String: Set<String>] = [
        "grid-mixture": ["grid", "variance", "weights"], "ratio": ["numerator", "denominator"], "mixture": ["means_file", "std"], "funnel": ["dimension", "neck_std"],
        "manywell": ["dimension"], "double-well-particles": ["particles", "spatial_dim"], "lennard-jones": ["particles"],
        "plugin": ["plugin", "dimension"], "python": ["python", "dimension", "log_z"],
        "cox-process": ["points_file", "x_range", "y_range", "grid", "prior_variance", "beta"],
    ].merging(benchmarkKindKeys) { a, _ in a }

    /// Parses the spec at `file`, rejecting unknown kinds and keys.
    public init(file: URL) throws {
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw SpecError(file: file, problem: "no such file (a spec path is relative to the working directory)")
        }
        let text = try String(contentsOf: file, encoding: .utf8)
        guard let fields = try SafeYAML.load(text, source: file.path) as? [String: Any] else {
            throw SpecError(file: file, problem: "is not a YAML mapping")
        }
        guard let kind = fields["kind"] as? String, let allowed = Self.kindKeys[kind] else {
            throw SpecError(file: file, problem: "needs 'kind:' with one of \(Self.kindKeys.keys.sorted().joined(separator: ", "))")
        }
        let valid = Self.commonKeys.union(allowed)
        if let unknown = fields.keys.sorted().first(where: { !valid.contains($0) }) {
            throw SpecError(file: file, problem: "unknown key '\(unknown)' for kind \(kind); valid keys: \(valid.sorted().joined(separator: ", "))")
        }
        if let idem = fields["idem"] {
            guard let map = idem as? [String: Any] else { throw SpecError(file: file, problem: "idem must be a mapping") }
            if let unknown = map.keys.sorted().first(where: { !Self.idemKeys.contains($0) }) {
                throw SpecError(file: file, problem: "unknown idem key '\(unknown)'; valid: \(Self.idemKeys.sorted().joined(separator: ", "))")
            }
        }
        self.file = file
        self.text = text
        self.kind = kind
        self.fields = fields
        for (key, value) in (fields["idem"] as? [String: Any]) ?? [:] where key != "variance_weighting" {
            guard let v = Self.number(value), v.isFinite, v > 0 else {
                throw SpecError(file: file, problem: "idem \(key) must be a number > 0, got \(value)")
            }
        }
        name = fields["name"] as? String ?? file.deletingPathExtension().lastPathComponent
        summary = fields["description"] as? String ?? kind
        plotRange = (fields["plot_range"] as? [Any])?.compactMap(Self.number)
        reference = (fields["reference"] as? String).map { Self.path($0, relativeTo: file) }
    }

    /// The spec's iDEM defaults (`idem:` mapping) as numbers; empty without one.
    public var idemDefaults: [String: Double] {
        ((fields["idem"] as? [String: Any]) ?? [:]).compactMapValues { Self.number($0) ?? (($0 as? Bool).map { $0 ? 1 : 0 }) }
    }

    /// Builds the target.
    /// - Throws: `SpecError` naming the key and the valid range for every constant that would make the density
    ///   non-finite (variances and standard deviations ≤ 0, weights of the wrong count or ≤ 0), for sizes past
    ///   `maxDimension`, and for ratio specs of unequal dimensions or that refer to themselves.
    public func make() throws -> any Target { try make(resolving: []) }

    /// Largest dimension or particle count a spec may declare.
    public static let maxDimension = 100_000

    func make(resolving: [String]) throws -> any Target {
        let sigma2 = try float("sde_sigma2", default: 1)
        switch kind {
        case "grid-mixture":
            let grid = try numbers("grid")
            let weights = fields["weights"] == nil ? nil : try numbers("weights")
            if let weights, weights.count != grid.count * grid.count || !weights.allSatisfy({ $0 > 0 }) || !weights.reduce(0, +).isFinite {
                throw SpecError(file: file, problem: "'weights' must be \(grid.count * grid.count) numbers > 0 (one per grid point "
                                + "pair), got \(weights.count)\(weights.allSatisfy { $0 > 0 } ? "" : " with some ≤ 0")")
            }
            return GaussianMixture.grid(name: name, coordinates: grid.map(Float.init),
                                        variance: try float("variance"), sigma2: sigma2, weights: weights)
        case "ratio":
            guard let a = (fields["numerator"] as? String).map(part), let b = (fields["denominator"] as? String).map(part) else {
                throw SpecError(file: file, problem: "a ratio needs numerator: NAME and denominator: NAME")
            }
            if let loop = resolving.contains(name) || resolving.count > 16 ? name : [a, b].first(where: { resolving.contains($0) || $0 == name }) {
                throw SpecError(file: file, problem: "ratio \(name) refers to \(loop), which refers back to it; a ratio's "
                                + "numerator and denominator must be other targets")
            }
            let numerator = try TargetCatalog.resolve(a, resolving: resolving + [name])
            let denominator = try TargetCatalog.resolve(b, resolving: resolving + [name])
            guard numerator.dimension == denominator.dimension else {
                throw SpecError(file: file, problem: "numerator \(a) has dimension \(numerator.dimension) but denominator \(b) has "
                                + "\(denominator.dimension); they must match")
            }
            return RewardRatio(name: name, numerator: numerator, denominator: denominator)
        case "mixture":
            return GaussianMixture(name: name, means: try table("means_file").map { $0.map(Float.init) },
                                   componentStd: try float("std"), defaultSigma2: sigma2)
        case "funnel":
            let d = try integer("dimension")
            guard d >= 2 else { throw SpecError(file: file, problem: "a funnel needs dimension ≥ 2, got \(d)") }
            return Funnel(name: name, dimension: d, neckStd: Double(try float("neck_std")), defaultSigma2: sigma2)
        case "manywell":
            let d = try integer("dimension")
            guard d % 2 == 0 else { throw SpecError(file: file, problem: "manywell needs an even dimension, got \(d)") }
            return ManyWell(name: name, dimension: d, defaultSigma2: sigma2)
        case "double-well-particles":
            return DoubleWellParticles(name: name, count: try integer("particles"), spatialDimension: try integer("spatial_dim"),
                                       defaultSigma2: sigma2)
        case "lennard-jones":
            return LennardJones(name: name, count: try integer("particles"), defaultSigma2: sigma2)
        case "cox-process":
            let x = try numbers("x_range"), y = try numbers("y_range")
            guard x.count == 2, y.count == 2, x[0] < x[1], y[0] < y[1] else {
                throw SpecError(file: file, problem: "x_range and y_range must be [low, high]")
            }
            return try LogGaussianCoxProcess(name: name, points: try table("points_file").map { ($0[0], $0[1]) },
                                             xRange: x[0]...x[1], yRange: y[0]...y[1], gridSize: try integer("grid"),
                                             priorVariance: try double("prior_variance"), beta: try double("beta"),
                                             defaultSigma2: sigma2)
        case _ where Self.benchmarkKindKeys[kind] != nil:
            return try makeBenchmarkTask(sigma2: sigma2)
        case "python":
            guard let value = fields["python"] as? String, let (file, function) = TargetCatalog.pythonFunction("python:" + value) else {
                throw SpecError(file: file, problem: "needs 'python: FILE.py:FUNC' (the file relative to the spec)")
            }
            let z = try fields["log_z"].map { v -> Double in
                guard let z = Self.number(v), z.isFinite else { throw SpecError(file: self.file, problem: "'log_z' must be a finite number") }
                return z
            }
            return try PythonTarget(path: Self.path(file, relativeTo: self.file), function: function,
                                    dimension: fields["dimension"] == nil ? nil : try integer("dimension"), logZ: z, sigma2: sigma2)
        default:  // plugin
            guard let library = fields["plugin"] as? String else { throw SpecError(file: file, problem: "needs 'plugin: PATH.so'") }
            let expected = fields["dimension"] == nil ? nil : try integer("dimension")
            return try PluginTarget(path: Self.path(library, relativeTo: file), sigma2: sigma2, expectedDimension: expected)
        }
    }

    /// The code files behind the spec, resolved as `make` does: a `kind: python` spec's Python file, a plug-in's
    /// library, and those of a ratio's numerator and denominator; empty for the other kinds.
    func codeFiles(resolving: [String]) -> [String] {
        switch kind {
        case "python":
            return (fields["python"] as? String).flatMap { TargetCatalog.pythonFunction("python:" + $0) }
                .map { [Self.path($0.file, relativeTo: file)] } ?? []
        case "plugin":
            return (fields["plugin"] as? String).map { [Self.path($0, relativeTo: file)] } ?? []
        case "ratio":
            guard resolving.count < 16, !resolving.contains(name) else { return [] }  // `make` reports the loop
            return ["numerator", "denominator"].compactMap { (fields[$0] as? String).map(part) }
                .flatMap { TargetCatalog.codeFiles($0, resolving: resolving + [name]) }
        default:
            return []
        }
    }

    static func number(_ v: Any) -> Double? { (v as? Double) ?? (v as? Int).map(Double.init) }

    /// A ratio's numerator or denominator as a `target=` value: a file it names (`python:FILE.py:FUNC`, `plugin:PATH`,
    /// `PATH.yaml`) is relative to this spec's folder, as a `kind: python` spec's file is; catalog names stay as they are.
    func part(_ value: String) -> String {
        if let (f, function) = TargetCatalog.pythonFunction(value) { return "python:" + Self.path(f, relativeTo: file) + ":" + function }
        if value.hasPrefix("plugin:") { return "plugin:" + Self.path(String(value.dropFirst("plugin:".count)), relativeTo: file) }
        return value.hasSuffix(".yaml") ? Self.path(value, relativeTo: file) : value
    }

    static func path(_ p: String, relativeTo file: URL) -> String {
        p.hasPrefix("/") ? p : file.deletingLastPathComponent().appendingPathComponent(p).standardizedFileURL.path
    }

    /// A number > 0 (every scalar constant of a spec is a variance, a standard deviation, a rate or a scale).
    func double(_ key: String) throws -> Double {
        guard let v = fields[key].flatMap(Self.number), v.isFinite, v > 0, Float(v).isFinite, Float(v) > 0 else {
            throw SpecError(file: file, problem: "'\(key)' must be a number > 0 (and within float range)\(fields[key].map { ", got \($0)" } ?? "")")
        }
        return v
    }

    func float(_ key: String, default value: Float? = nil) throws -> Float {
        if let value, fields[key] == nil { return value }
        return Float(try double(key))
    }

    func integer(_ key: String) throws -> Int {
        guard let v = fields[key] as? Int, v > 0, v <= Self.maxDimension else {
            throw SpecError(file: file, problem: "'\(key)' must be an integer from 1 to \(Self.maxDimension)\(fields[key].map { ", got \($0)" } ?? "")")
        }
        return v
    }

    func numbers(_ key: String) throws -> [Double] {
        guard let list = fields[key] as? [Any], case let values = list.compactMap(Self.number), values.count == list.count,
              !values.isEmpty, values.allSatisfy(\.isFinite) else {
            throw SpecError(file: file, problem: "'\(key)' must be a non-empty list of finite numbers")
        }
        return values
    }

    /// A CSV file named by `key` (relative to the spec): one comma-separated row of numbers per line (LF or CRLF
    /// line ends), `#` comment lines, every cell a number within float range and every row as long as the first, at
    /// most `maxDimension` columns.
    func table(_ key: String) throws -> [[Double]] {
        guard let relative = fields[key] as? String else { throw SpecError(file: file, problem: "needs '\(key)': a file name") }
        let path = Self.path(relative, relativeTo: file)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SpecError(file: file, problem: "cannot read \(key) \(path)")
        }
        var rows: [[Double]] = []
        for (number, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let cells = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            var row: [Double] = []
            for (column, cell) in cells.enumerated() {
                guard RunConfig.isDecimalLiteral(cell), let v = Double(cell), v.isFinite, Float(v).isFinite else {
                    throw SpecError(file: file, problem: "\(key) \(path) line \(number + 1), column \(column + 1): '\(cell)' is not a "
                                    + "finite number within float range (each line must be comma-separated numbers; # starts a comment)")
                }
                row.append(v)
            }
            if let first = rows.first, row.count != first.count {
                throw SpecError(file: file, problem: "\(key) \(path) line \(number + 1) has \(row.count) values, the first row \(first.count)")
            }
            rows.append(row)
        }
        guard let first = rows.first else { throw SpecError(file: file, problem: "\(key) \(path) holds no rows of numbers") }
        guard first.count <= Self.maxDimension else {
            throw SpecError(file: file, problem: "\(key) \(path) has \(first.count) columns; at most \(Self.maxDimension)")
        }
        return rows
    }
}

/// A target spec that cannot be used, naming the file and the problem.
public struct SpecError: Error, CustomStringConvertible {
    /// The spec file.
    public let file: URL
    /// What is wrong with it and how to fix it.
    public let problem: String
    public var description: String { "target spec \(file.path): \(problem)" }
}

/// The target specs in `Targets/*.yaml`, and name resolution for `target=`.
public enum TargetCatalog {
    /// The catalog folder: `$DSAMPLER_TARGETS`, else the first `Targets/` holding `gmm25.yaml` found walking up
    /// from the working directory or from the executable.
    public static let directory: URL? = {
        if let env = ProcessInfo.processInfo.environment["DSAMPLER_TARGETS"] { return URL(fileURLWithPath: env) }
        let starts = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                      URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()]
        for start in starts {
            var dir = start.standardizedFileURL
            for _ in 0..<8 {
                let candidate = dir.appendingPathComponent("Targets")
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("gmm25.yaml").path) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }()

    /// All specs in the catalog, by file name.
    public static func specs() throws -> [TargetSpec] {
        guard let directory else {
            throw SpecError(file: URL(fileURLWithPath: "Targets"), problem:
                "cannot find the target catalog (Targets/*.yaml); run from the repository or set DSAMPLER_TARGETS")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        return try files.map { try TargetSpec(file: directory.appendingPathComponent($0)) }
    }

    /// The spec called `name`, if any: `NAME.yaml` first (so that a broken file elsewhere in the catalog does not
    /// hide it), then any spec whose `name:` says so.
    public static func spec(_ name: String) throws -> TargetSpec? {
        // Plug-ins and Python functions have no spec; a spec file is read where it is, without the catalog.
        if name.hasPrefix("plugin:") || name.hasPrefix("python:") { return nil }
        if name.hasSuffix(".yaml") { return try TargetSpec(file: URL(fileURLWithPath: name)) }
        if let directory, !name.contains("/") {
            let file = directory.appendingPathComponent(name + ".yaml")
            if FileManager.default.fileExists(atPath: file.path), let spec = try? TargetSpec(file: file), spec.name == name { return spec }
        }
        return try specs().first { $0.name == name }
    }

    /// The first `rows` rows (at least one, at most all) of the test split of `name`'s reference set, and the
    /// set's path; nil if the target has no reference set.
    public static func referenceTest(_ name: String, rows: Int) throws -> (path: String, rows: Matrix)? {
        guard let path = try spec(name)?.reference, let test = try HDF5.read(path).dataset("test") else { return nil }
        let n = min(max(rows, 1), test.shape[0]), d = test.shape[1]
        return (path, Matrix(rows: n, cols: d, storage: Array(test.floats[0..<(n * d)])))
    }

    /// Checks the form of a `target=` value without loading anything; the error lists the valid names.
    public static func validate(_ name: String) throws {
        if name.hasPrefix("plugin:") && name.count > 7 || name.hasSuffix(".yaml") { return }
        if name.hasPrefix("python:") {
            guard pythonFunction(name) != nil else {
                throw ConfigError.badValue(key: "target", value: name, expected: "python:FILE.py:FUNC (a Python file and the function in it)")
            }
            return
        }
        if let d = Int(name.dropFirst("manywell-".count)), name.hasPrefix("manywell-"), d > 0, d % 2 == 0 { return }
        if try spec(name) != nil { return }
        let known = try specs().map(\.name)
        if !known.contains(name) { throw UnknownTargetError(name: name, known: known) }
    }

    /// The file and function of `python:FILE.py:FUNC` (split at the last colon), or nil for another form.
    public static func pythonFunction(_ value: String) -> (file: String, function: String)? {
        guard value.hasPrefix("python:") else { return nil }
        let rest = value.dropFirst("python:".count)
        guard let colon = rest.lastIndex(of: ":") else { return nil }
        let file = String(rest[..<colon]), function = String(rest[rest.index(after: colon)...])
        guard !file.isEmpty, !function.isEmpty, function.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
        return (file, function)
    }

    /// The code files behind a `target=` value (see `TargetSpec.codeFiles`): the file of `python:FILE.py:FUNC` or
    /// `plugin:PATH.so`, or those behind a spec; empty for built-in targets and names that do not resolve.
    public static func codeFiles(_ name: String, resolving: [String] = []) -> [String] {
        if let (file, _) = pythonFunction(name) { return [file] }
        if name.hasPrefix("plugin:") { return [String(name.dropFirst("plugin:".count))] }
        return ((try? spec(name)) ?? nil)?.codeFiles(resolving: resolving) ?? []
    }

    /// The target for a `target=` value: a catalog name, `manywell-D`, `plugin:PATH.so`, `python:FILE.py:FUNC`, or a
    /// spec file `PATH.yaml`.
    public static func resolve(_ name: String) throws -> any Target { try resolve(name, resolving: []) }

    /// `resolve` inside the ratio specs named in `resolving` (which must not come round again).
    static func resolve(_ name: String, resolving: [String]) throws -> any Target {
        if name.hasPrefix("plugin:") { return try PluginTarget(path: String(name.dropFirst("plugin:".count))) }
        if let (file, function) = pythonFunction(name) { return try PythonTarget(path: file, function: function) }
        if name.hasSuffix(".yaml") { return try TargetSpec(file: URL(fileURLWithPath: name)).make(resolving: resolving) }
        if let spec = try spec(name) { return try spec.make(resolving: resolving) }
        if name.hasPrefix("manywell-"), let d = Int(name.dropFirst("manywell-".count)), d > 0, d % 2 == 0 {
            return ManyWell(name: name, dimension: d)
        }
        throw UnknownTargetError(name: name, known: try specs().map(\.name))
    }
}

import Foundation
import RunStore
import Yams

/// A grid of training runs: cells of settings, each expanded over every listed value (seeds included), one run
/// file per run under one directory.
///
/// The YAML form has a `name`, `settings` applied to every cell, and optionally `cells`, a list of settings maps
/// that add to or override `settings`. Any value may be a list; a cell expands to the Cartesian product of its
/// lists. On the command line, `key=a,b,c` is a list.
public struct SweepSpec: Sendable {
    /// Name of the sweep (default output directory `Results/runs/<name>/`).
    public var name: String
    /// Settings of every cell; a value with several entries is a grid axis.
    public var settings: [(key: String, values: [String])]
    /// Per-cell settings added to `settings`; empty means one cell.
    public var cells: [[(key: String, values: [String])]]

    /// A spec from `key=a,b,c` assignments.
    public init(name: String, assignments: [String]) throws {
        self.name = name
        settings = try assignments.map { a in
            guard let eq = a.firstIndex(of: "="), eq != a.startIndex else { throw ConfigError.notAssignment(a) }
            return (String(a[..<eq]), a[a.index(after: eq)...].split(separator: ",").map(String.init))
        }
        cells = []
        try validate()
    }

    /// A spec from its YAML form; `extra` assignments (`key=a,b`) are added to `settings` and override it.
    public init(yaml: String, extra: [String] = []) throws {
        guard let tree = try SafeYAML.load(yaml, source: "the sweep spec") as? [String: Any] else {
            throw SweepError("a sweep spec is a YAML mapping with name, settings and (optionally) cells")
        }
        let unknown = Set(tree.keys).subtracting(["name", "settings", "cells"])
        guard unknown.isEmpty else {
            throw SweepError("unknown sweep spec key(s) \(unknown.sorted().joined(separator: ", ")); valid: name, settings, cells")
        }
        func entries(_ any: Any?, _ what: String) throws -> [(key: String, values: [String])] {
            guard let any else { return [] }
            guard let map = any as? [String: Any] else { throw SweepError("\(what) must be a mapping of key: value or key: [values]") }
            return map.keys.sorted().map { k in
                let v = map[k]!
                return (k, (v as? [Any] ?? [v]).map { "\($0)" })
            }
        }
        let command = try SweepSpec(name: tree["name"].map { "\($0)" } ?? "sweep", assignments: extra)
        name = command.name
        let base = try entries(tree["settings"], "settings")
        settings = base.filter { b in !command.settings.contains { $0.key == b.key } } + command.settings
        guard tree["cells"] == nil || tree["cells"] is [Any] else { throw SweepError("cells must be a list of settings mappings") }
        cells = try (tree["cells"] as? [Any] ?? []).enumerated().map { try entries($0.element, "cell \($0.offset + 1)") }
        try validate()
    }

    /// One run of the sweep.
    public struct Run: Sendable, Equatable {
        /// Its `key=value` settings (seed included).
        public var settings: [String]
        /// The run file's name: `<target>-<objective>-<settings hash>-seed<seed>.h5`.
        public var fileName: String
    }

    /// Every run: each cell (or the single cell of `settings`) expanded over its lists, in order.
    public func runs() -> [Run] {
        let groups = cells.isEmpty ? [settings] : cells.map { cell in
            settings.filter { s in !cell.contains { $0.key == s.key } } + cell
        }
        return groups.flatMap { group in
            group.reduce([[String]]([[]])) { partial, entry in
                partial.flatMap { prefix in entry.values.map { prefix + ["\(entry.key)=\($0)"] } }
            }
        }.map { settings in
            let config = (try? RunConfig.parse(settings)) ?? RunConfig()
            return Run(settings: settings, fileName: (RunFile.defaultPath(for: config) as NSString).lastPathComponent)
        }
    }

    /// A sweep name becomes a folder (`Results/runs/<name>/`) and a Slurm job name, so it must be one plain path
    /// component: letters, digits, `.`, `_` and `-`, starting with a letter or digit, at most 100 characters.
    /// - Throws: `SweepError` naming the name and the rule.
    public static func checkName(_ name: String) throws {
        let allowed = name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
        guard allowed, let first = name.unicodeScalars.first, CharacterSet.alphanumerics.contains(first), name.count <= 100 else {
            throw SweepError("bad sweep name \(name.debugDescription): use letters, digits, '.', '_' and '-', starting with a "
                             + "letter or digit (at most 100 characters); it names the folder Results/runs/<name>/")
        }
    }

    /// Every run must parse (unknown keys and bad values are errors) and have its own file name.
    func validate() throws {
        try Self.checkName(name)
        var seen: [String: [String]] = [:]
        for run in runs() {
            do { _ = try RunConfig.parse(run.settings) } catch {
                throw SweepError("sweep \(name): \(error) (in run \(run.settings.joined(separator: " ")))")
            }
            if let other = seen[run.fileName] {
                throw SweepError("sweep \(name): runs \(other.joined(separator: " ")) and \(run.settings.joined(separator: " ")) "
                    + "are the same run; give them different settings")
            }
            seen[run.fileName] = run.settings
        }
    }

    /// What is on disk for a run file: complete, failed (with its error), unfinished (a checkpoint to resume) or missing.
    public enum FileState: Equatable, Sendable {
        case complete, failed(String), unfinished, missing
    }

    /// The state of the run file at `path`; a file that cannot be read counts as unfinished (it is rewritten). A
    /// run whose failure was recorded beside a kept file (`NAME.failed.h5`, see `RunOutput`) is failed.
    public static func state(of path: String) -> FileState {
        let root = FileManager.default.fileExists(atPath: path) ? try? HDF5.read(path) : nil
        switch root?.attribute("status")?.description {
        case "complete": return .complete
        case "failed": return .failed(root?.attribute("error")?.description ?? "unknown error")
        default:
            if let recorded = try? HDF5.read(RunOutput.failedPath(of: path)) {
                return .failed(recorded.attribute("error")?.description ?? "unknown error")
            }
            return !FileManager.default.fileExists(atPath: path) ? .missing : .unfinished
        }
    }
}

/// A malformed sweep, with what to change.
public struct SweepError: Error, CustomStringConvertible {
    public let description: String
    /// An error with its message.
    public init(_ description: String) { self.description = description }
}

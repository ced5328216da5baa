import Foundation
import RunStore
import Yams

/// The final metrics of one run file, as `dsampler report` groups them.
public struct RunRecord: Sendable {
    /// Path of the run file.
    public var path: String
    /// "complete", "running" or "failed".
    public var status: String
    /// The run's settings.
    public var config: RunConfig
    /// `/eval` attributes that are numbers, plus `seconds` (training wall-clock) and `energy_evals`/`grad_evals`.
    public var metrics: [String: Double]
    /// The commit of the binary that trained the run (`/provenance` `git_commit`), "unknown" when not recorded.
    public var commit: String
    /// The `eval_every` curve (`/train/eval`): every logged metric's values in training order (empty without one).
    public var curve: [String: [Double]] = [:]

    /// Reads the status, settings and final metrics of a run file.
    public init(path: String) throws {
        let root = try HDF5.read(path)
        config = try RunFile.config(of: root, path: path)
        self.path = path
        status = root.attribute("status")?.description ?? "unknown"
        commit = root.group("provenance")?.attribute("git_commit")?.description ?? "unknown"
        metrics = [:]
        for a in root.group("eval")?.attributes ?? [] { if let v = a.value.doubleValue { metrics[a.name] = v } }
        // A complete run has its metrics; a file that says complete without them is damaged, and averaging it
        // in would blank its whole group.
        if status == "complete" {
            guard let n = metrics["n_eval"], n >= 1, !metrics.values.contains(where: \.isNaN) else {
                throw RunFileError(message: "\(path) says complete but its /eval is missing, incomplete or NaN; the file is damaged")
            }
        }
        for point in try CheckpointFields.curve(root.group("train")?.group("eval"), path: path) {
            for (name, value) in point.values { curve[name, default: []].append(value) }
        }
        if let cp = root.group("checkpoint") {
            for key in ["seconds", "energy_evals", "grad_evals"] { if let v = cp.attribute(key)?.doubleValue { metrics[key] = v } }
        }
    }

    /// The best value over training of `metric`'s moving average over `window` consecutive `eval_every` points (all
    /// of them when there are fewer), the smallest or the largest: the Beyond-ELBOs benchmark's reporting convention
    /// (Blessing et al. 2024). Nil when the run logged no finite value of it.
    public func best(_ metric: String, smallerIsBetter: Bool, window: Int = 5) -> Double? {
        guard let values = curve[metric], !values.isEmpty, values.allSatisfy(\.isFinite) else { return nil }
        let w = min(window, values.count)
        let averages = (0...(values.count - w)).map { start in values[start..<(start + w)].reduce(0, +) / Double(w) }
        return smallerIsBetter ? averages.min() : averages.max()
    }

    /// The method: the objective and every setting that differs from the defaults, except the target and the
    /// per-run ones (seed, threads, logging), e.g. `tb exploration=0.2 local_search=true`.
    public var method: String {
        let changed = config.changedEntries(ignoring: ["target", "objective", "seed", "threads", "log_every"])
        return ([config.objective] + changed.map { "\($0.0)=\($0.1)" }).joined(separator: " ")
    }
}

/// One column of a report: a metric of `/eval` and which direction is better.
public struct ReportColumn: Sendable {
    /// Attribute name in `/eval` (or `seconds`).
    public var metric: String
    /// Column heading.
    public var heading: String
    /// Whether smaller is better (otherwise larger).
    public var smallerIsBetter: Bool
    /// Column heading in LaTeX (math in math mode).
    public var latexHeading: String

    /// The default columns: Δlog Z (ELBO), Δlog Z^RW (importance-weighted), W₂, ESS, EUBO, training seconds.
    public static let defaults = [
        ReportColumn(metric: "delta_elbo", heading: "Δlog Z", smallerIsBetter: true, latexHeading: "$\\Delta\\log Z$"),
        ReportColumn(metric: "delta_log_z_is", heading: "Δlog Z^RW", smallerIsBetter: true,
                     latexHeading: "$\\Delta\\log Z^{\\mathrm{RW}}$"),
        ReportColumn(metric: "w2", heading: "W2", smallerIsBetter: true, latexHeading: "$W_2$"),
        ReportColumn(metric: "ess", heading: "ESS", smallerIsBetter: false, latexHeading: "ESS"),
        ReportColumn(metric: "eubo", heading: "EUBO", smallerIsBetter: true, latexHeading: "EUBO"),
        ReportColumn(metric: "seconds", heading: "train s", smallerIsBetter: true, latexHeading: "train s"),
    ]

    /// Every column `--columns` offers: the defaults and the Beyond-ELBOs conventions (absolute ELBO and log Z^RW for
    /// targets without a known log Z, Sinkhorn divergence, MMD, entropic mode coverage, PQMass p-value, gradient and value-only evaluations).
    public static let all = defaults + [
        ReportColumn(metric: "elbo", heading: "ELBO", smallerIsBetter: false, latexHeading: "ELBO"),
        ReportColumn(metric: "log_z_is", heading: "log Z^RW", smallerIsBetter: false, latexHeading: "$\\log Z^{\\mathrm{RW}}$"),
        ReportColumn(metric: "sinkhorn", heading: "Sinkhorn", smallerIsBetter: true, latexHeading: "$S_\\varepsilon$"),
        ReportColumn(metric: "mmd", heading: "MMD", smallerIsBetter: true, latexHeading: "MMD"),
        ReportColumn(metric: "emc", heading: "EMC", smallerIsBetter: false, latexHeading: "EMC"),
        ReportColumn(metric: "pqmass_p", heading: "PQMass p", smallerIsBetter: false, latexHeading: "PQMass $p$"),
        ReportColumn(metric: "grad_evals", heading: "∇ evals", smallerIsBetter: true, latexHeading: "$\\nabla$ evals"),
        ReportColumn(metric: "energy_evals", heading: "log R evals", smallerIsBetter: true, latexHeading: "$\\log R$ evals"),
    ]

    /// The columns named in `list` (comma-separated metric names, in that order).
    /// - Throws: `RunFileError` naming an unknown metric and the choices.
    public static func named(_ list: String) throws -> [ReportColumn] {
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty, Set(names).count == names.count else {
            throw RunFileError(message: "--columns needs distinct metric names, comma-separated; choose from " + all.map(\.metric).joined(separator: ", "))
        }
        return try names.map { name in
            guard let c = all.first(where: { $0.metric == name }) else {
                throw RunFileError(message: "unknown report column '\(name)'; choose from " + all.map(\.metric).joined(separator: ", "))
            }
            return c
        }
    }
}

/// Tables over a directory of run files: complete runs grouped by target and method, mean ± spread over seeds.
public struct Report: Sendable {
    /// One (target, method) group.
    public struct Row: Sendable {
        /// Target name.
        public var target: String
        /// Method label (the run's objective and non-default options).
        public var method: String
        /// Seeds of the group's runs.
        public var seeds: [UInt64]
        /// Per column: mean and spread (std or SEM) over the group's runs, nil where a run lacks the metric.
        public var cells: [(mean: Double, spread: Double)?]
        /// Published values per column, if given.
        public var published: [Double?]
    }

    /// The metrics shown, in order.
    public var columns: [ReportColumn]
    /// One row per (target, method).
    public var rows: [Row]
    /// Files that are not complete (running or failed), with their status.
    public var incomplete: [(path: String, status: String)]
    /// `.h5` files that are not readable run files (truncated, foreign), with the reason; they are skipped.
    public var unreadable: [(path: String, reason: String)] = []
    /// Whether the spread is the standard error of the mean (else the sample standard deviation).
    public var standardError: Bool
    /// Whether each run contributes its best 5-point moving average over training (`RunRecord.best`) where it has an
    /// `eval_every` curve of the metric, instead of its final value.
    public var bestOverTraining = false

    /// How many of the reported (complete) runs each commit trained.
    public var commits: [String: Int]
    /// The reported runs' training wall-clock, summed (the time a reproduction took, however many sessions it spanned).
    public var trainingSeconds: Double

    /// Groups the complete runs among `records`. `published[target][method][metric]` adds published values; the method
    /// `*` gives a target's value for every method (a reference log Z).
    public init(records: [RunRecord], columns: [ReportColumn] = ReportColumn.defaults, standardError: Bool = false,
                bestOverTraining: Bool = false, published: [String: [String: [String: Double]]] = [:]) {
        self.columns = columns
        self.standardError = standardError
        self.bestOverTraining = bestOverTraining
        incomplete = records.filter { $0.status != "complete" }.map { ($0.path, $0.status) }
        let complete = records.filter { $0.status == "complete" }
        commits = Dictionary(complete.map { ($0.commit, 1) }, uniquingKeysWith: +)
        trainingSeconds = complete.reduce(0) { $0 + ($1.metrics["seconds"] ?? 0) }
        var groups: [String: [RunRecord]] = [:], order: [String] = []
        for r in complete {
            let key = r.config.target + "\u{1}" + r.method
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(r)
        }
        // Numeric-aware, so that `steps=5` comes before `steps=10` and `steps=20`.
        rows = order.sorted { $0.compare($1, options: .numeric) == .orderedAscending }.map { key in
            let runs = groups[key]!
            let target = runs[0].config.target, method = runs[0].method
            let cells: [(mean: Double, spread: Double)?] = columns.map { c in
                let values = runs.compactMap { run in
                    (bestOverTraining ? run.best(c.metric, smallerIsBetter: c.smallerIsBetter) : nil) ?? run.metrics[c.metric]
                }
                guard values.count == runs.count else { return nil }
                return Report.meanAndSpread(values, standardError: standardError)
            }
            return Row(target: target, method: method, seeds: runs.map(\.config.seed).sorted(), cells: cells,
                       published: columns.map { published[target]?[method]?[$0.metric] ?? published[target]?["*"]?[$0.metric] })
        }
    }

    /// Mean and sample standard deviation (n − 1; 0 for one value), or the standard error of the mean.
    public static func meanAndSpread(_ v: [Double], standardError: Bool) -> (mean: Double, spread: Double) {
        let mean = v.reduce(0, +) / Double(v.count)
        guard v.count > 1 else { return (mean, 0) }
        let sd = (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)).squareRoot()
        return (mean, standardError ? sd / Double(v.count).squareRoot() : sd)
    }

    /// Reads every `*.h5` file under `directory` (recursively), sorted by path. A file that is not a readable run
    /// file (truncated, another program's HDF5, a FIFO) is listed in `unreadable` with the reason, not fatal.
    /// - Throws: `RunFileError` when `directory` does not exist or is not a folder.
    public static func records(in directory: String) throws -> (records: [RunRecord], unreadable: [(path: String, reason: String)]) {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), isFolder.boolValue,
              let walker = FileManager.default.enumerator(atPath: directory) else {
            throw RunFileError(message: "\(directory) is not a folder; give the folder that holds the run files (e.g. Results/runs/NAME)")
        }
        // A run kept while an `--overwrite` replaced it (NAME.replaced.h5) is not a run of this table.
        let paths = walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".h5") && !$0.hasSuffix(".replaced.h5") }.sorted()
        var records: [RunRecord] = [], unreadable: [(path: String, reason: String)] = []
        for relative in paths {
            let path = (directory as NSString).appendingPathComponent(relative)
            do { records.append(try RunRecord(path: path)) } catch { unreadable.append((path, "\(error)")) }
        }
        return (records, unreadable)
    }

    /// Published numbers from YAML: `target: {method: {metric: value}}`, methods named as in the report (`*`: all).
    public static func published(yaml: String) throws -> [String: [String: [String: Double]]] {
        guard let tree = try SafeYAML.load(yaml, source: "the published-numbers file") as? [String: [String: [String: Any]]] else {
            throw RunFileError(message: "published numbers must be a mapping target → method → metric → number")
        }
        // A misspelt metric or a non-number would otherwise vanish from the table without a word.
        let known = Set(ReportColumn.all.map(\.metric))
        return try tree.mapValues { methods in
            try methods.mapValues { metrics in
                try metrics.mapValues { value in
                    guard let number = (value as? Double) ?? (value as? Int).map(Double.init), number.isFinite else {
                        throw RunFileError(message: "published number '\(value)' is not a finite number")
                    }
                    return number
                }.filter { key, _ in
                    guard known.contains(key) else {
                        throw RunFileError(message: "unknown metric '\(key)' in the published numbers; choose from " + known.sorted().joined(separator: ", "))
                    }
                    return true
                }
            }
        }
    }

    /// Whether row `r` holds the best mean of column `c` among the rows of its target.
    func isBest(_ r: Int, _ c: Int) -> Bool {
        guard let mine = rows[r].cells[c]?.mean else { return false }
        let others = rows.indices.filter { rows[$0].target == rows[r].target }.compactMap { rows[$0].cells[c]?.mean }
        return others.count > 1 && mine == (columns[c].smallerIsBetter ? others.min() : others.max())
    }

    /// The caption: what the numbers are, and which code trained them.
    public var caption: String {
        let trainedBy = commits.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value) run\($0.value == 1 ? "" : "s"))" }.joined(separator: ", ")
        let total = trainingSeconds >= 3600 ? String(format: "%.1f h", trainingSeconds / 3600) : String(format: "%.1f min", trainingSeconds / 60)
        let values = bestOverTraining ? "Best over training of each run's 5-point moving average of its eval_every curve (the final value "
            + "where a run has no curve of the metric)" : "Final values after training (evaluation of the last checkpoint)"
        return values + ", mean ± \(standardError ? "SEM" : "std") over seeds; "
            + "best mean per target in bold; published values in brackets. "
            + (commits.isEmpty ? "No complete runs." : "Trained at commit \(trainedBy); \(total) of training in all (the runs' own wall-clock).")
    }

    /// The table in `format`: "markdown", "latex" or "csv".
    public func render(_ format: String) -> String {
        func number(_ x: Double) -> String { String(format: abs(x) >= 100 ? "%.1f" : "%.3f", x) }
        var lines: [String] = []
        switch format {
        case "csv":
            lines.append((["target", "method", "seeds"] + columns.flatMap { [$0.metric + "_mean", $0.metric + "_spread", $0.metric + "_published"] })
                .joined(separator: ","))
            for row in rows {
                var fields = [row.target, "\"\(row.method)\"", row.seeds.map(String.init).joined(separator: " ")]
                for (c, cell) in row.cells.enumerated() {
                    fields += [cell.map { "\($0.mean)" } ?? "", cell.map { "\($0.spread)" } ?? "", row.published[c].map { "\($0)" } ?? ""]
                }
                lines.append(fields.joined(separator: ","))
            }
        default:
            let latex = format == "latex"
            let (sep, end, pm) = latex ? (" & ", " \\\\", " $\\pm$ ") : (" | ", " |", " ± ")
            func cell(_ r: Int, _ c: Int) -> String {
                guard let v = rows[r].cells[c] else { return latex ? "--" : "–" }
                var s = number(v.mean) + (rows[r].seeds.count > 1 ? pm + number(v.spread) : "")
                if isBest(r, c) { s = latex ? "\\textbf{\(s)}" : "**\(s)**" }
                if let p = rows[r].published[c] { s += " [\(number(p))]" }
                return s
            }
            let head = ["target", "method", "seeds"] + columns.map { latex ? $0.latexHeading : $0.heading }
            if latex {
                lines.append("% " + caption)
                lines.append("\\begin{tabular}{ll r" + String(repeating: "r", count: columns.count) + "}")
                lines.append(head.joined(separator: sep) + end + " \\hline")
            } else {
                lines.append(caption)
                lines.append("")
                lines.append("| " + head.joined(separator: sep) + end)
                lines.append("|" + String(repeating: "---|", count: head.count))
            }
            for r in rows.indices {
                let method = latex ? Self.latexEscaped(rows[r].method) : "`\(rows[r].method)`"
                let fields = [latex ? Self.latexEscaped(rows[r].target) : rows[r].target, method, "\(rows[r].seeds.count)"]
                    + columns.indices.map { cell(r, $0) }
                lines.append((latex ? "" : "| ") + fields.joined(separator: sep) + end)
            }
            if latex { lines.append("\\end{tabular}") }
        }
        // In LaTeX these notes are comments, so that paths with _ or % do not break the document.
        let note = format == "latex" ? "% " : ""
        if !incomplete.isEmpty && format != "csv" {
            lines.append("")
            lines.append(note + "Not included (not complete): " + incomplete.map { "\($0.path) (\($0.status))" }.joined(separator: ", "))
        }
        if !unreadable.isEmpty && format != "csv" {
            lines.append("")
            lines.append(note + "Skipped (not readable run files): " + unreadable.map { "\($0.path) (\($0.reason))" }.joined(separator: "; "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `s` as LaTeX text: the ten special characters escaped, newlines as spaces.
    static func latexEscaped(_ s: String) -> String {
        let table: [Character: String] = ["\\": "\\textbackslash{}", "{": "\\{", "}": "\\}", "$": "\\$", "&": "\\&", "#": "\\#",
                                          "%": "\\%", "_": "\\_", "^": "\\^{}", "~": "\\~{}", "\n": " "]
        return s.map { table[$0] ?? String($0) }.joined()
    }
}

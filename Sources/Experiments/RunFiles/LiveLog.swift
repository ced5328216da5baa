import Foundation
import RunStore

/// The run's curve as JSON lines beside its run file (`RUN.jsonl` for `RUN.h5`), one line per logged point, each
/// written and flushed when the point is logged, so that a run can be followed with `tail -f` or plotted while it
/// trains (`dsampler plot RUN.jsonl`). The first line describes the run: {"format": "dsampler-live-log", "run_file",
/// "target", "objective"}. Training points have "kind": "train" and the `/train` columns; `eval_every` points have
/// "kind": "eval" and the metrics (with `log_z_true` when the target knows it). Non-finite numbers are null.
///
/// The file is started afresh (atomically) with every point the run already holds, so a resumed run's log holds
/// its whole curve and a failed earlier attempt's lines (kept in its failure record) do not mix in.
public final class LiveLog {
    /// Where the lines go.
    public let path: String
    private let handle: FileHandle

    /// The live log's path for the run file `runPath`: `.h5` replaced by `.jsonl`, or `.log.jsonl` appended to
    /// another name (so that runs `a` and `a.h5` do not share one log).
    public static func path(for runPath: String) -> String {
        runPath.hasSuffix(".h5") ? String(runPath.dropLast(3)) + ".jsonl" : runPath + ".log.jsonl"
    }

    /// Starts the log of `learner`'s run at `runPath` with the points it already holds.
    /// - Throws: `RunFileError`, `HDF5Error` when the file cannot be written (a link or folder at its name, a full disk).
    public init(runPath: String, learner: any Learner) throws {
        path = Self.path(for: runPath)
        var text = Self.line(["format": .text("dsampler-live-log"), "run_file": .text(runPath),
                              "target": .text(learner.config.target), "objective": .text(learner.config.objective)])
        // In the order the run logged them: by iteration, the training point before the evaluation.
        let points = learner.history.map { ($0, "train") } + learner.monitored.map { ($0, "eval") }
        for (p, kind) in points.sorted(by: { ($0.0.iteration, $0.1 == "eval" ? 1 : 0) < ($1.0.iteration, $1.1 == "eval" ? 1 : 0) }) {
            text += Self.line(p, kind: kind)
        }
        try AtomicFile.write(Data(text.utf8), to: path)
        let fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw RunFileError(message: "cannot append to \(path): \(String(cString: strerror(errno)))") }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// Appends one point (`kind` "train" or "eval") and hands it to the system at once.
    /// - Throws: `RunFileError`, `HDF5Error` when the write fails.
    public func append(_ point: TrainingPoint, kind: String) throws {
        do { try handle.write(contentsOf: Data(Self.line(point, kind: kind).utf8)) } catch {
            throw RunFileError(message: "cannot append to \(path): \(error.localizedDescription)")
        }
    }

    /// A JSON value of a line: text, a count, or a number (null when not finite).
    enum Field: Encodable {
        case text(String), count(Int), number(Double)

        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .text(let s): try c.encode(s)
            case .count(let n): try c.encode(n)
            case .number(let x): if x.isFinite { try c.encode(x) } else { try c.encodeNil() }
            }
        }
    }

    static func line(_ p: TrainingPoint, kind: String) -> String {
        var fields: [String: Field] = ["kind": .text(kind), "iteration": .count(p.iteration), "seconds": .number(p.seconds),
                                       "energy_evals": .count(p.budget.energy), "grad_evals": .count(p.budget.gradient)]
        for (k, v) in p.values { fields[k] = .number(v) }
        return line(fields)
    }

    /// One JSON object on one line (Foundation's encoder, whose numbers read back exactly), keys sorted so the order
    /// does not depend on the dictionary.
    static func line(_ fields: [String: Field]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, integers, finite doubles and nulls always encode.
        let data = (try? encoder.encode(fields)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

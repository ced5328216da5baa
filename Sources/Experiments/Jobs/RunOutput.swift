import Foundation
import RunStore
import Synchronization

/// The run file a job writes, and the rules that keep results: one writer at a time, no silent overwrite, and
/// never a good file replaced by a failed state.
///
/// - A file already at the path is refused unless the job resumes it (`.resume`) or was told to replace it
///   (`.overwrite`), so a finished run of another target is not lost to a reused `--out`.
/// - An exclusive lock (`FileLock`, `.NAME.lock` beside the file) is held for the whole job; a second
///   process is told which process holds it.
/// - The folder is checked for writing before any training, not after it.
/// - A failure is written to the path only when nothing good is there (no file, or a failed one). A complete
///   file or a checkpoint is kept as it was and the failed state goes beside it to `failedPath`
///   (`NAME.failed.h5`), so a diverged `--resume` cannot destroy the run it continued.
/// - A replaced run (`--overwrite`) moves to `NAME.replaced.h5` when the new one first writes, and is deleted when
///   the new one completes: an interrupted or failed replacement leaves it there.
public final class RunOutput: @unchecked Sendable {  // shared with the interruption watchdog: `last` is behind a Mutex, the rest is immutable
    /// How an existing file at the path is treated.
    public enum Mode: Sendable {
        /// Refuse an existing file.
        case new
        /// Continue an existing file (the job reads its checkpoint); start a new one when there is none.
        case resume
        /// Replace an existing file.
        case overwrite
    }

    /// The run file.
    public let path: String
    /// Where a failed state goes when the run file must be kept: `NAME.failed.h5` beside it.
    public var failedPath: String { Self.failedPath(of: path) }

    /// Where a failure beside the run file `path` is recorded: `NAME.failed.h5`.
    public static func failedPath(of path: String) -> String {
        (path.hasSuffix(".h5") ? String(path.dropLast(3)) : path) + ".failed.h5"
    }
    /// Whether a file was at the path when the job started.
    public let existed: Bool
    /// Whether this job replaces a file that was there (`.overwrite`): that run moves to `replacedPath` when this one
    /// first writes, and is deleted only when this one completes, so a replacement that fails loses nothing.
    public let replacing: Bool
    /// Whether this job continues a file that was there (`.resume`). Once a job writes, a failure record of an earlier
    /// attempt beside the file (`failedPath` and its live log) is out of date and goes; when a resumed job completes,
    /// so does a run it finishes replacing (`replacedPath`: an `--overwrite` that failed or was interrupted after its
    /// first checkpoint, then resumed).
    public let resuming: Bool
    /// Where the run being replaced is kept until this one completes: `NAME.replaced.h5` beside it.
    public var replacedPath: String { Self.replacedPath(of: path) }

    /// Where a run replaced by `--overwrite` is kept: `NAME.replaced.h5`.
    public static func replacedPath(of path: String) -> String {
        (path.hasSuffix(".h5") ? String(path.dropLast(3)) : path) + ".replaced.h5"
    }
    private let lock: FileLock

    /// Claims `path` for one job.
    /// - Throws: `RunFileError` when a file is there and `mode` is `.new`, when the folder cannot be written, or
    ///   when the destination is not a regular file; `FileLock.Held` naming the process that writes it.
    public init(path: String, mode: Mode) throws {
        try Self.checkDestination(path)
        self.path = path
        lock = try FileLock(for: path, purpose: "writing this run file")
        existed = FileManager.default.fileExists(atPath: path)
        replacing = existed && mode == .overwrite
        resuming = existed && mode == .resume
        if existed && mode == .new {
            throw RunFileError(message: "\(path) already exists (\(Self.summary(of: path))); pass --resume to continue it, "
                               + "--overwrite to replace it, or choose another --out")
        }
        Self.current.withLock { $0 = self }
    }

    /// Refuses a path that names no file, a folder that cannot be written or a destination that is not a regular file.
    /// - Throws: `RunFileError` naming the problem.
    static func checkDestination(_ path: String) throws {
        guard !path.isEmpty, !path.hasSuffix("/") else {
            throw RunFileError(message: "the run file path '\(path)' names no file; give a file name such as runs/run.h5")
        }
        do { try AtomicFile.checkWritable(path) } catch { throw RunFileError(message: "\(error)") }
    }

    /// The last node written (for the interruption watchdog), and the output of the job now running.
    private let last = Mutex<Node?>(nil)

    /// Whether this run has written the file yet (a checkpoint or the result); until then, a file that was there is
    /// still the previous run's.
    public var hasWritten: Bool { last.withLock { $0 != nil } }
    private static let current = Mutex<RunOutput?>(nil)

    /// Writes a checkpoint or the finished file (atomically).
    public func write(_ node: Node) throws {
        try last.withLock { last in
            if replacing && last == nil && FileManager.default.fileExists(atPath: path) {
                try? FileManager.default.removeItem(atPath: replacedPath)
                do { try FileManager.default.moveItem(atPath: path, toPath: replacedPath) } catch {
                    throw RunFileError(message: "cannot move the run being replaced to \(replacedPath): \(error.localizedDescription)")
                }
            }
            try HDF5.write(node, to: path)
            if last == nil {
                try? FileManager.default.removeItem(atPath: failedPath)
                try? FileManager.default.removeItem(atPath: LiveLog.path(for: failedPath))
            }
            last = node
            if (replacing || resuming) && node.attribute("status")?.description == "complete" {
                try? FileManager.default.removeItem(atPath: replacedPath)
                try? FileManager.default.removeItem(atPath: LiveLog.path(for: replacedPath))
            }
        }
    }

    /// Records a stop on request: the checkpoint `node` (status `interrupted`) replaces the file unless that is a
    /// complete run, which is kept (the stopped state then goes to `failedPath`).
    public func writeInterrupted(_ node: Node) throws {
        if destination(keeping: Self.keptByInterruption) == path { try write(node) } else { try HDF5.write(node, to: failedPath) }
    }

    /// Whether a stopped state (`writeInterrupted`: `interrupted`; `writeFailure`: `failed`) goes beside the run file,
    /// which is then kept with its own live log; otherwise it goes to the path, with this run's log.
    public func keepsFile(stoppedAs status: String) -> Bool {
        destination(keeping: status == "interrupted" ? Self.keptByInterruption : Self.keptByFailure) != path
    }
    private static let keptByInterruption: Set<String> = ["complete"], keptByFailure: Set<String> = ["complete", "running", "interrupted"]

    /// Where a stopped state goes: beside the run file when a file with one of the `keeping` statuses is there
    /// (or one that cannot be read, which is not ours to replace), at the path otherwise.
    private func destination(keeping: Set<String>) -> String {
        guard FileManager.default.fileExists(atPath: path) else { return path }
        return keeping.contains(Self.status(of: path) ?? "complete") ? failedPath : path
    }

    /// The watchdog's last resort when the loop cannot stop (stuck in a target's code): the last checkpoint
    /// written, with `status = interrupted` and where it stopped. Nothing is written when there is none yet.
    static func writeLastCheckpointAsInterrupted(reason: String) {
        guard let output = current.withLock({ $0 }), var node = output.last.withLock({ $0 }) else {
            writeToStandardError("dsampler: stopped by \(reason) before the first checkpoint\n")
            return
        }
        let iteration = node.group("checkpoint")?.attribute("iteration")?.description ?? "?"
        node.set("status", .string("interrupted"))
        node.set("error", .string("interrupted by \(reason) while the run was inside the target's code or the evaluation, which "
                                  + "did not return within \(Int(Interruption.grace)) s; last checkpoint: iteration \(iteration)"))
        try? output.writeInterrupted(node)
        writeToStandardError("dsampler: stopped by \(reason); \(output.path) holds the checkpoint of iteration \(iteration)\n")
    }

    /// Records a failed state: at the path when no good file is there, otherwise at `failedPath`.
    /// - Returns: the error to report: `error` itself when the failed state went to the path, or a
    ///   `RunFileError` that says the run file is kept and where the failed state is (or why it could not be
    ///   written), so the message never points at the kept file as if it held the failure.
    public func writeFailure(_ node: Node, error: any Error) -> any Error {
        let destination = destination(keeping: Self.keptByFailure)
        let keep = destination != path
        do {
            try HDF5.write(node, to: destination)
        } catch let writing {
            return RunFileError(message: "\(error)\n\(keep ? "\(path) is kept as it was; " : "")the failed state could not be "
                                + "written to \(destination): \(writing)")
        }
        let replaced = replacing && hasWritten ? "; the run it was replacing is kept at \(replacedPath)" : ""
        let kept = hasWritten ? "\(path) holds this run's last checkpoint" : "\(path) is kept as it was"
        return keep ? RunFileError(message: "\(error)\n\(kept); the failed state is in \(destination)\(replaced)") : error
    }

    /// Releases the lock (also on deinit).
    public func release() {
        Self.current.withLock { if $0 === self { $0 = nil } }
        lock.release()
    }

    /// The root `status` attribute of the run file at `path`, or nil when it is not readable.
    public static func status(of path: String) -> String? {
        (try? HDF5.read(path))?.attribute("status")?.description
    }

    /// "status complete, target gmm25, objective tb" for a message.
    static func summary(of path: String) -> String {
        guard let root = try? HDF5.read(path) else { return "not a readable run file" }
        let config = root.group("config")
        return ["status", "target", "objective"].compactMap { key -> String? in
            let value = key == "status" ? root.attribute(key) : config?.attribute(key)
            return value.map { "\(key) \($0)" }
        }.joined(separator: ", ")
    }
}

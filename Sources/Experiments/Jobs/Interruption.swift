import Foundation
import RunStore
import Synchronization

/// Stopping a run on request without losing work: SIGINT, SIGTERM and a closed standard output.
///
/// The signal only sets a flag (`requested`); the training loop checks it after each iteration, writes a
/// checkpoint with `status = interrupted` and the iteration, and exits. If the loop does not get there within
/// `grace` seconds — the process is stuck inside a target's code, e.g. a plug-in that hangs — the watchdog writes
/// the last checkpoint of the current `RunOutput` with `status = interrupted` and an error saying where it
/// stopped, and exits with 128 + the signal number.
public enum Interruption {
    /// Why the run was asked to stop, e.g. "SIGTERM", and the exit status that stop ends with; nil while it runs on.
    public static var requested: (reason: String, exitStatus: Int32)? { state.withLock { $0.request } }
    /// Seconds the loop gets to checkpoint before the watchdog writes the last checkpoint itself (10, or
    /// `DSAMPLER_GRACE_SECONDS` from 0 to 3600; other values are ignored).
    public static let grace = Double(ProcessInfo.processInfo.environment["DSAMPLER_GRACE_SECONDS"] ?? "")
        .flatMap { $0 > 0 && $0.isFinite ? min($0, 3600) : nil } ?? 10

    private struct State {
        var request: (reason: String, exitStatus: Int32)?
        var sources: [DispatchSourceSignal] = []
        var installed = false
    }
    private static let state = Mutex(State())

    /// Installs the handlers (once per process) and ignores SIGPIPE, so a closed pipe is an error on write
    /// (`flushOrStop`), not a silent death.
    public static func install() {
        state.withLock { s in
            guard !s.installed else { return }
            s.installed = true
            signal(SIGPIPE, SIG_IGN)
            for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
                signal(number, SIG_IGN)  // delivered to the dispatch source instead of killing the process
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { request(name, exitStatus: 128 + number) }
                source.resume()
                s.sources.append(source)
            }
        }
    }

    /// Asks the run to stop for `reason`; starts the watchdog.
    public static func request(_ reason: String, exitStatus: Int32 = 1) {
        let first = state.withLock { s -> Bool in
            guard s.request == nil else { return false }
            s.request = (reason, exitStatus)
            return true
        }
        guard first else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + grace) {
            RunOutput.writeLastCheckpointAsInterrupted(reason: reason)
            exit(exitStatus)
        }
    }

    /// Flushes the output streams and requests a stop when they can no longer be written (`train … | head` after
    /// `head` exits: with SIGPIPE ignored the write fails with EPIPE).
    public static func flushOrStop() {
        if fflush(nil) != 0 { request("a closed standard output") }
    }

    /// Throws `Interrupted` when a stop was requested; the loops call it after each iteration.
    public static func check(iteration: Int, unit: String = "iteration") throws {
        if let (reason, exitStatus) = requested {
            throw Interrupted(reason: reason, iteration: iteration, exitStatus: exitStatus, unit: unit)
        }
    }
}

/// A run stopped on request at an iteration, with its checkpoint kept.
public struct Interrupted: Error, CustomStringConvertible {
    /// What asked it to stop.
    public let reason: String
    /// The last finished iteration (epoch for iDEM).
    public let iteration: Int
    /// The exit status the stop ends with: 128 + the signal number, or 1 (closed output) or 3 (sweep gone).
    public let exitStatus: Int32
    /// What the iterations are called ("iteration", "epoch", "sweep").
    public var unit = "iteration"
    /// Where the run this one replaces (`--overwrite`) is kept until it completes, once it has written its file.
    public var replacedRun: String?
    /// Where the stopped state went when the file at the path was a complete run this one had not yet replaced
    /// (stopped before its first checkpoint): that run is kept as it was.
    public var stateBeside: String?
    /// Whether this run continued the complete run at the path (`--resume` with more iterations) rather than
    /// replacing it (`--overwrite`): the advice after a stop before the first checkpoint is then to resume again.
    public var continuedCompleteRun = false

    public var description: String {
        if let stateBeside {
            let what = continuedCompleteRun ? "it continued" : "it was to replace"
            let again = continuedCompleteRun ? "continue it again with --resume (from the complete run; this attempt's iterations are not kept)"
                : "start again with --overwrite"
            return "interrupted by \(reason) after \(unit) \(iteration), before this run's first checkpoint: the complete run "
                + "\(what) is kept as it was, and the stopped state is in \(stateBeside); \(again)"
        }
        return "interrupted by \(reason) after \(unit) \(iteration); the checkpoint is kept: continue with --resume"
            + (replacedRun.map { " (the run it replaces is kept at \($0) until it completes)" } ?? "")
    }
}

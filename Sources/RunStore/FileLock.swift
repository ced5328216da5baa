import Foundation

/// An exclusive, advisory lock on a file or folder, held by this process until `release()` or exit (the kernel
/// drops it when the process dies, so a killed holder never leaves a stale lock).
///
/// The lock lives in a hidden file beside the locked path (`.NAME.lock`; for a folder `FOLDER/.lock`), whose
/// content names the holder, so a second writer is told who holds it.
public final class FileLock {
    /// The lock file.
    public let path: String
    private var descriptor: Int32

    /// A lock that another process holds, with its description of itself.
    public struct Held: Error, CustomStringConvertible {
        /// What was locked and by whom.
        public let message: String
        public var description: String { message }
    }

    /// Takes the lock for `target` (a file path, or a folder with `folder: true`) without waiting.
    /// - Throws: `Held` naming the holder (process, host, start time, command) when another process has it, or
    ///   `HDF5Error`-style errors naming the path when the lock file cannot be created.
    public init(for target: String, folder: Bool = false, purpose: String) throws {
        let url = URL(fileURLWithPath: target)
        let lockPath = folder ? url.appendingPathComponent(".lock").path
            : url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).lock").path
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: lockPath).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        path = lockPath
        while true {
            let fd = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw Held(message: "cannot create the lock file \(lockPath): \(String(cString: strerror(errno)))")
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let holder = (try? String(contentsOfFile: lockPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
                close(fd)
                throw Held(message: "\(target) is in use by another process (\(holder.map { $0.isEmpty ? "unknown" : $0 } ?? "unknown")); "
                           + "wait for it to finish, stop it, or choose another \(folder ? "folder" : "file")")
            }
            // The holder before us may have removed the file between our open and our lock: then retry on the new one.
            var opened = stat(), current = stat()
            if fstat(fd, &opened) == 0, stat(lockPath, &current) == 0, opened.st_ino == current.st_ino, opened.st_dev == current.st_dev {
                descriptor = fd
                break
            }
            close(fd)
        }
        let command = CommandLine.arguments.joined(separator: " ")
        let note = "pid \(getpid()) on \(ProcessInfo.processInfo.hostName) since \(ISO8601DateFormatter().string(from: Date())), \(purpose): \(command)\n"
        ftruncate(descriptor, 0)
        _ = note.withCString { pwrite(descriptor, $0, strlen($0), 0) }
    }

    /// Removes the lock file and releases the lock (also done on deinit).
    public func release() {
        guard descriptor >= 0 else { return }
        unlink(path)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}

import Foundation

/// Writing a file the way run files are written: never through a link or into a device, FIFO or folder that sits
/// at the destination, and never half: the bytes go to a new file beside the destination (created exclusively,
/// without following links), are synced, and are renamed over it.
public enum AtomicFile {
    /// Refuses a destination that exists and is not a regular file.
    public static func checkDestination(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        let kind = info.st_mode & S_IFMT
        guard kind != S_IFREG else { return }
        let what = kind == S_IFLNK ? "a symbolic link" : kind == S_IFDIR ? "a directory" : kind == S_IFIFO ? "a FIFO"
            : kind == S_IFCHR || kind == S_IFBLK ? "a device" : "not a regular file"
        throw HDF5Error(message: "\(path) is \(what); give the path of a regular file (or a new one) to write")
    }

    /// Checks before any work that `path` can be written: a regular file or none, in a folder that exists (or
    /// can be made) and takes a new file.
    /// - Throws: `HDF5Error` naming the path and the problem.
    public static func checkWritable(_ path: String) throws {
        try checkDestination(path)
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw HDF5Error(message: "cannot create the folder \(folder.path) for \(path): \(error.localizedDescription)")
        }
        let probe = folder.appendingPathComponent(".\(URL(fileURLWithPath: path).lastPathComponent).probe.\(getpid())").path
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw HDF5Error(message: "cannot write into \(folder.path) (for \(path)): \(String(cString: strerror(errno)))")
        }
        close(fd)
        unlink(probe)
    }

    /// A new temporary path beside `path` (hidden, with this process's id and a random part), after checking that
    /// `path` may be replaced and making its folder. Create it exclusively (`O_EXCL`, `H5F_ACC_EXCL`).
    public static func temporaryPath(beside path: String) throws -> String {
        try checkDestination(path)
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        return url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp.\(getpid()).\(UInt32.random(in: 0...UInt32.max))").path
    }

    /// Syncs the finished, closed `temporary` to disk and renames it over `path`; removes it on failure.
    /// - Throws: `HDF5Error` with the system's reason; `path` is then unchanged.
    public static func publish(_ temporary: String, as path: String) throws {
        let fd = open(temporary, O_RDONLY | O_CLOEXEC)
        let synced = fd >= 0 && fsync(fd) == 0
        if fd >= 0 { close(fd) }
        guard synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw HDF5Error(message: "cannot write \(path): \(reason)")
        }
    }

    /// Writes `data` to `path` atomically (see the type).
    /// - Throws: `HDF5Error` naming the path and the cause; `path` is then unchanged.
    public static func write(_ data: Data, to path: String) throws {
        let temporary = try temporaryPath(beside: path)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HDF5Error(message: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == data.count else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw HDF5Error(message: "cannot write \(path): \(reason)")
        }
        try publish(temporary, as: path)
    }
}

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

    /// Writes `data` to `path` atomically (see the type).
    /// - Throws: `HDF5Error` naming the path and the cause; `path` is then unchanged.
    public static func write(_ data: Data, to path: String) throws {
        try checkDestination(path)
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp.\(getpid()).\(UInt32.random(in: 0...UInt32.max))").path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HDF5Error(message: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == data.count, synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw HDF5Error(message: "cannot write \(path): \(reason)")
        }
    }
}

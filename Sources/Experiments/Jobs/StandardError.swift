import Foundation

/// Writes `text` to standard error, ignoring a failed write: with SIGPIPE ignored, a closed stderr pipe
/// (`train … 2>&1 | head -1`) makes `FileHandle.write(_:)` trap, while the run's state is already on disk.
public func writeToStandardError(_ text: String) {
    try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
}

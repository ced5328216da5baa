import Foundation

/// Compiles C plug-ins for tests with the system compiler.
public enum PluginBuilder {
    /// A failed compilation, with the compiler's exit status.
    public struct Failure: Error, CustomStringConvertible {
        public let source: String, status: Int32
        public var description: String { "cc exited with \(status) on \(source)" }
    }

    /// Builds a shared library from `source` (a `.c` path, or C text written to `directory/name.c`) into
    /// `directory/name.so`, with `-D` `defines` (e.g. "OFFSET=1e8"); returns the library's path.
    public static func build(_ source: String, named name: String, in directory: String, defines: [String] = []) throws -> String {
        var sourcePath = source
        if !source.hasSuffix(".c") {
            sourcePath = directory + "/\(name).c"
            try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        }
        let library = directory + "/\(name).so"
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-O2", "-shared", "-fPIC"] + defines.map { "-D" + $0 } + ["-o", library, sourcePath, "-lm", "-lpthread"]
        try cc.run()
        cc.waitUntilExit()
        guard cc.terminationStatus == 0 else { throw Failure(source: sourcePath, status: cc.terminationStatus) }
        return library
    }

    /// The repository's `Targets/plugins/gaussian_example.c` (found from this file's location).
    public static var shippedExample: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Targets/plugins/gaussian_example.c").path
    }
}

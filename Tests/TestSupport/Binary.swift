import Foundation

/// The `dsampler` executable built beside the running test bundle, run as a user would run it.
public enum Binary {
    /// Path of the built `dsampler` (in the build folder that holds the `.xctest` bundle).
    public static var path: String {
        var url = URL(fileURLWithPath: CommandLine.arguments[0])
        while url.pathComponents.count > 1 && !url.lastPathComponent.hasSuffix(".xctest") { url.deleteLastPathComponent() }
        return url.deletingLastPathComponent().appendingPathComponent("dsampler").path
    }

    /// Runs `dsampler arguments` in the current directory with a time limit (terminated after `seconds`); returns
    /// the exit status, whether it died by a signal, and stdout and stderr interleaved.
    public static func run(_ arguments: [String], seconds: Double = 60,
                           environment: [String: String]? = nil) throws -> (status: Int32, signalled: Bool, output: String) {
        let p = Process(), pipe = Pipe()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        if let environment { p.environment = environment }
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let timer = DispatchWorkItem { p.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: timer)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        timer.cancel()
        return (p.terminationStatus, p.terminationReason == .uncaughtSignal, String(decoding: data, as: UTF8.self))
    }
}

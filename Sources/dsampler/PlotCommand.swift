import ArgumentParser
import Foundation
import Experiments
import RunStore

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Plot a run file with Scripts/plot.py (matplotlib + h5py): samples over the log-density, particle "
            + "histograms, training curves and eval_every estimates with the true log Z; or the curves of a live log "
            + "(RUN.jsonl) while its run trains.")

    @Argument(help: "The run file (.h5), or a run's live log (.jsonl).") var file: String
    @Option(help: "Output folder (default: the run file's folder).") var out: String?
    @Option(help: "png or pdf.") var format = "png"

    func run() throws {
        let live = file.hasSuffix(".jsonl")
        guard FileManager.default.fileExists(atPath: file) else { throw ValidationError("\(file): no such file") }
        let config = live ? nil : try RunFile.config(of: try HDF5.read(file), path: file)
        let parent = (file as NSString).deletingLastPathComponent
        let folder = out ?? (parent.isEmpty ? "." : parent)
        guard ["png", "pdf"].contains(format) else { throw ValidationError("--format must be png or pdf (got \(format))") }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), !isFolder.boolValue {
            throw ValidationError("--out \(folder) is not a folder; give the folder the plot goes into")
        }
        guard let repository = TargetCatalog.directory?.deletingLastPathComponent() else {
            throw ValidationError("cannot find the repository (Targets/ and Scripts/); run from it")
        }
        var arguments = [repository.appendingPathComponent("Scripts/plot.py").path, file, "--format", format]
        // The density grid goes to a fresh private folder (mkdtemp: created exclusively, mode 0700), never to a
        // predictable name in /tmp that another user could have planted as a link.
        var template = Array((NSTemporaryDirectory() + "dsampler-plot-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw ValidationError("cannot create a temporary folder in \(NSTemporaryDirectory()): \(String(cString: strerror(errno)))")
        }
        let scratch = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let gridPath = scratch + "/grid.h5"
        // plot.py writes into the private folder; the plot is then placed into the user's folder the way run
        // files are written (never through a link planted at its name).
        arguments += ["--out", scratch + "/plot"]
        // For RTB, `target` is the evaluation target: the posterior.
        if let config, let view = PlotData.view(of: try TargetCatalog.resolve(config.target)) {
            let range = try TargetCatalog.spec(config.target)?.plotRange ?? [-10, 10]
            try HDF5.write(try PlotData.grid(view, lo: range[0], hi: range[1]), to: gridPath)
            arguments += ["--grid", gridPath]
        }
        let python = try Self.python()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 { throw ExitCode(process.terminationStatus) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)  // only once there is a plot
        for name in try FileManager.default.contentsOfDirectory(atPath: scratch + "/plot") {
            let destination = (folder as NSString).appendingPathComponent(name)
            try AtomicFile.write(try Data(contentsOf: URL(fileURLWithPath: scratch + "/plot/" + name)), to: destination)
            print("wrote \(destination)")
        }
    }

    /// A Python with h5py and matplotlib: `python3` on the PATH, else Debian's (which Scripts/setup provides).
    static func python() throws -> String {
        for candidate in ["/usr/bin/env", "/usr/bin/python3"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: candidate)
            p.arguments = (candidate == "/usr/bin/env" ? ["python3"] : []) + ["-c", "import h5py, matplotlib"]
            p.standardError = FileHandle.nullDevice
            p.standardOutput = FileHandle.nullDevice
            guard (try? p.run()) != nil else { continue }
            p.waitUntilExit()
            if p.terminationStatus == 0 { return candidate == "/usr/bin/env" ? Self.which("python3") ?? candidate : candidate }
        }
        throw ValidationError("no Python with h5py and matplotlib; run Scripts/setup (installs python3-h5py, python3-matplotlib)")
    }

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

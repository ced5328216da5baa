import Foundation

/// A Slurm job array with one task per run: task i trains run i with one thread into the sweep's directory
/// (resuming a checkpoint a preempted task left), so `dsampler report DIR` reads the results as from a local sweep.
public struct SlurmScript: Sendable {
    /// Job name (a checked sweep name).
    public let name: String
    /// The sweep's folder.
    public let directory: String
    /// The runs still to do, one array task each.
    public let runs: [SweepSpec.Run]
    /// The dsampler binary the tasks run.
    public let executable: String

    /// A script for `runs` of sweep `name` writing into `directory`.
    public init(name: String, directory: String, runs: [SweepSpec.Run], executable: String) {
        self.name = name
        self.directory = directory
        self.runs = runs
        self.executable = executable
    }

    /// The script. Every word that comes from the user (settings, paths) is single-quoted on its own, and each
    /// array task is one `case` branch, so nothing is word-split, globbed or executed from a value.
    /// - Throws: `SweepError` when a path cannot stand in a `#SBATCH` line (a newline or a control character).
    public func text() throws -> String {
        let folder = URL(fileURLWithPath: directory).standardizedFileURL.path
        let here = FileManager.default.currentDirectoryPath
        for path in [folder, here, executable] where path.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw SweepError("the path \(path.debugDescription) contains a control character; use another folder for the sweep")
        }
        // `#SBATCH` lines are parsed by sbatch, not the shell: spaces end the value, `#` starts a comment, quotes
        // must pair. The log folder there is therefore limited to plain path characters.
        let plain = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/+=,@")
        guard folder.unicodeScalars.allSatisfy(plain.contains) else {
            throw SweepError("the sweep folder \(folder.debugDescription) has characters that an #SBATCH line cannot hold (spaces, "
                             + "#, quotes); use a folder path of letters, digits and . _ - / for a Slurm sweep")
        }
        var lines = ["#!/bin/bash",
                     "#SBATCH --job-name=\(name)",
                     "#SBATCH --array=0-\(max(runs.count - 1, 0))",
                     "#SBATCH --cpus-per-task=1",
                     "#SBATCH --output=\(folder)/logs/slurm-%A_%a.log",
                     "#SBATCH --open-mode=append",  // a requeued task (same log name) keeps its earlier attempts' lines
                     "# Written by dsampler sweep --slurm: one array task per run still to do.",
                     "set -euo pipefail",
                     "cd \(Self.quoted(here))",
                     "case \"$SLURM_ARRAY_TASK_ID\" in"]
        for (i, run) in runs.enumerated() {
            let words = [executable, "train"] + run.settings + ["threads=1", "--out", folder + "/" + run.fileName, "--resume"]
            lines.append("  \(i)) exec \(words.map(Self.quoted).joined(separator: " ")) ;;")
        }
        lines += ["  *) echo \"no run for array task $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;", "esac"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// `s` as one single-quoted shell word.
    static func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

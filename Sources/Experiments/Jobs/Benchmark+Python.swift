import Foundation
import Numerics
import Densities
import PythonTargets

extension Benchmark {
    /// The Python-overhead cases: log R and ∇log R of N(0, I) at 300 points in d = 2 and d = 32, as a Swift target,
    /// as a C plug-in (built with `cc`) and as a NumPy function, each called on the same points.
    public static let pythonCases = ["python-call-d2": 2, "python-call-d32": 32]

    /// Microseconds per 300-point call of each form (the median over `repeats` blocks of 200 calls, after a warm-up),
    /// and the Python form's extra time over the Swift one.
    /// - Throws: what loading the Python function throws (no NumPy, no interpreter).
    public static func runPythonCall(_ name: String, repeats: Int) throws -> String {
        let d = pythonCases[name]!
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dsampler-bench-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let module = folder.appendingPathComponent("gaussian.py").path
        try "import numpy as np\nDIMENSION = \(d)\ndef f(x):\n    return -0.5 * np.einsum('ij,ij->i', x, x), -x\n"
            .write(toFile: module, atomically: true, encoding: .utf8)
        let source = folder.appendingPathComponent("gaussian.c").path, library = folder.appendingPathComponent("gaussian.so").path
        try """
        #include <stdint.h>
        int32_t dsampler_dim(void) { return \(d); }
        int32_t dsampler_log_density(int64_t n, const double *x, double *log_p, double *grad) {
            for (int64_t r = 0; r < n; r++) {
                double s = 0.0;
                for (int k = 0; k < \(d); k++) { s += x[r * \(d) + k] * x[r * \(d) + k]; if (grad) grad[r * \(d) + k] = -x[r * \(d) + k]; }
                log_p[r] = -0.5 * s;
            }
            return 0;
        }
        """.write(toFile: source, atomically: true, encoding: .utf8)
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-O2", "-shared", "-fPIC", "-o", library, source]
        try cc.run()
        cc.waitUntilExit()
        var forms: [(String, any Target)] = [("swift_us", StandardGaussian(dimension: d))]
        if cc.terminationStatus == 0 { forms.append(("plugin_us", try PluginTarget(path: library))) }
        forms.append(("python_us", try PythonTarget(path: module, function: "f")))
        var rng = Numerics.Xoshiro256(seed: 0)
        let x = rng.gaussianMatrix(rows: 300, cols: d)
        var figures: [(String, Double)] = []
        for (label, target) in forms {
            for _ in 0..<20 { _ = try target.logDensityAndGradient(x) }
            var blocks: [Double] = []
            for _ in 0..<max(repeats, 3) {
                let start = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<200 { _ = try target.logDensityAndGradient(x) }
                blocks.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3 / 200)
            }
            figures.append((label, blocks.sorted()[blocks.count / 2]))
        }
        let swift = figures[0].1, python = figures.last!.1
        return "bench \(name) " + figures.map { String(format: "%@=%.1f", $0.0, $0.1) }.joined(separator: " ")
            + String(format: " python_overhead_us=%.1f", python - swift) + (cc.terminationStatus == 0 ? "" : " (no cc: plug-in not built)")
    }

    /// N(0, I) unnormalised: log R = −½‖x‖², ∇log R = −x.
    struct StandardGaussian: Target {
        let name = "standard-gaussian"
        let dimension: Int
        init(dimension: Int) { self.dimension = dimension }
        func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                      gradient: UnsafeMutablePointer<Float>?) throws {
            for r in 0..<count {
                var s = 0.0
                for k in 0..<dimension { let v = Double(x[r * dimension + k]); s += v * v; gradient?[r * dimension + k] = -x[r * dimension + k] }
                logDensity[r] = -0.5 * s
            }
        }
    }
}

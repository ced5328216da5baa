import XCTest
import Foundation
@testable import Experiments
import TestSupport
import Numerics

/// `target=python:FILE.py:FUNC` through the `dsampler` binary: each way a Python energy can be wrong ends with an exit
/// status below 128 and a message naming the problem; the NumPy gmm25 equals the built-in one; threads and a large
/// constant in log R change nothing.
final class PythonTargetTests: ScratchFolderTestCase {
    /// Writes `source` (a module with DIMENSION = 2 unless it sets its own) to `name` in the test's folder.
    func module(_ name: String, _ source: String) throws -> String {
        let path = directory + "/" + name
        try ((source.contains("DIMENSION") ? "" : "DIMENSION = 2\n") + "import numpy as np\n" + source)
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func train(_ target: String, _ settings: [String] = []) throws -> (status: Int32, signalled: Bool, output: String) {
        try Binary.run(["train", "target=" + target, "iterations=3", "batch_size=8", "steps=4", "eval_paths=16", "threads=1",
                        "--out", directory + "/run-\(UUID().uuidString).h5"] + settings, seconds: 120)
    }

    func assertFails(_ target: String, _ settings: [String] = [], _ messages: [String], line: UInt = #line) throws {
        let (status, signalled, output) = try train(target, settings)
        XCTAssertFalse(signalled, "died by signal \(status): \(output)", line: line)
        XCTAssertTrue(status > 0 && status < 128, "exited \(status): \(output)", line: line)
        for message in messages where message.hasPrefix("!") {  // "!text": text must not appear
            XCTAssertFalse(output.contains(message.dropFirst()), "unexpected '\(message.dropFirst())' in: \(output)", line: line)
        }
        for message in messages where !message.hasPrefix("!") {
            XCTAssertTrue(output.contains(message), "expected '\(message)' in: \(output)", line: line)
        }
    }

    func testErrorsNameTheProblem() throws {
        let good = "def f(x):\n    return -0.5 * np.sum(x * x, axis=1), -x\n"
        try assertFails("python:\(directory!)/missing.py:f", [], ["missing.py:f", "no such file"])
        // (file, source, function, messages): each module fails with its own message.
        let cases: [(String, String, String, [String])] = [
            ("nofunction.py", good, "g", ["defines no function 'g'; its functions: f"]),
            ("importing.py", "import not_a_module_anywhere\n" + good, "f",
             ["ModuleNotFoundError: No module named 'not_a_module_anywhere'", "importing.py\", line 3", "!<frozen"]),
            ("syntax.py", "def f(x)\n    return x\n", "f", ["SyntaxError", "\(directory!)/syntax.py\", line 3", "!<frozen"]),
            ("notfunction.py", "f = 3\n", "f", ["defines an int, not a function, 'f'"]),
            ("surrogate.py", "def f(x):\n    raise ValueError('bad \\udc80 byte')\n", "f", ["ValueError: bad \\udc80 byte"]),
            // Raises only on batches (the one-point check at load time passes): the run stops with the frames.
            ("raising.py", "def f(x):\n    if len(x) > 1:\n        raise ValueError('bad batch')\n    return -0.5 * np.sum(x * x, axis=1)\n", "f",
             ["ValueError: bad batch", "raising.py\", line 5, in f"]),
            ("shape.py", "def f(x):\n    return -0.5 * np.sum(x * x, axis=1, keepdims=True)\n", "f",
             ["returned log_r of shape (1, 1) for 1 point; expected (1,)"]),
            ("dtype.py", "def f(x):\n    return np.zeros(len(x), dtype=np.float32)\n", "f", ["returned log_r with dtype float32; return float64"]),
            // A huge message is cut (it would otherwise fill the terminal and the run file), with the type kept.
            ("loud.py", "def f(x):\n    if len(x) > 1:\n        raise RuntimeError('x' * 100000)\n    return -0.5 * np.sum(x * x, axis=1)\n", "f",
             ["RuntimeError: xxxx", "... (98014 more characters)"]),
            ("list.py", "def f(x):\n    return [0.0] * len(x)\n", "f", ["returned log_r as list; return a NumPy float64 array of shape (1,)"]),
            ("gradshape.py", "def f(x):\n    return np.zeros(len(x)), np.zeros(len(x))\n", "f",
             ["returned the gradient of shape (1,) for 1 point; expected (1, 2)"]),
            ("nan.py", "def f(x):\n    out = np.zeros(len(x))\n    out[-1] = np.nan\n    return out\n", "f", ["returned log_r = nan at row"]),
            ("nodim.py", "DIMENSION = None\n" + good, "f", ["the dimension is unknown: define DIMENSION"]),
            ("masked.py", "def f(x):\n    return np.ma.masked_array(np.zeros(len(x)), mask=np.ones(len(x)))\n", "f",
             ["returned log_r as a masked array"]),
            ("both.py", good + "def f_grad(x):\n    return -x\n", "f", ["returns (log_r, grad) and the module also defines f_grad; keep one"]),
            ("sentinel.py", "def f(x):\n    out = np.zeros(len(x))\n    out[-1] = -1e300\n    return out\n", "f",
             ["returned log_r = -1e+300 at row 7 of 8, beyond ±10³⁰"]),
        ]
        for (file, source, function, messages) in cases {
            try assertFails("python:\(try module(file, source)):\(function)", [], messages)
        }
        // A value-only function where the run needs ∇log R.
        let valueOnly = try module("values.py", "def f(x):\n    return -0.5 * np.sum(x * x, axis=1)\n")
        try assertFails("python:\(valueOnly):f", ["langevin=true"], ["returns only log R, but langevin=true needs ∇log R: return (log_r, grad)"])
        try assertFails("python:\(valueOnly):f", ["objective=pis"], ["returns only log R, but objective=pis needs ∇log R"])
        for objective in ["smc", "mfvi", "ula", "mala"] {
            let (status, signalled, output) = try Binary.run(["train", "target=python:\(valueOnly):f", "objective=" + objective, "eval_paths=16",
                                                              "--out", directory + "/\(objective).h5"], seconds: 120)
            XCTAssertTrue(!signalled && status > 0 && status < 128, "\(objective) exited \(status): \(output)")
            XCTAssertTrue(output.contains("returns only log R, but objective=\(objective) needs ∇log R"), output)
        }
        // A broken installation is reported, not a Python fatal error (an abort).
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONHOME"] = "/nonexistent"
        let good2 = try module("good2.py", good)
        let (status, signalled, output) = try Binary.run(["train", "target=python:\(good2):f", "iterations=3", "eval_paths=16",
                                                          "--out", directory + "/home.h5"], seconds: 120, environment: environment)
        XCTAssertTrue(!signalled && status > 0 && status < 128, "exited \(status): \(output)")
        XCTAssertTrue(output.contains("the embedded Python could not start"), output)
        try assertFails(directory + "/nowhere.yaml", [], ["nowhere.yaml: no such file"])
        for malformed in ["python:x.py", "python::f", "python:x.py:", "python:x.py:f-g"] {
            try assertFails(malformed, [], ["python:FILE.py:FUNC"])
        }
    }

    /// A module that changes the working directory at import, run without DSAMPLER_TARGETS: a Python target needs no
    /// catalog, so the run completes (it used to fail after training, looking for the catalog for a reference set).
    /// A spec whose log_z disagrees with the module's LOG_Z is refused.
    func testNoCatalogNeededAndLogZConflict() throws {
        let wandering = try module("wandering.py", "import os\nos.chdir('/')\nLOG_Z = 1.0\ndef f(x):\n    return -0.5 * np.sum(x * x, axis=1), -x\n")
        var environment = ProcessInfo.processInfo.environment
        environment["DSAMPLER_TARGETS"] = nil
        let (status, _, output) = try Binary.run(["train", "target=python:\(wandering):f", "iterations=3", "batch_size=8", "steps=4",
                                                  "eval_paths=16", "threads=1", "--out", directory + "/wander.h5"], seconds: 120,
                                                 environment: environment)
        XCTAssertEqual(status, 0, output)
        try "kind: python\nname: conflict\npython: wandering.py:f\ndimension: 2\nlog_z: 3.0\n"
            .write(toFile: directory + "/conflict.yaml", atomically: true, encoding: .utf8)
        try assertFails(directory + "/conflict.yaml", [], ["the module's LOG_Z = 1.0 but the spec declares log_z 3.0"])
    }

    /// A function that farms rows out to a `spawn` process pool: the children start the interpreter that matches the
    /// embedded one and import the module by its own name (they hung on an unimportable synthetic name before).
    func testSpawnedWorkers() throws {
        let pooled = try module("pooled.py", "import multiprocessing as mp\n_pool = None\ndef _row(r):\n    return float(-0.5 * np.dot(r, r))\n"
                                + "def f(x):\n    global _pool\n    if _pool is None:\n        _pool = mp.get_context('spawn').Pool(2)\n"
                                + "    return np.array(_pool.map(_row, list(x)), dtype=np.float64), -x\n")
        let (status, signalled, output) = try train("python:\(pooled):f")
        XCTAssertFalse(signalled, output)
        XCTAssertEqual(status, 0, output)
    }

    /// A run records its module's digest: after the module changes, `eval` and `--resume` refuse the run (they would
    /// report other numbers under its name); with the module restored, `eval` works again.
    func testChangedModuleIsRefused() throws {
        let source = "def f(x):\n    return -0.5 * np.sum(x * x, axis=1), -x\n"
        let path = try module("edited.py", source)
        let run = directory + "/edited.h5"
        XCTAssertEqual(try Binary.run(["train", "target=python:\(path):f", "iterations=3", "batch_size=8", "steps=4", "eval_paths=16",
                                       "threads=1", "--out", run], seconds: 120).status, 0)
        _ = try module("edited.py", source.replacingOccurrences(of: "-0.5", with: "-2.0"))
        let (status, _, output) = try Binary.run(["eval", run], seconds: 120)
        XCTAssertTrue(status > 0 && status < 128, output)
        XCTAssertTrue(output.contains("whose file has changed since"), output)
        _ = try module("edited.py", source)
        let (again, _, evaluated) = try Binary.run(["eval", run], seconds: 120)
        XCTAssertEqual(again, 0, evaluated)
    }

    /// The value-only function trains where no gradient is needed (TB), and `f_grad` supplies one where it is.
    func testValueOnlyAndGradientFunction() throws {
        let valueOnly = try module("values.py", "def f(x):\n    return -0.5 * np.sum(x * x, axis=1)\n")
        XCTAssertEqual(try train("python:\(valueOnly):f").status, 0)
        // float64 in the other byte order is the same numbers.
        let swapped = try module("swapped.py", "def f(x):\n    return (-0.5 * np.sum(x * x, axis=1)).astype('>f8')\n")
        XCTAssertEqual(try train("python:\(swapped):f").status, 0)
        let withGradient = try module("grad.py", "def f(x):\n    return -0.5 * np.sum(x * x, axis=1)\ndef f_grad(x):\n    return -x\n")
        let (status, _, output) = try train("python:\(withGradient):f", ["langevin=true"])
        XCTAssertEqual(status, 0, output)
    }

    /// threads=2 with Langevin (concurrent calls, serialised by the GIL) gives the numbers of threads=1; a constant 10⁸
    /// in log R (with LOG_Z shifted by it) leaves Δlog Z as it was under PIS (whose gradient sees only ∇log R): log R
    /// crosses the boundary and enters the log weights in double precision.
    func testThreadsAndDoublePrecision() throws {
        // N((1, 1), 0.5²I) scaled by e^OFFSET: far enough from the sampler's start that Δlog Z is not zero.
        let gaussian = "LOG_Z = OFFSET + np.log(2 * np.pi * 0.25)\ndef f(x):\n    u = (x - 1) / 0.5\n"
            + "    return OFFSET - 0.5 * np.sum(u * u, axis=1), -u / 0.5\n"
        func run(_ offset: String, _ settings: [String]) throws -> String {
            let path = try module("gauss\(offset.replacingOccurrences(of: ".", with: "_")).py", "OFFSET = \(offset)\n" + gaussian)
            let (status, _, output) = try Binary.run(["train", "target=python:\(path):f", "iterations=20", "batch_size=64", "steps=10",
                                                      "eval_paths=256", "--out", directory + "/\(UUID().uuidString).h5"] + settings,
                                                     seconds: 120)
            XCTAssertEqual(status, 0, output)
            return output.split(separator: "\n").filter { $0.hasPrefix("elbo ") || $0.hasPrefix("log_z") || $0.hasPrefix("ess ") }
                .joined(separator: "\n")
        }
        // A function that is not re-entrant and releases the GIL inside (time.sleep, like NumPy's BLAS): the calls
        // are serialised, so two threads read the same numbers as one.
        let shared = try module("shared.py", "import time\nbuffer = None\ndef f(x):\n    global buffer\n    buffer = x.copy()\n"
                                + "    time.sleep(0.002)\n    return -0.5 * np.sum(buffer * buffer, axis=1), -buffer\n")
        var sharedOutputs: [String] = []
        for threads in ["1", "2"] {
            let (status, _, output) = try Binary.run(["train", "target=python:\(shared):f", "iterations=3", "batch_size=256", "steps=4",
                                                      "langevin=true", "eval_paths=256", "threads=" + threads,
                                                      "--out", directory + "/shared\(threads).h5"], seconds: 120)
            XCTAssertEqual(status, 0, output)
            sharedOutputs.append(output.split(separator: "\n").filter { $0.hasPrefix("elbo ") || $0.hasPrefix("log_z_is") }.joined())
        }
        XCTAssertEqual(sharedOutputs[0], sharedOutputs[1])
        let one = try run("0.0", ["langevin=true", "threads=1"]), two = try run("0.0", ["langevin=true", "threads=2"])
        XCTAssertTrue(one.contains("log_z_is"), one)
        XCTAssertEqual(one, two, "threads=1 vs threads=2")
        func deltas(_ output: String) -> String? { output.split(separator: ";").last.map(String.init) }
        let plain = try run("0.0", ["objective=pis", "threads=1"]), shifted = try run("1e8", ["objective=pis", "threads=1"])
        XCTAssertFalse(deltas(plain)?.contains("delta_elbo 0.0000") ?? true, plain)
        XCTAssertEqual(deltas(plain), deltas(shifted), "Δlog Z with and without a constant 10⁸:\n\(plain)\n\(shifted)")
    }
}

/// The examples in `Targets/python/` equal the built-in targets they rewrite at random points: the mixture bit for bit
/// (it repeats the built-in's float32 differences, summation order and glibc exp/log), the logistic regression to
/// 10⁻⁹ relative in log R (NumPy's exp and log differ from glibc's in the last bit) and float rounding in ∇log R.
final class PythonExampleTests: XCTestCase {
    func testExamplesMatchBuiltInTargets() throws {
        for (python, builtIn, spread, tolerance) in [("Targets/python/gmm25-numpy.yaml", "gmm25", Float(8), 0.0),
                                                     ("python:Targets/python/logistic.py:log_density", "ionosphere", Float(0.3), 1e-9)] {
            let a = try TargetCatalog.resolve(RunConfig.absoluteTarget(python)), b = try TargetCatalog.resolve(builtIn)
            XCTAssertEqual(a.dimension, b.dimension)
            XCTAssertEqual(a.logZ, b.logZ)
            var rng = Numerics.Xoshiro256(seed: 3)
            var x = rng.gaussianMatrix(rows: 64, cols: a.dimension)
            for k in x.storage.indices { x.storage[k] *= spread }
            let (va, ga) = try a.logDensityAndGradient(x), (vb, gb) = try b.logDensityAndGradient(x)
            for r in 0..<64 {
                XCTAssertEqual(va[r], vb[r], accuracy: tolerance * max(1, abs(vb[r])), "\(builtIn) row \(r)")
                for k in 0..<a.dimension {
                    XCTAssertEqual(ga[r, k], gb[r, k], accuracy: Float(tolerance) * 1e4 * max(1, abs(gb[r, k])), "\(builtIn) row \(r), coordinate \(k)")
                }
            }
        }
    }
}

import XCTest
import Foundation
import RunStore
import TestSupport

/// What a Python energy does to a run beyond its values: a failure keeps the last checkpoint, interruption stays the
/// toolkit's (a module's own SIGINT handler, printing into a closed pipe), every point is evaluated once and counted,
/// and a spec naming the module records the module's digest.
final class PythonTargetRunTests: ScratchFolderTestCase {
    func module(_ name: String, _ source: String) throws -> String {
        let path = directory + "/" + name
        try ("DIMENSION = 2\nimport numpy as np\n" + source).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// An exception at the 7th call (iteration 6 of TB, one call per iteration after the load-time check): the run
    /// stops with the exception, and the run file holds the checkpoint of iteration 4.
    func testExceptionAfterACheckpointKeepsIt() throws {
        let path = try module("late.py", "calls = 0\ndef f(x):\n    global calls\n    calls += 1\n    if calls == 7:\n"
                              + "        raise ArithmeticError('gave up')\n    return -0.5 * np.sum(x * x, axis=1)\n")
        let run = directory + "/late.h5"
        let (status, signalled, output) = try Binary.run(["train", "target=python:\(path):f", "iterations=10", "batch_size=8", "steps=4",
                                                          "eval_paths=16", "threads=1", "--checkpoint-every", "2", "--out", run], seconds: 120)
        XCTAssertTrue(!signalled && status > 0 && status < 128, "exited \(status): \(output)")
        XCTAssertTrue(output.contains("ArithmeticError: gave up") && output.contains("late.py:f"), output)
        XCTAssertTrue(output.contains("\(run) holds this run's last checkpoint"), output)
        let root = try HDF5.read(run)
        XCTAssertEqual(root.attribute("status"), .string("running"))
        XCTAssertEqual(root.group("checkpoint")?.attribute("iteration")?.doubleValue, 4)
    }

    /// A module that installs Python's own SIGINT handler (which raises KeyboardInterrupt inside the call), at import
    /// and in every call: SIGINT still ends the run as an interruption, exit status 130, with its checkpoint.
    func testModuleSignalHandlerDoesNotTakeOverInterruption() throws {
        let path = try module("handler.py", "import signal, time\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
                              + "def f(x):\n    signal.signal(signal.SIGINT, signal.default_int_handler)\n    time.sleep(0.01)\n"
                              + "    return -0.5 * np.sum(x * x, axis=1)\n")
        let run = directory + "/handler.h5"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Binary.path)
        p.arguments = ["train", "target=python:\(path):f", "iterations=100000", "batch_size=8", "steps=4", "eval_paths=16", "threads=1",
                       "--out", run]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        Thread.sleep(forTimeInterval: 3)
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 130)
        let root = try HDF5.read(run)
        XCTAssertEqual(root.attribute("status"), .string("interrupted"))
        XCTAssertTrue(root.attribute("error")?.description.contains("interrupted by SIGINT") ?? false)
    }

    /// A module that prints on every call, in a run piped into `head` (stdout alone, then with stderr, whose closed
    /// pipe made the final message trap): the closed output ends the run as an interruption (as for any target), not
    /// as the module's BrokenPipeError, and with exit status 1, not a signal.
    func testPrintingIntoAClosedPipeIsAnInterruption() throws {
        let path = try module("loud.py", "def f(x):\n    print('x' * 10000)\n    return -0.5 * np.sum(x * x, axis=1)\n")
        for redirect in ["", "2>&1"] {
            let run = directory + "/loud\(redirect.isEmpty ? 1 : 2).h5"
            let shell = Process()
            shell.executableURL = URL(fileURLWithPath: "/bin/bash")
            shell.arguments = ["-c", "'\(Binary.path)' train target=python:\(path):f iterations=100000 batch_size=8 steps=4 eval_paths=16 "
                               + "threads=1 --out '\(run)' \(redirect) | head -c 100 > /dev/null; exit ${PIPESTATUS[0]}"]
            try shell.run()
            shell.waitUntilExit()
            XCTAssertEqual(shell.terminationStatus, 1, redirect)
            let root = try HDF5.read(run)
            XCTAssertEqual(root.attribute("status"), .string("interrupted"))
            XCTAssertTrue(root.attribute("error")?.description.contains("a closed standard output") ?? false,
                          root.attribute("error")?.description ?? "no error")
        }
    }

    /// PIS needs log R and ∇log R at the same terminal points, and evaluation needs log R at its samples: each is one
    /// call, and the run file's budget counts exactly the training calls (values: f, gradients: f_grad).
    func testEveryPointIsEvaluatedOnceAndCounted() throws {
        let log = directory + "/calls.txt"
        let path = try module("counted.py", "def _note(what, n):\n    with open('\(log)', 'a') as out:\n"
                              + "        out.write(f'{what} {n}\\n')\ndef f(x):\n    _note('f', len(x))\n    return -0.5 * np.sum(x * x, axis=1)\n"
                              + "def f_grad(x):\n    _note('g', len(x))\n    return -x\n")
        let run = directory + "/counted.h5"
        let (status, _, output) = try Binary.run(["train", "target=python:\(path):f", "objective=pis", "iterations=3", "batch_size=8",
                                                  "steps=4", "eval_paths=16", "threads=1", "--out", run], seconds: 120)
        XCTAssertEqual(status, 0, output)
        let calls = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        // The load-time check (one point, both), three iterations (8 points, both), the evaluation (16 points, values).
        XCTAssertEqual(calls, ["f 1", "g 1"] + Array(repeating: ["f 8", "g 8"], count: 3).flatMap { $0 } + ["f 16"])
        let checkpoint = try XCTUnwrap(HDF5.read(run).group("checkpoint"))
        XCTAssertEqual(checkpoint.attribute("energy_evals")?.doubleValue, 0)
        XCTAssertEqual(checkpoint.attribute("grad_evals")?.doubleValue, 24)
    }

    /// A ratio spec whose parts are Python functions named relative to the spec (as `kind: python`'s file is) trains
    /// from another working directory, and its run refuses `eval` once a part's module changes, naming it.
    func testRatioOfPythonPartsRelativeToTheSpec() throws {
        let source = "def f(x):\n    return -0.5 * np.sum(x * x, axis=1), -x\n"
        _ = try module("top.py", source)
        _ = try module("bottom.py", "def g(x):\n    return -0.25 * np.sum(x * x, axis=1), -0.5 * x\n")
        let spec = directory + "/ratio.yaml"
        try "kind: ratio\nname: pyratio\nnumerator: python:top.py:f\ndenominator: python:bottom.py:g\n"
            .write(toFile: spec, atomically: true, encoding: .utf8)
        let run = directory + "/ratio.h5"
        let (status, _, output) = try Binary.run(["train", "target=" + spec, "iterations=3", "batch_size=8", "steps=4", "eval_paths=16",
                                                  "threads=1", "--out", run], seconds: 120)
        XCTAssertEqual(status, 0, output)
        _ = try module("bottom.py", "def g(x):\n    return -0.5 * np.sum(x * x, axis=1), -x\n")
        let (refused, _, message) = try Binary.run(["eval", run], seconds: 120)
        XCTAssertTrue(refused > 0 && refused < 128, message)
        XCTAssertTrue(message.contains("whose file has changed since (\(directory!)/top.py, \(directory!)/bottom.py: digest"), message)
    }

    /// A run refused at load with `--overwrite` leaves the complete run there untouched and says so (not "run file so
    /// far", which would name the old run as this one's).
    func testRefusedOverwriteKeepsTheEarlierRun() throws {
        let valueOnly = try module("values.py", "def f(x):\n    return -0.5 * np.sum(x * x, axis=1)\n")
        let run = directory + "/kept.h5"
        let settings = ["iterations=3", "batch_size=8", "steps=4", "eval_paths=16", "threads=1", "--out", run]
        XCTAssertEqual(try Binary.run(["train", "target=python:\(valueOnly):f"] + settings, seconds: 120).status, 0)
        let (status, _, output) = try Binary.run(["train", "target=python:\(valueOnly):f", "objective=pis", "--overwrite"] + settings,
                                                 seconds: 120)
        XCTAssertTrue(status > 0 && status < 128, output)
        XCTAssertTrue(output.contains("define f_grad(x) beside it") && output.contains("\(run) is kept as it was"), output)
        XCTAssertFalse(output.contains("run file so far"), output)
        XCTAssertEqual(try HDF5.read(run).attribute("status"), .string("complete"))
    }

    /// `Scripts/is-check.py` on a run of a correlated Gaussian with a known log Z reads that log Z (to 0.01).
    func testImportanceSamplingCheckReadsTheKnownLogZ() throws {
        let path = try module("gauss.py", "P = np.array([[2.0, 0.6], [0.6, 0.5]])\n"
                              + "LOG_Z = 3.0 + np.log(2 * np.pi) - 0.5 * np.log(np.linalg.det(P))\n"
                              + "def f(x):\n    return 3.0 - 0.5 * np.einsum('ni,ij,nj->n', x, P, x), -x @ P\n")
        let run = directory + "/gauss.h5"
        let (status, _, output) = try Binary.run(["train", "target=python:\(path):f", "objective=smc", "anneal_steps=64", "eval_paths=2000",
                                                  "threads=1", "--out", run], seconds: 120)
        XCTAssertEqual(status, 0, output)
        let check = Process(), pipe = Pipe()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        check.arguments = ["Scripts/is-check.py", run, path + ":f", "--draws", "100000"]
        check.standardOutput = pipe
        try check.run()
        check.waitUntilExit()
        let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(check.terminationStatus, 0, printed)
        let logZ = try XCTUnwrap(printed.split(separator: " ").dropFirst(2).first.flatMap { Double($0) }, printed)
        XCTAssertEqual(logZ, 3 + log(2 * Double.pi) - 0.5 * log(2.0 * 0.5 - 0.36), accuracy: 0.01, printed)
    }

    /// A spec with `kind: python` records the digest of its module: after the module changes, `eval` refuses the run.
    func testSpecRecordsTheModuleDigest() throws {
        let source = "def f(x):\n    return -0.5 * np.sum(x * x, axis=1), -x\n"
        _ = try module("specced.py", source)
        let spec = directory + "/specced.yaml"
        try "kind: python\nname: specced\npython: specced.py:f\n".write(toFile: spec, atomically: true, encoding: .utf8)
        let run = directory + "/specced.h5"
        let (status, _, output) = try Binary.run(["train", "target=" + spec, "iterations=3", "batch_size=8", "steps=4", "eval_paths=16",
                                                  "threads=1", "--out", run], seconds: 120)
        XCTAssertEqual(status, 0, output)
        _ = try module("specced.py", source.replacingOccurrences(of: "-0.5", with: "-2.0"))
        let (refused, _, message) = try Binary.run(["eval", run], seconds: 120)
        XCTAssertTrue(refused > 0 && refused < 128, message)
        XCTAssertTrue(message.contains("whose file has changed since"), message)
    }
}

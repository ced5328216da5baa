import XCTest
import Foundation
@testable import Densities
import Numerics
import TestSupport

/// Builds small C plug-ins with the system compiler and loads them.
final class PluginTargetTests: ScratchFolderTestCase {
    func build(_ source: String, named name: String) throws -> String {
        try PluginBuilder.build(source, named: name, in: directory)
    }

    func testShippedExampleLoadsWithGradientAndLogZ() throws {
        let path = try build(PluginBuilder.shippedExample, named: "gaussian")
        let t: any Target = try PluginTarget(path: path)
        XCTAssertEqual(t.dimension, 2)
        XCTAssertEqual(t.logZ!, log(4 * Double.pi), accuracy: 1e-12)
        let (logR, grad) = try t.logDensityAndGradient(Matrix(rows: 2, cols: 2, storage: [1, -2, 3, 0]))
        XCTAssertEqual(logR[0], 0)
        XCTAssertEqual(logR[1], -0.5 * 8 / 2, accuracy: 1e-6)
        XCTAssertEqual(grad.storage, [0, 0, -1, -1])
    }

    let header = "#include <stdint.h>\n#include <math.h>\n"

    func testErrorsNameTheLibraryAndTheProblem() throws {
        let missing = try build(header + "int32_t dsampler_dim(void) { return 2; }", named: "missing")
        XCTAssertThrowsError(try PluginTarget(path: missing)) {
            XCTAssertTrue("\($0)".contains("missing.so") && "\($0)".contains("dsampler_log_density"), "\($0)")
        }
        let body = "int32_t dsampler_log_density(int64_t n, const double *x, double *lp, double *g) {"
        let zeroDim = try build(header + "int32_t dsampler_dim(void) { return 0; }\n" + body + " return 0; }",
                                     named: "zerodim")
        XCTAssertThrowsError(try PluginTarget(path: zeroDim)) { XCTAssertTrue("\($0)".contains("returned 0"), "\($0)") }
        let good = try build(header + "int32_t dsampler_dim(void) { return 3; }\n" + body
                                  + " for (int64_t i = 0; i < n; i++) lp[i] = 0; return 0; }", named: "good")
        XCTAssertThrowsError(try PluginTarget(path: good, expectedDimension: 2)) {
            XCTAssertTrue("\($0)".contains("declares dimension 2"), "\($0)")
        }
        let failing = try build(header + "int32_t dsampler_dim(void) { return 1; }\n" + body + " return 7; }",
                                     named: "failing")
        XCTAssertThrowsError(try PluginTarget(path: failing).logDensity(Matrix(rows: 1, cols: 1))) {
            XCTAssertTrue("\($0)".contains("failing.so") && "\($0)".contains("returned 7"), "\($0)")
        }
        let nan = try build(header + "int32_t dsampler_dim(void) { return 1; }\n" + body
                                 + " for (int64_t i = 0; i < n; i++) lp[i] = NAN; return 0; }", named: "nan")
        XCTAssertThrowsError(try PluginTarget(path: nan).logDensity(Matrix(rows: 2, cols: 1))) {
            XCTAssertTrue("\($0)".contains("nan.so") && "\($0)".contains("log_p = nan"), "\($0)")
        }
        XCTAssertThrowsError(try PluginTarget(path: directory + "/absent.so")) { XCTAssertTrue("\($0)".contains("no such file")) }
    }

    /// A library with a static scratch buffer (correct C when called serially) and a counter of calls in flight;
    /// with `THREAD_SAFE` it declares itself re-entrant. `test_max_in_flight()` reports the most overlapping calls.
    let scratchSource = """
        #include <stdint.h>
        #include <unistd.h>
        static double scratch[4096];
        static int in_flight = 0, max_in_flight = 0;
        int32_t dsampler_dim(void) { return 1; }
        #ifdef THREAD_SAFE
        int32_t dsampler_thread_safe(void) { return 1; }
        #endif
        int32_t test_max_in_flight(void) { return max_in_flight; }
        int32_t dsampler_log_density(int64_t n, const double *x, double *lp, double *g) {
            int now = __atomic_add_fetch(&in_flight, 1, __ATOMIC_SEQ_CST), seen = max_in_flight;
            while (now > seen && !__atomic_compare_exchange_n(&max_in_flight, &seen, now, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {}
            for (int64_t i = 0; i < n; i++) scratch[i] = -x[i] * x[i] * x[i] * x[i] / 4 + x[i];
            usleep(3000);  /* widen the window in which another caller would overwrite the scratch */
            for (int64_t i = 0; i < n; i++) { lp[i] = scratch[i]; if (g) g[i] = -x[i] * x[i] * x[i] + 1; }
            __atomic_sub_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
            return 0;
        }
        """

    /// Evaluates `target` from 8 threads at once, each on its own points, and returns how many values differ
    /// from the serial ones and the library's highest number of overlapping calls.
    func hammer(_ target: PluginTarget) throws -> (wrong: Int, maxInFlight: Int32) {
        let inputs = (0..<16).map { k in Matrix(rows: 64, cols: 1, storage: (0..<64).map { Float(k) * 0.1 + Float($0) * 0.01 - 1 }) }
        let expected = inputs.map { m in m.storage.map { x in -Double(x) * Double(x) * Double(x) * Double(x) / 4 + Double(x) } }
        let results = UnsafeMutableBufferPointer<Double>.allocate(capacity: 16 * 64)
        defer { results.deallocate() }
        nonisolated(unsafe) let out = results.baseAddress!  // each thread writes its own 64 entries
        DispatchQueue.concurrentPerform(iterations: 16) { k in
            inputs[k].storage.withUnsafeBufferPointer { x in
                try? target.evaluate(x.baseAddress!, count: 64, logDensity: out + k * 64, gradient: nil)
            }
        }
        var wrong = 0
        for k in 0..<16 { for i in 0..<64 where abs(results[k * 64 + i] - expected[k][i]) > 1e-9 { wrong += 1 } }
        let handle = try XCTUnwrap(dlopen(target.path, RTLD_NOW | RTLD_LOCAL))
        defer { dlclose(handle) }
        let probe = unsafeBitCast(try XCTUnwrap(dlsym(handle, "test_max_in_flight")), to: (@convention(c) () -> Int32).self)
        return (wrong, probe())
    }

    /// Calls of a library that does not declare itself re-entrant never overlap, so its static scratch buffer gives
    /// the right values under concurrent callers; a library that exports `dsampler_thread_safe() = 1` is called
    /// concurrently (the toolkit takes it at its word).
    func testPluginCallsAreSerialisedUnlessDeclaredThreadSafe() throws {
        let serial = try PluginTarget(path: try PluginBuilder.build(scratchSource, named: "scratch", in: directory))
        XCTAssertFalse(serial.isThreadSafe)
        let (wrong, inFlight) = try hammer(serial)
        XCTAssertEqual(wrong, 0)
        XCTAssertEqual(inFlight, 1, "calls of a library not declared re-entrant overlapped")
        let reentrant = try PluginTarget(path: try PluginBuilder.build(scratchSource, named: "reentrant", in: directory,
                                                                         defines: ["THREAD_SAFE"]))
        XCTAssertTrue(reentrant.isThreadSafe)
        XCTAssertGreaterThan(try hammer(reentrant).maxInFlight, 1, "a declared re-entrant library should be called concurrently")
    }

    /// log Z of ±inf and a `dsampler_thread_safe` other than 0 or 1 are refused at load.
    func testBadOptionalSymbolsAreRefused() throws {
        let lp = "int32_t dsampler_dim(void) { return 1; }\nint32_t dsampler_log_density(int64_t n, const double *x, double *lp, double *g) { return 0; }\n"
        let infinite = try build(header + lp + "double dsampler_log_z(void) { return INFINITY; }", named: "infz")
        XCTAssertThrowsError(try PluginTarget(path: infinite)) { XCTAssertTrue("\($0)".contains("dsampler_log_z() returned inf"), "\($0)") }
        let odd = try build(header + lp + "int32_t dsampler_thread_safe(void) { return 2; }", named: "oddts")
        XCTAssertThrowsError(try PluginTarget(path: odd)) { XCTAssertTrue("\($0)".contains("return 1 (re-entrant) or 0"), "\($0)") }
    }
}

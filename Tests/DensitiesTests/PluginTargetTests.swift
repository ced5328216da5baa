import XCTest
import Foundation
@testable import Densities
import Numerics

/// Builds small C plug-ins with the system compiler and loads them.
final class PluginTargetTests: XCTestCase {
    static let repository = ParticleTargetTests.repository
    var directory: String!

    override func setUp() {
        directory = NSTemporaryDirectory() + "dsampler-plugin-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// Compiles C source (a file path or inline text) into a shared library and returns its path.
    static func build(_ source: String, named name: String, in directory: String) throws -> String {
        var sourcePath = source
        if !source.hasSuffix(".c") {
            sourcePath = directory + "/\(name).c"
            try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        }
        let library = directory + "/\(name).so"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["cc", "-O2", "-shared", "-fPIC", "-o", library, sourcePath, "-lm"]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "cc failed on \(sourcePath)")
        return library
    }

    func testShippedExampleLoadsWithGradientAndLogZ() throws {
        let example = Self.repository.appendingPathComponent("Targets/plugins/gaussian_example.c").path
        let path = try Self.build(example, named: "gaussian", in: directory)
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
        let missing = try Self.build(header + "int32_t dsampler_dim(void) { return 2; }", named: "missing", in: directory)
        XCTAssertThrowsError(try PluginTarget(path: missing)) {
            XCTAssertTrue("\($0)".contains("missing.so") && "\($0)".contains("dsampler_log_density"), "\($0)")
        }
        let body = "int32_t dsampler_log_density(int64_t n, const double *x, double *lp, double *g) {"
        let zeroDim = try Self.build(header + "int32_t dsampler_dim(void) { return 0; }\n" + body + " return 0; }",
                                     named: "zerodim", in: directory)
        XCTAssertThrowsError(try PluginTarget(path: zeroDim)) { XCTAssertTrue("\($0)".contains("returned 0"), "\($0)") }
        let good = try Self.build(header + "int32_t dsampler_dim(void) { return 3; }\n" + body
                                  + " for (int64_t i = 0; i < n; i++) lp[i] = 0; return 0; }", named: "good", in: directory)
        XCTAssertThrowsError(try PluginTarget(path: good, expectedDimension: 2)) {
            XCTAssertTrue("\($0)".contains("declares dimension 2"), "\($0)")
        }
        let failing = try Self.build(header + "int32_t dsampler_dim(void) { return 1; }\n" + body + " return 7; }",
                                     named: "failing", in: directory)
        XCTAssertThrowsError(try PluginTarget(path: failing).logDensity(Matrix(rows: 1, cols: 1))) {
            XCTAssertTrue("\($0)".contains("failing.so") && "\($0)".contains("returned 7"), "\($0)")
        }
        let nan = try Self.build(header + "int32_t dsampler_dim(void) { return 1; }\n" + body
                                 + " for (int64_t i = 0; i < n; i++) lp[i] = NAN; return 0; }", named: "nan", in: directory)
        XCTAssertThrowsError(try PluginTarget(path: nan).logDensity(Matrix(rows: 2, cols: 1))) {
            XCTAssertTrue("\($0)".contains("nan.so") && "\($0)".contains("log_p = nan"), "\($0)")
        }
        XCTAssertThrowsError(try PluginTarget(path: directory + "/absent.so")) { XCTAssertTrue("\($0)".contains("no such file")) }
    }
}

import Foundation
import XCTest
@testable import Experiments

/// Compiles the shipped C plug-in example (Targets/plugins/gaussian_example.c) into `directory` and returns
/// the library's path.
func buildExamplePlugin(into directory: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let source = try XCTUnwrap(TargetCatalog.directory).appendingPathComponent("plugins/gaussian_example.c").path
    let library = directory + "/gaussian_example.so"
    let cc = Process()
    cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    cc.arguments = ["cc", "-O2", "-shared", "-fPIC", "-o", library, source, "-lm"]
    try cc.run()
    cc.waitUntilExit()
    XCTAssertEqual(cc.terminationStatus, 0, "cc could not build \(source)", file: file, line: line)
    return library
}

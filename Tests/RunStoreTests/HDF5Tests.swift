import XCTest
import TestSupport
import Foundation
@testable import RunStore

final class HDF5Tests: ScratchFolderTestCase {
    func sampleTree() -> Node {
        var root = Node()
        root.set("a_int", .int(-7))
        root.set("b_double", .double(2.5))
        root.set("c_text", .string("héllo: world\nline 2"))
        root.put("matrix", .float(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]))
        var child = Node()
        child.put("doubles", .double(shape: [3], values: [0.5, -1, 1e300]))
        child.put("ints", .int64(shape: [2], values: [Int64.max, -1]))
        child.set("empty", .string(""))
        root.put("group", child)
        return root
    }

    /// Everything written reads back equal (attributes and links come back in name order, as written here).
    func testRoundTrip() throws {
        let path = directory + "/sub/run.h5"
        try HDF5.write(sampleTree(), to: path)
        XCTAssertEqual(try HDF5.read(path), sampleTree())
    }

    /// The write goes through a temporary file: no temporary is left behind, and a failed write leaves the
    /// previous file intact.
    func testAtomicReplace() throws {
        let path = directory + "/run.h5"
        try HDF5.write(sampleTree(), to: path)
        var bad = Node()
        bad.datasets = [("no/such/group", .float(shape: [1], values: [1]))]  // intermediate groups do not exist
        XCTAssertThrowsError(try HDF5.write(bad, to: path))
        XCTAssertEqual(try HDF5.read(path), sampleTree())
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".tmp") }
        XCTAssertEqual(leftovers, [])
    }

    func testReadErrorsNameTheFile() {
        XCTAssertThrowsError(try HDF5.read(directory + "/missing.h5")) { XCTAssertTrue("\($0)".contains("missing.h5")) }
        let junk = directory + "/junk.h5"
        FileManager.default.createFile(atPath: junk, contents: Data("not hdf5".utf8))
        XCTAssertThrowsError(try HDF5.read(junk)) { XCTAssertTrue("\($0)".contains("junk.h5")) }
    }

    /// A flipped byte anywhere — in the body, or in the seal line itself together with the body — is refused as
    /// damage before the library parses the file (a damaged seal line must not pass for a file without one).
    func testDamageAnywhereIsRefused() throws {
        let path = directory + "/run.h5"
        try HDF5.write(sampleTree(), to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        for (k, offsets) in [[3], [bytes.count - 9], [5, bytes.count / 2], [0, 1, 700]].enumerated() {
            var mutant = bytes
            for o in offsets { mutant[o] ^= 0x5a }
            let damaged = directory + "/m\(k).h5"
            try Data(mutant).write(to: URL(fileURLWithPath: damaged))
            XCTAssertThrowsError(try HDF5.read(damaged), "offsets \(offsets)") { XCTAssertTrue("\($0)".contains("is damaged"), "\($0)") }
        }
    }
}

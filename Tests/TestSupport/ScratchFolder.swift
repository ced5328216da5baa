import XCTest
import Foundation

/// A test case with a fresh, private folder for the files it writes (`directory`), removed after each test.
open class ScratchFolderTestCase: XCTestCase {
    /// The folder of the running test.
    public var directory: String!

    override open func setUp() {
        super.setUp()
        directory = NSTemporaryDirectory() + "dsampler-\(String(describing: type(of: self)))-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override open func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
        super.tearDown()
    }
}

import XCTest
import Foundation
@testable import Experiments

/// The README's settings table is the key table's: every key has a row, every row names keys that exist.
final class ReadmeTests: XCTestCase {
    func testSettingsTableListsEveryKey() throws {
        let readme = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../README.md").standardized, encoding: .utf8)
        let section = try XCTUnwrap(readme.components(separatedBy: "### Settings").dropFirst().first?.components(separatedBy: "\n## ").first)
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| `") }
        XCTAssertGreaterThan(rows.count, 30)
        var documented: [String] = []
        for row in rows {
            let firstCell = row.split(separator: "|", omittingEmptySubsequences: true).first ?? ""
            documented += firstCell.components(separatedBy: "`").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        }
        let keys = RunConfig.keys.map(\.name)
        XCTAssertEqual(Set(documented).subtracting(keys), [], "README rows for keys that do not exist")
        XCTAssertEqual(Set(keys).subtracting(documented), [], "keys without a README row")
        // Each row's default is the key's (the first default listed for a row of several keys).
        let defaults = Dictionary(uniqueKeysWithValues: RunConfig().entries)
        for row in rows {
            let cells = row.split(separator: "|", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, let key = cells[0].components(separatedBy: "`").dropFirst().first,
                  let value = defaults[key], Double(value) != nil || ["true", "false"].contains(value) else { continue }
            let given = cells[1].components(separatedBy: ",")[0].replacingOccurrences(of: "10⁷", with: "1e7")
            if let a = Double(value), let b = Double(given) { XCTAssertEqual(a, b, "default of \(key)") }
            else if ["true", "false"].contains(given) { XCTAssertEqual(given, value, "default of \(key)") }
        }
    }
}

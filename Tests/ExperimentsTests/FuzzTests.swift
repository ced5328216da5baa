import XCTest
import Foundation
@testable import Experiments

/// Bounded fuzzing of what users type: every setting with hostile values, and the catalog's own spec files with
/// their numbers replaced by hostile ones. Each case must either be accepted or refused with an error — never trap
/// (a trap would end this test process, so surviving is the assertion, plus the counts below).
final class FuzzTests: XCTestCase {
    static let hostile = ["", "-1", "0", "1", "2", "-0", "1e309", "-1e309", "nan", "inf", "-inf", "1e-320", "3.5",
                          "9223372036854775807", "9223372036854775808", "-9223372036854775808", "99999999999999999999999",
                          "0x10", "1_000", " 5", "5 ", "true", "false", "default", "../x", "/dev/null", "a\nb", "é", "💥",
                          String(repeating: "9", count: 400)]

    /// Every key × every hostile value, alone and on top of a small valid run; accepted configs pass the size check
    /// for a target dimension or are refused by it.
    func testEverySettingWithHostileValues() {
        var accepted = 0, refused = 0
        for key in RunConfig.keys.map(\.name) {
            for value in Self.hostile {
                for base in [[], ["objective=idem"], ["objective=mala"], ["local_search=true"], ["objective=vargrad"]] {
                    do {
                        let config = try RunConfig.parse(base + ["\(key)=\(value)"])
                        for d in [1, 2, 1600, 100_000] { _ = try? config.checkSizes(dimension: d, idemSamples: 500) }
                        accepted += 1
                    } catch {
                        XCTAssertTrue(error is ConfigError || "\(error)".contains(key) || "\(error)".contains("target"), "\(key)=\(value): \(error)")
                        refused += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(accepted, 100)
        XCTAssertGreaterThan(refused, 1000)
    }

    /// Each catalog spec with each number in it replaced by each hostile value (and each line dropped): loading
    /// and building the target either works or throws.
    func testCatalogSpecsWithHostileNumbers() throws {
        let directory = NSTemporaryDirectory() + "dsampler-fuzz-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var cases = 0, refused = 0
        for spec in try TargetCatalog.specs() where spec.kind != "cox-process" && spec.kind != "plugin" {
            let lines = spec.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for (k, line) in lines.enumerated() {
                var variants = [lines.enumerated().filter { $0.offset != k }.map(\.element)]
                if let colon = line.firstIndex(of: ":"), line[line.index(after: colon)...].contains(where: \.isNumber) {
                    for value in ["0", "-1", "1e309", ".nan", "[]", "[1, 2]", "{a: 1}", "&a [*a]", "999999999999"] {
                        var changed = lines
                        changed[k] = String(line[...colon]) + " " + value
                        variants.append(changed)
                    }
                }
                for variant in variants {
                    let file = URL(fileURLWithPath: directory).appendingPathComponent("case\(cases).yaml")
                    try variant.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
                    cases += 1
                    do { _ = try TargetSpec(file: file).make() } catch { refused += 1 }
                }
            }
        }
        XCTAssertGreaterThan(cases, 100)
        XCTAssertGreaterThan(refused, cases / 3)
    }
}

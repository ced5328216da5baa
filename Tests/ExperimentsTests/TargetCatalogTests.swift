import XCTest
import Foundation
@testable import Experiments
@testable import Densities
import Numerics
import TestSupport

/// The YAML target catalog in Targets/ and the densities it builds.
final class TargetCatalogTests: XCTestCase {
    func target(_ name: String) throws -> any Target { try TargetCatalog.resolve(name) }

    func testEveryCatalogSpecBuilds() throws {
        let names = try TargetCatalog.specs().map(\.name)
        for name in ["gmm9", "gmm25", "gmm40", "funnel", "funnel-easy", "manywell", "dw4", "lj13", "lj55", "lgcp"] {
            XCTAssertTrue(names.contains(name), name)
        }
        for spec in try TargetCatalog.specs() {
            let t = try spec.make()
            XCTAssertEqual(t.name, spec.name)
            if let reference = spec.reference { XCTAssertTrue(FileManager.default.fileExists(atPath: reference), reference) }
        }
        XCTAssertEqual(try target("gmm40").modeCentres?.count, 40)
        XCTAssertEqual(try target("gmm25").defaultSigma2, 5)
        XCTAssertEqual((try target("funnel-easy") as! Funnel).neckStd, 1)
        XCTAssertEqual((try target("funnel") as! Funnel).neckStd, 3)
        XCTAssertEqual(try target("manywell").logZ!, 164.6957, accuracy: 1e-3)
        XCTAssertEqual(try target("manywell-8").logZ!, 164.6957 / 4, accuracy: 1e-3)
        XCTAssertThrowsError(try target("manywell-7")) { XCTAssertTrue("\($0)".contains("manywell-D"), "\($0)") }
        XCTAssertThrowsError(try target("funel")) { XCTAssertTrue("\($0)".contains("funnel-easy"), "\($0)") }
    }

    /// ∇ log R against bounded-error finite differences at random points, for every non-particle catalog target.
    func testGradientsMatchFiniteDifferences() throws {
        for spec in try TargetCatalog.specs() {
            let t = try spec.make()
            guard t.particleStructure == nil, t.dimension <= 32 else { continue }
            var rng = Xoshiro256(seed: 3, stream: 1)
            var x = rng.gaussianMatrix(rows: 4, cols: t.dimension)
            let scale: Float = t.name == "gmm40" ? 20 : t.name == "gmm25" ? 4 : 1.2
            for i in x.storage.indices { x.storage[i] *= scale }
            let (_, grad) = try t.logDensityAndGradient(x)
            let failures = try FiniteDifference.check(x.storage, gradient: grad.storage, at: Array(0..<x.count), step: 1e-2,
                                                      label: { "\(t.name) (\($0 / t.dimension),\($0 % t.dimension))" }) { v, k in
                // Only the perturbed entry's row: the targets' log-densities are row by row.
                let row = k / x.cols
                return Double(try t.logDensity(Matrix(rows: 1, cols: x.cols, storage: Array(v[(row * x.cols)..<((row + 1) * x.cols)])))[0])
            }
            for f in failures { XCTFail(f) }
        }
    }

    /// The 2-D mixtures integrate to exactly 1 (log Z = 0) by midpoint quadrature.
    func testMixturesIntegrateToOne() throws {
        for (name, h, lo, n) in [("gmm9", Float(0.05), Float(-14), 560), ("gmm25", 0.05, -14, 560), ("gmm40", 0.1, -60, 1200)] {
            let t = try target(name)
            var total = 0.0
            for i in 0..<n {
                var rowPoints = Matrix(rows: n, cols: 2)
                for j in 0..<n { rowPoints[j, 0] = lo + (Float(i) + 0.5) * h; rowPoints[j, 1] = lo + (Float(j) + 0.5) * h }
                total += try t.logDensity(rowPoints).reduce(0.0) { $0 + exp(Double($1)) }
            }
            XCTAssertEqual(log(total * Double(h * h)), 0, accuracy: 1e-3, name)
        }
    }

    func testBadSpecsAreRejectedWithTheFix() throws {
        let dir = NSTemporaryDirectory() + "dsampler-spec-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let typo = dir + "/typo.yaml"
        try "name: typo\nkind: funnel\ndimension: 10\nneck_sd: 3\n".write(toFile: typo, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TargetCatalog.resolve(typo)) {
            XCTAssertTrue("\($0)".contains("unknown key 'neck_sd'") && "\($0)".contains("neck_std"), "\($0)")
        }
        let kind = dir + "/kind.yaml"
        try "name: k\nkind: banana\n".write(toFile: kind, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TargetCatalog.resolve(kind)) { XCTAssertTrue("\($0)".contains("grid-mixture"), "\($0)") }
        let odd = dir + "/odd.yaml"
        try "name: odd\nkind: manywell\ndimension: 5\n".write(toFile: odd, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TargetCatalog.resolve(odd)) { XCTAssertTrue("\($0)".contains("even"), "\($0)") }
    }

    /// Constants that would make the density non-finite, and specs that would recurse or explode, are refused
    /// when the spec is loaded, with the key and the valid range.
    func testSpecConstantsAreChecked() throws {
        let dir = NSTemporaryDirectory() + "dsampler-spec-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [(String, String)] = [
            ("kind: grid-mixture\ngrid: [-1, 1]\nvariance: 0\n", "'variance' must be a number > 0"),
            ("kind: grid-mixture\ngrid: [-1, 1]\nvariance: 1\nsde_sigma2: -2\n", "'sde_sigma2' must be a number > 0"),
            ("kind: grid-mixture\ngrid: [-1, 1]\nvariance: 1\nweights: [1, 2, 3]\n", "'weights' must be 4 numbers > 0"),
            ("kind: grid-mixture\ngrid: [-1, 1]\nvariance: 1\nweights: [1, 2, 0, 1]\n", "with some ≤ 0"),
            ("kind: funnel\ndimension: 10\nneck_std: -3\n", "'neck_std' must be a number > 0"),
            ("kind: funnel\ndimension: 1000000000\nneck_std: 3\n", "'dimension' must be an integer from 1 to 100000"),
            ("kind: manywell\ndimension: 4\nidem: {scale: 0}\n", "idem scale must be a number > 0"),
            ("kind: ratio\nnumerator: gmm25\ndenominator: funnel\n", "they must match"),
            ("kind: ratio\nnumerator: SELF\ndenominator: gmm25\n", "refers back to it"),
            ("kind: funnel\ndimension: 10\nneck_std: .nan\n", "'neck_std' must be a number > 0"),
        ]
        for (k, (body, message)) in cases.enumerated() {
            let file = dir + "/s\(k).yaml"
            try ("name: s\(k)\n" + body.replacingOccurrences(of: "SELF", with: file)).write(toFile: file, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try TargetCatalog.resolve(file), "case \(k)") { XCTAssertTrue("\($0)".contains(message), "case \(k): \($0)") }
        }
        // An alias bomb: nine levels of ten aliases each would expand to 10⁹ nodes.
        var bomb = "name: bomb\nkind: funnel\nlevel0: &l0 [x]\n"
        for level in 1...9 { bomb += "level\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ") + "]\n" }
        try bomb.write(toFile: dir + "/bomb.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TargetCatalog.resolve(dir + "/bomb.yaml")) { XCTAssertTrue("\($0)".contains("expands to more than 100000"), "\($0)") }
    }

    /// A plug-in selected through a spec file gets the spec's σ² and its declared dimension is checked.
    func testPluginSpec() throws {
        let dir = NSTemporaryDirectory() + "dsampler-pspec-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try PluginBuilder.build(PluginBuilder.shippedExample, named: "gaussian_example", in: dir)
        try "name: mine\nkind: plugin\nplugin: gaussian_example.so\nsde_sigma2: 2.5\n".write(toFile: dir + "/mine.yaml", atomically: true, encoding: .utf8)
        let t = try TargetCatalog.resolve(dir + "/mine.yaml")
        XCTAssertEqual(t.defaultSigma2, 2.5)
        XCTAssertEqual(t.logZ!, log(4 * Double.pi), accuracy: 1e-12)
        try "name: mine\nkind: plugin\nplugin: gaussian_example.so\ndimension: 3\n".write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TargetCatalog.resolve(dir + "/bad.yaml")) { XCTAssertTrue("\($0)".contains("dimension 3"), "\($0)") }
    }

    /// MALA from `dsampler reference` reproduces the public LJ13 reference: mean energy and the virial of
    /// 36 degrees of freedom.
    func testMALAReproducesLJ13Reference() throws {
        var sampling = ReferenceSampling()
        (sampling.chains, sampling.sweeps, sampling.burnIn, sampling.thin) = (48, 16_000, 6_000, 100)
        let t = try TargetCatalog.resolve("lj13")
        let node = try sampling.run(t)
        XCTAssertEqual(node.attribute("acceptance")!.doubleValue!, 0.574, accuracy: 0.05)
        let data = node.dataset("val")!.floats + node.dataset("test")!.floats
        let x = Matrix(rows: data.count / 39, cols: 39, storage: data)
        let (logR, grad) = try t.logDensityAndGradient(x)
        let energy = logR.reduce(0.0) { $0 - Double($1) } / Double(x.rows)
        var virial = 0.0
        for i in 0..<x.count { virial -= Double(x.storage[i]) * Double(grad.storage[i]) }
        XCTAssertEqual(energy, -43.13, accuracy: 0.5)
        XCTAssertEqual(virial / Double(x.rows), 36, accuracy: 1)
    }

    /// The Cox process: all 126 pines counted, log R at the prior mean by hand, gradient against finite differences.
    func testCoxProcess() throws {
        let t = try XCTUnwrap(try target("lgcp") as? LogGaussianCoxProcess)
        XCTAssertEqual(t.dimension, 1600)
        XCTAssertEqual(t.counts.reduce(0, +), 126)
        XCTAssertEqual(t.mean, log(126) - 1.91 / 2, accuracy: 1e-12)
        let atMean = Matrix(rows: 1, cols: 1600, repeating: Float(t.mean))
        let atMeanValue = try t.logDensity(atMean)[0]
        let zero = Matrix(rows: 1, cols: 1600, repeating: Float(t.mean) + 1e-3)
        // Moving along 1 changes the likelihood by Σ y·δ − a·Σ(e^{μ+δ} − e^μ) and the prior by −½δ²·1ᵀK⁻¹1 < 0.
        let likelihoodChange = 126 * 1e-3 - (exp(t.mean + 1e-3) - exp(t.mean))
        XCTAssertLessThan(Double(try t.logDensity(zero)[0] - atMeanValue), likelihoodChange + 1e-2)
        var rng = Xoshiro256(seed: 6)
        var x = rng.gaussianMatrix(rows: 2, cols: 1600)
        for k in x.storage.indices { x.storage[k] = Float(t.mean) + 0.5 * x.storage[k] }
        let (_, grad) = try t.logDensityAndGradient(x)
        let indices = (0..<2).flatMap { r in stride(from: 0, to: 1600, by: 97).map { r * 1600 + $0 } }
        let failures = try FiniteDifference.check(x.storage, gradient: grad.storage, at: indices, step: 1e-2) { v, k in
            Double(try t.logDensity(Matrix(rows: 2, cols: 1600, storage: v))[k / 1600])
        }
        for f in failures { XCTFail(f) }
    }
}

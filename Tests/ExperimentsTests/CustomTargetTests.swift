import XCTest
import TestSupport
import Foundation
import Numerics
import Densities
@testable import Experiments
@testable import RunStore

/// A unit Gaussian in 3-D defined outside the toolkit, with its log Z and exact sampler.
struct ShiftedGaussian: Target {
    let name = "shifted-gaussian", dimension = 3
    var logZ: Double? { 1.5 * log(2 * Double.pi) }
    func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                  gradient: UnsafeMutablePointer<Float>?) throws {
        for r in 0..<count {
            var s = 0.0
            for k in 0..<3 {
                let v = Double(x[3 * r + k]) - 1
                s += v * v
                gradient?[3 * r + k] = Float(-v)
            }
            logDensity[r] = -0.5 * s
        }
    }
    func exactSamples(count: Int, rng: inout Xoshiro256) -> Matrix? {
        var m = rng.gaussianMatrix(rows: count, cols: 3)
        for k in m.storage.indices { m.storage[k] += 1 }
        return m
    }
}

/// Targets written in Swift train with every method through the public API, and their runs resume and
/// re-evaluate when the program passes the target again; without it the file says what to do.
final class CustomTargetTests: ScratchFolderTestCase {
    /// Four particles in the plane preferring pair distance 2 (φ(r²) = (r² − 4)²/8), tethered to their centre.
    let ring = PairPotential(name: "ring4", particles: ParticleStructure(count: 4, spatialDimension: 2),
                             pair: { s in (s - 4) * (s - 4) / 8 }, site: { c in 0.1 * c })

    /// Trains `settings` on `target` in two legs (stopped after one iteration, resumed to two) and in one; both end
    /// with the same samples, the file names the target's Swift type, and `restore` re-evaluates it only when given
    /// the target.
    func checkEveryStep(_ settings: [String], target: any Target, name: String) throws {
        let config = try RunConfig.parse(settings + ["iterations=2"])
        var oneGo = Job(config: config, outputPath: directory + "/\(name)-full.h5")
        oneGo.target = target
        let full = try oneGo.run().report
        var first = config
        first.iterations = 1
        var leg = Job(config: first, outputPath: directory + "/\(name).h5")
        leg.target = target
        try leg.run()
        leg.config = config
        do {
            let resumed = try leg.run(.resume).report
            XCTAssertEqual(resumed.samples, full.samples, name)
        } catch let done as RunAlreadyComplete {
            // An MCMC run's length is its budget, not iterations=: its first leg did all of it (its samples are checked below).
            XCTAssertEqual(done.unit, "sweep", name)
        }
        let root = try HDF5.read(directory + "/\(name).h5")
        let source = try XCTUnwrap(root.group("provenance")?.attribute("target_source")?.description)
        XCTAssertTrue(source.hasPrefix("swift ") && source.contains(String(describing: type(of: target))), source)
        XCTAssertThrowsError(try RunFile.restore(root, path: name + ".h5")) {
            XCTAssertTrue("\($0)".contains("RunFile.restore(_:path:target:)"), "\($0)")
        }
        let other: any Target = target.name == ring.name ? ShiftedGaussian() : ring
        XCTAssertThrowsError(try RunFile.restore(root, path: name + ".h5", target: other)) {
            XCTAssertTrue("\($0)".contains("pass the run's own target"), "\($0)")
        }
        let again = try RunFile.restore(root, path: name + ".h5", target: target)
        XCTAssertEqual(try again.evaluate().samples, full.samples, name)
        XCTAssertNotNil(full.sampleMetrics?.energyMean, name)
    }

    func testPairPotentialTrainsWithIDEMAndMCMC() throws {
        try checkEveryStep(["objective=idem", "idem_steps=10", "idem_generate=32", "idem_inner=3", "batch_size=16",
                            "idem_samples=8", "hidden=8", "idem_layers=2", "eval_paths=32", "threads=2"], target: ring, name: "idem")
        try checkEveryStep(["objective=mala", "mala_budget=640", "eval_paths=32", "log_every=1"], target: ring, name: "mala")
        try checkEveryStep(["objective=mala", "ls_kernel=hmc", "hmc_leapfrog=2", "mala_budget=640", "eval_paths=32"], target: ring, name: "hmc")
    }

    func testSwiftTargetTrainsOnPaths() throws {
        for objective in ["tb", "subtb", "pis"] {
            try checkEveryStep(["objective=" + objective, "batch_size=16", "steps=5", "hidden=8", "eval_paths=32", "threads=2"],
                               target: ShiftedGaussian(), name: objective)
        }
        // Local search and the exact sampler's metrics work as for catalog targets.
        var job = Job(config: try RunConfig.parse(["objective=tb", "local_search=true", "ls_every=2", "ls_sweeps=4", "ls_burn_in=2",
                                                   "iterations=6", "batch_size=16", "steps=5", "hidden=8", "eval_paths=32"]),
                      outputPath: directory + "/ls.h5")
        job.target = ShiftedGaussian()
        let report = try job.run().report
        XCTAssertEqual(report.logZTrue, ShiftedGaussian().logZ)
        XCTAssertNotNil(report.eubo)
        XCTAssertNotNil(report.sampleMetrics?.w2Floor)
    }
}

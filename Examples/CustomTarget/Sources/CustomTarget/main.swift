// Trains samplers on two energies defined here, through the toolkit's public API: a double well in 2-D with
// trajectory balance, and a particle system (a PairPotential, forces by automatic differentiation) with iDEM and
// with the MCMC baseline. Each run is written to a run file, trained further from it, and re-evaluated from it.
import Foundation
import Densities
import Experiments

/// E(x) = (x₀² − 1)² · 4 + x₁²/2: two wells at x₀ = ±1.
struct DoubleWell: Target {
    let name = "double-well-2d"
    let dimension = 2

    func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                  gradient: UnsafeMutablePointer<Float>?) throws {
        for r in 0..<count {
            let a = Double(x[2 * r]), b = Double(x[2 * r + 1])
            logDensity[r] = -4 * (a * a - 1) * (a * a - 1) - 0.5 * b * b
            gradient?[2 * r] = Float(-16 * a * (a * a - 1))
            gradient?[2 * r + 1] = Float(-b)
        }
    }
}

/// Four particles in the plane that prefer pair distance 2, tethered to their centre.
let ring = PairPotential(name: "ring4", particles: ParticleStructure(count: 4, spatialDimension: 2),
                         pair: { s in (s - 4) * (s - 4) / 8 }, site: { c in 0.1 * c })

let folder = CommandLine.arguments.dropFirst().first ?? "runs"
let runs: [(String, [String], any Target)] = [
    ("double-well-tb", ["objective=tb", "iterations=200", "batch_size=64", "steps=20", "hidden=32", "eval_paths=256",
                        "eval_every=100"], DoubleWell()),
    ("ring-idem", ["objective=idem", "iterations=2", "idem_steps=20", "idem_generate=64", "idem_inner=5", "batch_size=32",
                   "idem_samples=16", "hidden=16", "idem_layers=2", "eval_paths=64"], ring),
    ("ring-mala", ["objective=mala", "mala_budget=6400", "eval_paths=64"], ring),
]
for (name, settings, target) in runs {
    let path = "\(folder)/\(name).h5"
    var job = Job(config: try RunConfig.parse(settings), outputPath: path)
    job.target = target
    var (learner, report) = try job.run()
    if job.config.method.family != .mcmc {         // train it further from the file's checkpoint
        job.config.iterations *= 2
        (learner, report) = try job.run(.resume)
    }
    let again = try RunFile.restore(path: path, target: target).evaluate()
    print("\(name): \(learner.trainingSummary)")
    print(Summary.lines(report).map { "  " + $0 }.joined(separator: "\n"))
    print("  re-evaluated from \(path): same samples: \(again.samples == report.samples)")
}

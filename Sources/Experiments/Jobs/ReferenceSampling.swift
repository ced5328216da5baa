import Foundation
import Numerics
import Densities
import RunStore

/// A long, documented MCMC run (MALA or HMC) that produces a reference sample set (val/test splits) for a target without an
/// exact sampler, such as LJ55.
public struct ReferenceSampling: Sendable {
    /// Chains per population.
    public var chains = 64
    /// Independent populations, run on separate threads with separate random streams (fixed, so the result does
    /// not depend on the machine's core count).
    public var populations = 2
    /// Kernel steps per chain.
    public var sweeps = 40_000
    /// Sweeps of step-size adaptation at the start, discarded.
    public var burnIn = 20_000
    /// Keep every `thin`-th sweep after burn-in.
    public var thin = 1_000
    /// Initial step size.
    public var initialStepSize: Float = 1e-4
    /// The chains' kernel.
    public var kernel = KernelChoice.mala
    /// Seed of every stream.
    public var seed: UInt64 = 0

    /// Settings with the defaults.
    public init() {}

    /// Runs the chains on `target` and returns the file contents (`val`, `test` and their provenance).
    public func run(_ target: any Target, progress: @escaping @Sendable (Int) -> Void = { _ in }) throws -> Node {
        precondition(sweeps > burnIn && thin > 0, "ReferenceSampling: need sweeps > burn_in and thin > 0")
        let results = PopulationResults()
        let start = Date()
        DispatchQueue.concurrentPerform(iterations: populations) { p in
            results.store(p, Result { try runPopulation(p, target: target, progress: p == 0 ? progress : { _ in }) })
        }
        let outcomes = try (0..<populations).map { try results.outcome($0).get() }
        let kept = outcomes.map(\.kept), acceptance = outcomes.map(\.acceptance), steps = outcomes.map(\.stepSizes)
        let d = target.dimension
        let all = kept.flatMap { $0 }
        let rows = all.count / d
        // Alternate configurations between the splits so both see every chain and every stage of the run.
        var val: [Float] = [], test: [Float] = []
        for r in 0..<rows {
            let row = all[(r * d)..<((r + 1) * d)]
            if r % 2 == 0 { val += row } else { test += row }
        }
        var root = Node()
        let k = kernel.kernel, name = k.name.uppercased() + (k.gradientEvaluationsPerStep > 1 ? " (L = \(k.gradientEvaluationsPerStep))" : "")
        root.set("source", .string("dsampler reference: \(populations)×\(chains) \(name) chains, \(sweeps) sweeps, "
                                   + "burn-in \(burnIn) with step-size adaptation to acceptance \(k.targetAcceptance), thinning \(thin)"))
        root.set("kernel", .string(k.name))
        root.set("target", .string(target.name))
        if let particles = target.particleStructure {
            root.set("particles", .int(Int64(particles.count)))
            root.set("spatial_dim", .int(Int64(particles.spatialDimension)))
        }
        root.set("chains", .int(Int64(chains * populations)))
        root.set("sweeps", .int(Int64(sweeps)))
        root.set("burn_in", .int(Int64(burnIn)))
        root.set("thin", .int(Int64(thin)))
        root.set("seed", .int(Int64(bitPattern: seed)))
        root.set("acceptance", .double(acceptance.reduce(0, +) / Double(populations)))
        let allSteps = steps.flatMap { $0 }
        root.set("step_size_mean", .double(allSteps.reduce(0.0) { $0 + Double($1) } / Double(allSteps.count)))
        root.set("seconds", .double(Date().timeIntervalSince(start)))
        for (name, data) in [("val", val), ("test", test)] {
            let m = Matrix(rows: data.count / d, cols: d, storage: data)
            let energies = try target.logDensity(m).map { -$0 }
            let mean = energies.reduce(0, +) / Double(energies.count)
            let sd = (energies.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(energies.count)).squareRoot()
            root.put(name, .float(shape: [m.rows, d], values: data))
            root.set(name + "_energy_mean", .double(mean))
            root.set(name + "_energy_std", .double(sd))
        }
        return root
    }

    struct PopulationOutcome: Sendable {
        var kept: [Float]
        var acceptance: Double
        var stepSizes: [Float]
    }

    /// Collects each population's outcome; each thread stores only its own index.
    final class PopulationResults: @unchecked Sendable {
        private let lock = NSLock()
        private var outcomes: [Int: Result<PopulationOutcome, any Error>] = [:]
        func store(_ p: Int, _ r: Result<PopulationOutcome, any Error>) { lock.lock(); outcomes[p] = r; lock.unlock() }
        func outcome(_ p: Int) -> Result<PopulationOutcome, any Error> { lock.lock(); defer { lock.unlock() }; return outcomes[p]! }
    }

    /// One population of `chains` chains: adaptation, then sampling with thinning.
    func runPopulation(_ p: Int, target: any Target, progress: (Int) -> Void) throws -> PopulationOutcome {
        var rng = Xoshiro256(seed: seed, stream: 1 << 44, UInt64(p))
        let driver = ChainDriver(kernel: kernel.kernel, sweeps: sweeps, adaptationSweeps: burnIn, initialStepSize: initialStepSize)
        var kept: [Float] = []
        let outcome = try driver.run(from: try ChainState(target: target, positions: initialPositions(target, rng: &rng)),
                                     target: target, rng: &rng) { sweep, state, _ in
            if sweep >= burnIn && (sweep - burnIn + 1) % thin == 0 { kept += state.positions.storage }
            if sweep % 1000 == 0 { progress(sweep) }
        }
        return PopulationOutcome(kept: kept, acceptance: outcome.acceptance, stepSizes: outcome.stepSizes)
    }

    /// Starting points: particles on a cubic lattice of spacing 1.12 (near the pair minimum) with small noise;
    /// other targets at standard normal draws.
    func initialPositions(_ target: any Target, rng: inout Xoshiro256) -> Matrix {
        var x = rng.gaussianMatrix(rows: chains, cols: target.dimension)
        guard let particles = target.particleStructure else { return x }
        let side = Int(ceil(pow(Double(particles.count), 1 / Double(particles.spatialDimension))))
        for c in 0..<chains {
            for i in 0..<particles.count {
                var index = i
                for k in 0..<particles.spatialDimension {
                    x[c, i * particles.spatialDimension + k] = 1.12 * Float(index % side) + 0.05 * x[c, i * particles.spatialDimension + k]
                    index /= side
                }
            }
        }
        return x
    }
}

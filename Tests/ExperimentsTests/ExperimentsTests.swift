import XCTest
import Foundation
@testable import Experiments
import Training
@testable import RunStore
import Evaluation
import Densities
import Numerics
import TestSupport

final class ConfigTests: XCTestCase {
    func testParsesAndRejects() throws {
        let c = try RunConfig.parse(["target=funnel", "objective=vargrad", "exploration=0.1", "langevin=true", "seed=4"])
        XCTAssertEqual(c.target, "funnel")
        XCTAssertEqual(c.objective, "vargrad")
        XCTAssertEqual(c.exploration, 0.1)
        XCTAssertTrue(c.langevin)
        XCTAssertEqual(c.seed, 4)
        XCTAssertThrowsError(try RunConfig.parse(["iteratons=5"])) { error in
            XCTAssertTrue("\(error)".contains("unknown setting 'iteratons'") && "\(error)".contains("iterations"), "\(error)")
        }
        XCTAssertThrowsError(try RunConfig.parse(["target=gmm26"])) { error in
            XCTAssertTrue("\(error)".contains("gmm25") && "\(error)".contains("manywell"), "\(error)")
        }
        XCTAssertThrowsError(try RunConfig.parse(["objective=tb2"])) { XCTAssertTrue("\($0)".contains("vargrad")) }
        XCTAssertThrowsError(try RunConfig.parse(["exploration=-1"]))
        XCTAssertThrowsError(try RunConfig.parse(["langevin=maybe"]))
        XCTAssertThrowsError(try RunConfig.parse(["ema=1"])) { XCTAssertTrue("\($0)".contains("a number in (0, 1)"), "\($0)") }
        XCTAssertThrowsError(try RunConfig.parse(["ema=0.99999999"]))  // 1 in float32
        XCTAssertEqual(try RunConfig.parse(["ema=0"]).averageDecay, 0)
        // Settings of earlier versions read as today's: iDEM's plateau schedule and weight average.
        let old = try RunConfig.parse(["objective=idem", "lr_schedule=constant", "idem_lr_patience=3", "idem_lr_factor=0.5", "idem_ema=0.9"])
        XCTAssertEqual(old, try RunConfig.parse(["objective=idem", "lr_schedule=plateau", "lr_patience=3", "lr_factor=0.5", "ema=0.9"]))
        XCTAssertEqual(try RunConfig.parse(["idem_lr_patience=0"]).learningRateSchedule, .constant)
        XCTAssertThrowsError(try RunConfig.parse(["seed"])) { XCTAssertTrue("\($0)".contains("key=value")) }
        XCTAssertThrowsError(try RunConfig.parse(["lr_schedule=linear"])) { XCTAssertTrue("\($0)".contains("constant, cosine, plateau")) }
        // Every schedule applies to every method.
        XCTAssertEqual(try EnergyMatchingLearner.setup(RunConfig.parse(["target=dw4", "objective=idem", "lr_schedule=cosine"])).settings.optimizer.schedule, .cosine)
    }

    /// The cosine schedule starts at the configured rates, halves them midway and ends near zero; the trainer
    /// applies it to the network's and log Z's optimisers from the first update on.
    func testCosineLearningRateSchedule() throws {
        let cosine = LearningRateSchedule.cosine
        XCTAssertEqual(cosine.factor(iteration: 0, of: 10), 1)
        XCTAssertEqual(cosine.factor(iteration: 5, of: 10), 0.5, accuracy: 1e-7)
        XCTAssertEqual(cosine.factor(iteration: 10, of: 10), 0, accuracy: 1e-7)
        XCTAssertEqual(LearningRateSchedule.constant.factor(iteration: 7, of: 10), 1)
        let settings = ["target=gmm25", "iterations=4", "batch_size=16", "steps=5", "hidden=8", "threads=1", "lr=0.01"]
        let constant = try PathSpaceLearner(config: RunConfig.parse(settings))
        let annealed = try PathSpaceLearner(config: RunConfig.parse(settings + ["lr_schedule=cosine"]))
        // Update 1 (iteration index 0) runs at the full rates; update 2 (index 1 of 4) at 0.5·(1 + cos(π/4)) of them.
        try constant.trainer.step(); try annealed.trainer.step()
        XCTAssertEqual(annealed.trainer.network.parameters.values, constant.trainer.network.parameters.values)
        let f = Float(0.5 * (1 + cos(Double.pi / 4)))
        var expected = annealed.trainer.state.networkOptimizer
        var store = annealed.trainer.network.parameters
        try constant.trainer.step(); try annealed.trainer.step()
        XCTAssertNotEqual(annealed.trainer.network.parameters.values, constant.trainer.network.parameters.values)
        store.gradients = annealed.trainer.network.parameters.gradients
        expected.step(&store, factor: f)
        XCTAssertEqual(store.values, annealed.trainer.network.parameters.values)
        XCTAssertEqual(annealed.trainer.state.networkOptimizer.learningRate, 0.01)  // the base rate; the schedule scales it
    }

    /// The stored YAML parses back to the same configuration.
    func testYAMLRoundTrip() throws {
        let c = try RunConfig.parse(["target=manywell", "sigma2=2", "grad_clip=5"])
        let back = try RunConfig.parse(c.yaml.split(separator: "\n").map { $0.replacingOccurrences(of: ": ", with: "=") })
        XCTAssertEqual(back, c)
    }
}

final class RunJobTests: ScratchFolderTestCase {
    let tiny = ["target=gmm25", "objective=tb", "iterations=30", "batch_size=32", "steps=10", "hidden=16",
                "eval_paths=64", "log_every=10", "exploration=0.2", "threads=2"]

    /// Same seed → identical samples, weights and metrics; another seed → different samples.
    func testSameSeedSameNumbers() throws {
        let c = try RunConfig.parse(tiny)
        let a = try Job(config: c, outputPath: directory + "/a.h5").runPaths().report
        let b = try Job(config: c, outputPath: directory + "/b.h5").runPaths().report
        XCTAssertEqual(a.samples, b.samples)
        XCTAssertEqual(a.logWeights, b.logWeights)
        XCTAssertEqual(a.sampleMetrics?.w2, b.sampleMetrics?.w2)
        var other = c
        other.seed = 1
        XCTAssertNotEqual(try Job(config: other, outputPath: directory + "/c.h5").runPaths().report.samples, a.samples)
    }

    /// The run file has the documented groups and attributes, h5py reads it, and `eval` reproduces the metrics
    /// from the checkpoint alone.
    func testRunFileSchemaAndReevaluation() throws {
        let path = directory + "/run.h5"
        let (_, report) = try Job(config: try RunConfig.parse(tiny), outputPath: path).runPaths()
        let root = try HDF5.read(path)
        XCTAssertEqual(root.attribute("status"), .string("complete"))
        for group in ["config", "provenance", "train", "eval", "checkpoint"] { XCTAssertNotNil(root.group(group), group) }
        let eval = root.group("eval")!
        for key in ["elbo", "log_z_is", "ess", "log_z_true", "delta_elbo", "delta_log_z_is", "eubo", "w2", "n_eval"] {
            XCTAssertNotNil(eval.attribute(key), key)
        }
        XCTAssertEqual(eval.attribute("elbo")?.doubleValue, report.onPolicy!.meanLogWeight)
        XCTAssertEqual(root.dataset("samples")?.shape, [64, 2])
        XCTAssertEqual(root.group("train")?.dataset("loss")?.shape, [3])
        for key in ["loss", "log_z", "seconds", "energy_evals", "grad_evals", "iteration"] { XCTAssertNotNil(root.group("train")?.dataset(key), key) }

        let trainer = try XCTUnwrap(RunFile.restore(root, path: path) as? PathSpaceLearner)
        XCTAssertEqual(trainer.iteration, 30)
        XCTAssertEqual(trainer.budget, EvaluationBudget(energy: 30 * 32, gradient: 0))
        let again = try Evaluator(paths: 64, seed: trainer.config.seed).evaluate(trainer.trainer.network, sampler: trainer.evaluationSampler(), comparison: nil)
        XCTAssertEqual(again.logWeights, report.logWeights)

        let script = """
        import h5py, sys
        f = h5py.File(sys.argv[1], 'r')
        assert f.attrs['status'] == 'complete', f.attrs['status']
        s = f['samples'][()]
        assert s.shape == (64, 2) and s.dtype == 'float32'
        assert 'target: gmm25' in f['config'].attrs['yaml']
        assert f['config'].attrs['iterations'] == 30
        print(repr(float(f['eval'].attrs['elbo'])))
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script, path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "h5py could not read the run file (is python3-h5py installed? Scripts/setup)")
        let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(Double(printed.trimmingCharacters(in: .whitespacesAndNewlines))!, report.onPolicy!.meanLogWeight, accuracy: 1e-12)
    }

    /// Resuming from an intermediate checkpoint gives exactly the run that was never interrupted (with a
    /// learning-rate schedule, which must continue where it stopped).
    func testResumeMatchesUninterruptedRun() throws {
        let c = try RunConfig.parse(tiny + ["lr_schedule=cosine"])
        let full = try Job(config: c, outputPath: directory + "/full.h5").runPaths().report
        let path = directory + "/resumed.h5"
        let interrupted = try PathSpaceLearner(config: c)
        for _ in 0..<20 { try interrupted.trainer.step() }
        try HDF5.write(RunFile.node(interrupted, provenance: Provenance(seed: c.seed, threads: c.threads), status: "running"),
                       to: path)
        let resumed = try Job(config: c, outputPath: path).runPaths(.resume)
        XCTAssertEqual(resumed.trainer.iteration, 30)
        XCTAssertEqual(resumed.report.samples, full.samples)
        XCTAssertEqual(resumed.report.logWeights, full.logWeights)
        let legs = try XCTUnwrap(HDF5.read(path).group("provenance")?.attribute("earlier_legs")?.description)
        XCTAssertTrue(legs.hasSuffix(" … unfinished (killed or failed)") && legs.contains("iterations 0–20, "), legs)
    }

    /// `--resume` with `iterations` raised trains a finished run further: without iteration-dependent schedules
    /// the result is the run trained that long in one go. A new `lr` is a learning-rate step: near zero, the
    /// ten further iterations leave the short run's samples in place. Fewer iterations or any other change is refused.
    func testFinishedRunContinuesWithMoreIterations() throws {
        let short = try RunConfig.parse(tiny + ["exploration_anneal=false", "iterations=20"])
        let long = try RunConfig.parse(tiny + ["exploration_anneal=false", "iterations=30"])
        let path = directory + "/extended.h5"
        _ = try Job(config: short, outputPath: path).runPaths()
        let extended = try Job(config: long, outputPath: path).runPaths(.resume)
        XCTAssertEqual(extended.trainer.iteration, 30)
        XCTAssertEqual(extended.report.samples, try Job(config: long, outputPath: directory + "/long.h5").runPaths().report.samples)
        XCTAssertEqual(try RunFile.config(of: HDF5.read(path), path: path).iterations, 30)
        let provenance = try XCTUnwrap(HDF5.read(path).group("provenance"))
        XCTAssertEqual(provenance.attribute("start_iteration"), .int(20))
        let legs = try XCTUnwrap(provenance.attribute("earlier_legs")?.description)
        XCTAssertTrue(legs.hasPrefix("\(provenance.attribute("git_commit")!), iterations 0–20, lr 0.001, "), legs)
        var other = long
        other.seed = 5
        for refused in [short, other] {
            XCTAssertThrowsError(try Job(config: refused, outputPath: path).runPaths(.resume)) {
                XCTAssertTrue("\($0)".contains("only iterations may change") && "\($0)".contains("and these: lr, threads, eval_every)"), "\($0)")
            }
        }
        var frozen = long
        frozen.learningRate = 1e-9
        let stepped = directory + "/stepped.h5"
        let shortReport = try Job(config: short, outputPath: stepped).runPaths().report
        let frozenReport = try Job(config: frozen, outputPath: stepped).runPaths(.resume).report
        func gap(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max()! }
        XCTAssertLessThan(gap(frozenReport.samples.storage, shortReport.samples.storage), 1e-5)
        XCTAssertGreaterThan(gap(extended.report.samples.storage, shortReport.samples.storage), 1e-3)
        let steppedLegs = try XCTUnwrap(HDF5.read(stepped).group("provenance")?.attribute("earlier_legs")?.description)
        XCTAssertTrue(steppedLegs.contains("iterations 0–20, lr 0.001, "), steppedLegs)
        XCTAssertEqual(try RunFile.config(of: HDF5.read(stepped), path: stepped).learningRate, 1e-9)
    }

    /// A target that turns non-finite stops the run with an error naming the iteration and the target; the run
    /// file is still written, readable, and marked failed.
    func testNonFiniteTargetStopsRunAndKeepsFile() throws {
        struct Cliff: Target {
            let name = "cliff"
            let dimension = 2
            func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                          gradient: UnsafeMutablePointer<Float>?) {
                for r in 0..<count { logDensity[r] = abs(x[2 * r]) > 2.5 ? .nan : Double(-0.5 * x[2 * r] * x[2 * r]) }
            }
        }
        var job = Job(config: try RunConfig.parse(tiny), outputPath: directory + "/cliff.h5")
        job.target = Cliff()
        XCTAssertThrowsError(try job.run()) { error in
            XCTAssertTrue("\(error)".contains("cliff") && "\(error)".contains("iteration "), "\(error)")
        }
        let root = try HDF5.read(directory + "/cliff.h5")
        XCTAssertEqual(root.attribute("status"), .string("failed"))
        XCTAssertTrue("\(root.attribute("error")!)".contains("non-finite"))
        XCTAssertEqual(root.group("config")?.attribute("target"), .string("cliff"))
        XCTAssertNotNil(root.group("checkpoint")?.dataset("network"))
    }

    /// The shipped C example trains through `target=plugin:…` and its log Z estimate matches `dsampler_log_z`.
    func testPluginTargetTrainsToItsLogZ() throws {
        let library = try PluginBuilder.build(PluginBuilder.shippedExample, named: "gaussian_example", in: directory)
        let config = try RunConfig.parse(["target=plugin:" + library, "objective=tb", "iterations=400", "batch_size=64",
                                          "steps=20", "hidden=32", "eval_paths=1000", "threads=2"])
        let report = try Job(config: config, outputPath: directory + "/plugin.h5").runPaths().report
        XCTAssertEqual(report.logZTrue!, log(4 * Double.pi), accuracy: 1e-12)
        XCTAssertEqual(report.onPolicy!.importanceWeighted, log(4 * Double.pi), accuracy: 0.05)
        XCTAssertLessThan(report.onPolicy!.meanLogWeight, report.onPolicy!.importanceWeighted)
    }

    /// log R stays in double: the exactly solvable Gaussian plug-in (one step, σ² equal to its variance, so a
    /// drift equal to its mean makes every log weight log Z) gives the same Δlog Z_IS, ESS and ELBO gap when a
    /// constant 10⁸ is added to log R and log Z. (In float32, 10⁸ has a resolution of 8: Δlog Z_IS went from
    /// 3·10⁻⁸ to 1.40 and ESS from 1.00 to 0.30.)
    func testLargeLogDensityOffsetDoesNotChangeEstimates() throws {
        let source = """
            #include <stdint.h>
            #include <math.h>
            int32_t dsampler_dim(void) { return 2; }
            double dsampler_log_z(void) { return OFFSET + log(4 * M_PI); }
            int32_t dsampler_log_density(int64_t n, const double *x, double *lp, double *g) {
                for (int64_t r = 0; r < n; r++) {
                    double a = x[2 * r] - 1, b = x[2 * r + 1] + 2;
                    lp[r] = OFFSET - (a * a + b * b) / 4;
                    if (g) { g[2 * r] = -a / 2; g[2 * r + 1] = -b / 2; }
                }
                return 0;
            }
            """
        var results: [(delta: Double, ess: Double, gap: Double)] = []
        for offset in ["0", "1e8"] {
            let library = try PluginBuilder.build(source, named: "offset\(results.count)", in: directory, defines: ["OFFSET=" + offset])
            let config = try RunConfig.parse(["target=plugin:" + library, "objective=vargrad", "steps=1", "sigma2=2",
                                              "iterations=400", "batch_size=64", "hidden=16", "lr=1e-2", "eval_paths=2000"])
            let report = try Job(config: config, outputPath: directory + "/offset\(results.count).h5").runPaths().report
            let e = try XCTUnwrap(report.onPolicy), truth = try XCTUnwrap(report.logZTrue)
            results.append((abs(e.importanceWeighted - truth), e.effectiveSampleSize, e.importanceWeighted - e.meanLogWeight))
        }
        XCTAssertLessThan(results[0].delta, 1e-3, "the sampler should solve the Gaussian")
        XCTAssertGreaterThan(results[0].ess, 0.99)
        XCTAssertEqual(results[1].delta, results[0].delta, accuracy: 1e-6)
        XCTAssertEqual(results[1].ess, results[0].ess, accuracy: 1e-6)
        XCTAssertEqual(results[1].gap, results[0].gap, accuracy: 1e-6)
    }

    func testParticleTargetsAreRejectedWithReason() throws {
        XCTAssertThrowsError(try PathSpaceLearner(config: try RunConfig.parse(["target=lj13"]))) {
            XCTAssertTrue("\($0)".contains("centre-of-mass"), "\($0)")
        }
    }

    /// Coarse random training grids: each iteration draws a new grid of `steps` steps; evaluation uses the
    /// uniform grid of `eval_steps` steps, and both settings are stored.
    func testCoarseRandomTrainingGrid() throws {
        let c = try RunConfig.parse(tiny.filter { !$0.hasPrefix("steps=") } + ["steps=5", "grid=random", "eval_steps=25"])
        let (trainer, report) = try Job(config: c, outputPath: directory + "/coarse.h5").runPaths()
        XCTAssertEqual(trainer.trainer.sampler.process.grid.steps, 5)
        XCTAssertNotEqual(trainer.trainer.sampler.process.grid, .uniform(steps: 5))
        XCTAssertEqual(trainer.evaluationSampler().process.grid, .uniform(steps: 25))
        XCTAssertTrue(report.onPolicy!.meanLogWeight.isFinite)
        let config = try HDF5.read(directory + "/coarse.h5").group("config")!
        XCTAssertEqual(config.attribute("grid"), .string("random"))
        XCTAssertEqual(config.attribute("eval_steps"), .int(25))
        XCTAssertThrowsError(try RunConfig.parse(["grid=chebyshev"])) { XCTAssertTrue("\($0)".contains("shifted")) }
    }

    /// Local search: one buffer fills with on-policy states, the other with the states MALA accepted (each kept in
    /// decreasing reward), MALA evaluations are counted, and the run is reproducible and resumes exactly.
    func testLocalSearchTraining() throws {
        let c = try RunConfig.parse(tiny + ["local_search=true", "ls_every=10", "ls_sweeps=20", "ls_burn_in=10", "buffer_size=500"])
        let (trainer, report) = try Job(config: c, outputPath: directory + "/ls.h5").runPaths()
        let buffer = try XCTUnwrap(trainer.trainer.buffer), searched = try XCTUnwrap(trainer.trainer.localSearchBuffer)
        XCTAssertEqual(buffer.count, 15 * 32)  // on-policy iterations 0, 2, …, 28
        XCTAssertGreaterThan(searched.count, 100)  // 2 cycles × 32 chains × 10 kept sweeps × acceptance
        XCTAssertLessThanOrEqual(searched.count, 2 * 32 * 10)
        XCTAssertEqual(buffer.logRewards, buffer.logRewards.sorted(by: >))
        XCTAssertEqual(searched.logRewards, searched.logRewards.sorted(by: >))
        XCTAssertEqual(trainer.budget.gradient, 2 * 32 * 21)  // cycles at iterations 10 and 20
        let again = try Job(config: c, outputPath: directory + "/ls2.h5").runPaths().report
        XCTAssertEqual(again.samples, report.samples)
        // The buffer is part of the checkpoint, so an interrupted local-search run resumes exactly.
        let path = directory + "/ls3.h5"
        let interrupted = try PathSpaceLearner(config: c)
        for _ in 0..<15 { try interrupted.trainer.step() }
        try HDF5.write(RunFile.node(interrupted, provenance: Provenance(seed: c.seed, threads: c.threads), status: "running"),
                       to: path)
        XCTAssertEqual(try Job(config: c, outputPath: path).runPaths(.resume).report.samples, report.samples)
        XCTAssertThrowsError(try PathSpaceLearner(config: try RunConfig.parse(["objective=pis", "local_search=true"]))) {
            XCTAssertTrue("\($0)".contains("cannot be combined"), "\($0)")
        }
        XCTAssertThrowsError(try PathSpaceLearner(config: try RunConfig.parse(["objective=dis", "learned_variance=true"]))) {
            XCTAssertTrue("\($0)".contains("off-policy objective"), "\($0)")
        }
        for (settings, fix) in [(["objective=dis", "sigma2=2"], "prior_std"), (["objective=dds", "grid=random"], "grid=uniform"),
                                (["objective=fl-subtb", "reference=vp"], "reference=brownian"),
                                (["objective=dis", "noise_scale=3"], "noise_scale is not a parameter of reference=vp"),
                                (["objective=tb", "prior_std=2"], "prior_std is not a parameter of reference=brownian")] {
            XCTAssertThrowsError(try PathSpaceLearner(config: try RunConfig.parse(settings))) {
                XCTAssertTrue("\($0)".contains(fix), "\($0)")
            }
        }
    }
}

extension Job {
    /// The run of a path-space method, with its trainer.
    func runPaths(_ mode: RunOutput.Mode = .new) throws -> (trainer: PathSpaceLearner, report: EvaluationReport) {
        let (learner, report) = try run(mode)
        return (try XCTUnwrap(learner as? PathSpaceLearner), report)
    }
}

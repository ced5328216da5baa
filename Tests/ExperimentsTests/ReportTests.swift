import XCTest
import Foundation
@testable import Experiments
@testable import RunStore
import Objectives
import Numerics
import NeuralSDE

final class ReportTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "report-test-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: directory + "/nested", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// Writes a minimal run file with the given settings, status and `/eval` metrics.
    func write(_ name: String, _ settings: [String], status: String = "complete", eval: [String: Double],
               commit: String? = nil, curve: [String: [Double]] = [:]) throws {
        var root = Node()
        if let first = curve.values.first {
            var evalCurve = Node()
            evalCurve.put("iteration", .double(shape: [first.count], values: (0..<first.count).map { Double(10 * ($0 + 1)) }))
            for (k, v) in curve { evalCurve.put(k, .double(shape: [v.count], values: v)) }
            var train = Node()
            train.put("eval", evalCurve)
            root.put("train", train)
        }
        if let commit {
            var provenance = Node()
            provenance.set("git_commit", .string(commit))
            root.put("provenance", provenance)
        }
        root.set("format", .string("dsampler-run"))
        root.set("status", .string(status))
        var config = Node()
        config.set("yaml", .string(try RunConfig.parse(settings).yaml))
        root.put("config", config)
        var e = Node()
        if status == "complete" { e.set("n_eval", .int(100)) }  // a complete file has its metrics
        for (k, v) in eval.sorted(by: { $0.key < $1.key }) { e.set(k, .double(v)) }
        root.put("eval", e)
        var checkpoint = Node()
        checkpoint.set("seconds", .double(10))
        root.put("checkpoint", checkpoint)
        try HDF5.write(root, to: directory + "/" + name)
    }

    /// Rows of one target are ordered by their method with numbers compared as numbers (a coarse-grid sweep reads
    /// steps=5, 10, 20, not 10, 20, 5); the caption names the commits that trained the runs and their total time.
    func testRowsOrderNumbersNumericallyAndCaptionNamesCommits() throws {
        for (steps, commit) in [(20, "abc"), (5, nil), (10, "abc")] {
            try write("s\(steps).h5", ["target=gmm25", "objective=tb", "grid=random", "steps=\(steps)"], eval: ["w2": 1],
                      commit: commit)
        }
        let report = Report(records: try Report.records(in: directory).records)
        XCTAssertEqual(report.rows.map(\.method), ["tb steps=5 grid=random", "tb steps=10 grid=random", "tb steps=20 grid=random"])
        XCTAssertEqual(report.commits, ["abc": 2, "unknown": 1])
        XCTAssertEqual(report.trainingSeconds, 30)   // 10 s in each file's checkpoint
        XCTAssertTrue(report.caption.hasSuffix("Trained at commit abc (2 runs), unknown (1 run); 0.5 min of training in all (the runs' own wall-clock)."),
                      report.caption)
    }

    /// Two seeds of one method, one of another, one unfinished run: the group's mean ± std is recomputed by hand,
    /// the best mean is marked, published numbers appear, and the unfinished file is listed, not averaged.
    func testGroupsSeedsAndComputesMeanAndStd() throws {
        let tb = ["target=gmm25", "objective=tb", "exploration=0.2"]
        try write("a.h5", tb + ["seed=0"], eval: ["delta_elbo": 1.0, "delta_log_z_is": 0.5, "w2": 3])
        try write("nested/b.h5", tb + ["seed=1"], eval: ["delta_elbo": 2.0, "delta_log_z_is": 0.25, "w2": 5])
        try write("c.h5", ["target=gmm25", "objective=vargrad", "seed=0"], eval: ["delta_elbo": 0.7, "delta_log_z_is": 0.9, "w2": 4])
        try write("d.h5", tb + ["seed=2"], status: "running", eval: [:])
        let published = try Report.published(yaml: "gmm25:\n  tb exploration=0.2:\n    delta_log_z_is: 0.422\n")
        let report = Report(records: try Report.records(in: directory).records, published: published)
        XCTAssertEqual(report.rows.count, 2)
        let row = try XCTUnwrap(report.rows.first { $0.method == "tb exploration=0.2" })
        XCTAssertEqual(row.seeds, [0, 1])
        let elbo = try XCTUnwrap(row.cells[0]), rw = try XCTUnwrap(row.cells[1])
        XCTAssertEqual(elbo.mean, 1.5, accuracy: 1e-12)
        XCTAssertEqual(elbo.spread, (0.5 * 0.5 * 2 / 1).squareRoot(), accuracy: 1e-12)  // sample std, n − 1
        XCTAssertEqual(rw.mean, 0.375, accuracy: 1e-12)
        XCTAssertEqual(rw.spread, 0.125 * 2.squareRoot(), accuracy: 1e-12)
        XCTAssertNil(row.cells[3], "ESS is missing from the files")
        XCTAssertEqual(row.published[1], 0.422)
        let markdown = report.render("markdown")
        XCTAssertTrue(markdown.contains("**0.700**"), markdown)             // vargrad has the best Δlog Z
        XCTAssertTrue(markdown.contains("**0.375 ± 0.177** [0.422]"), markdown)
        XCTAssertTrue(markdown.contains("d.h5 (running)"), markdown)
        let sem = Report(records: try Report.records(in: directory).records, standardError: true)
        XCTAssertEqual(try XCTUnwrap(sem.rows.first { $0.method == "tb exploration=0.2" }?.cells[0]).spread, 0.5, accuracy: 1e-12)
        let csv = report.render("csv").split(separator: "\n")
        XCTAssertEqual(csv.count, 3)
        XCTAssertTrue(csv[1].hasPrefix("gmm25,\"tb exploration=0.2\",0 1,1.5,"), String(csv[1]))
        XCTAssertTrue(report.render("latex").contains("\\textbf{0.700}"))
    }

    /// `--columns`: the named metrics in order (ELBO larger-is-better), a target-wide reference (`*`) beside every method,
    /// and an unknown column refused with the choices.
    func testChosenColumnsAndTargetWideReference() throws {
        try write("a.h5", ["target=credit", "objective=pis", "seed=0"], eval: ["elbo": -510, "log_z_is": -505, "ess": 0.1])
        try write("b.h5", ["target=credit", "objective=smc", "seed=0"], eval: ["elbo": -506, "log_z_is": -504.4, "ess": 0.5])
        let columns = try ReportColumn.named("elbo,log_z_is")
        XCTAssertEqual(columns.map(\.metric), ["elbo", "log_z_is"])
        let published = try Report.published(yaml: "credit:\n  '*': {elbo: -504.49, log_z_is: -504.49}\n")
        let report = Report(records: try Report.records(in: directory).records, columns: columns, published: published)
        XCTAssertEqual(report.rows.map(\.published), [[-504.49, -504.49], [-504.49, -504.49]])
        let markdown = report.render("markdown")
        XCTAssertTrue(markdown.contains("| credit | `smc` | 1 | **-506.0** [-504.5] | **-504.4** [-504.5] |"), markdown)
        XCTAssertEqual(try ReportColumn.named("grad_evals,energy_evals").map(\.heading), ["∇ evals", "log R evals"])
        XCTAssertThrowsError(try ReportColumn.named("elbo,w3")) { XCTAssertTrue("\($0)".contains("unknown report column 'w3'"), "\($0)") }
        for (yaml, message) in [("credit: {'*': {w3: 1}}\n", "unknown metric 'w3'"), ("credit: {'*': {elbo: abc}}\n", "not a finite number"),
                                ("credit: {'*': {elbo: .nan}}\n", "not a finite number")] {
            XCTAssertThrowsError(try Report.published(yaml: yaml)) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
        for bad in ["", "elbo,elbo"] {
            XCTAssertThrowsError(try ReportColumn.named(bad)) { XCTAssertTrue("\($0)".contains("distinct metric names"), "\($0)") }
        }
    }

    /// `--best`: each run contributes the best 5-point moving average of its eval_every curve (the largest for ESS,
    /// the smallest for Δlog Z), the mean over seeds is taken of those, and a run without a curve keeps its final value.
    func testBestOverTrainingUsesFivePointMovingAverages() throws {
        let tb = ["target=gmm25", "objective=tb"]
        try write("a.h5", tb + ["seed=0"], eval: ["ess": 0.1, "delta_elbo": 3],
                  curve: ["ess": [0.1, 0.5, 0.6, 0.7, 0.8, 0.9, 0.2], "delta_elbo": [5, 1, 1, 1, 1, 1, 9]])
        try write("b.h5", tb + ["seed=1"], eval: ["ess": 0.4, "delta_elbo": 2], curve: ["ess": [0.3, 0.5], "delta_elbo": [4, 2]])
        try write("c.h5", tb + ["seed=2"], eval: ["ess": 0.6, "delta_elbo": 1])
        let records = try Report.records(in: directory).records
        let best = Report(records: records, bestOverTraining: true), final = Report(records: records)
        let essColumn = try XCTUnwrap(best.columns.firstIndex { $0.metric == "ess" })
        let elboColumn = try XCTUnwrap(best.columns.firstIndex { $0.metric == "delta_elbo" })
        // a: windows of ESS (0.1…0.8) 0.54, (0.5…0.9) 0.70, (0.6…0.2) 0.64 → 0.70; Δlog Z 1.8, 1.0, 2.6 → 1.0.
        // b: fewer than five points, one window: ESS 0.4, Δlog Z 3. c: no curve, final values 0.6 and 1.
        XCTAssertEqual(try XCTUnwrap(best.rows[0].cells[essColumn]).mean, (0.7 + 0.4 + 0.6) / 3, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(best.rows[0].cells[elboColumn]).mean, (1.0 + 3 + 1) / 3, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(final.rows[0].cells[essColumn]).mean, (0.1 + 0.4 + 0.6) / 3, accuracy: 1e-12)
        XCTAssertTrue(best.caption.hasPrefix("Best over training of each run's 5-point moving average"), best.caption)
    }

    /// The committed Table-1 reproduction: the report's manywell TB + expl + LP + LS row is the mean and sample
    /// std of Δlog Z^RW read from its three run files one by one.
    func testTable1RowMatchesItsRunFiles() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/Results/runs/table1"
        let files = try FileManager.default.contentsOfDirectory(atPath: root)
            .filter { $0.hasPrefix("manywell-tb-5d53f763-seed") }.sorted()
        XCTAssertEqual(files.count, 3)
        let values = try files.map { try XCTUnwrap(HDF5.read(root + "/" + $0).group("eval")?.attribute("delta_log_z_is")?.doubleValue) }
        let mean = values.reduce(0, +) / 3
        let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 2).squareRoot()
        let report = Report(records: try Report.records(in: root).records)
        let row = try XCTUnwrap(report.rows.first {
            $0.target == "manywell" && $0.method == "tb iterations=10000 exploration=0.2 langevin=true local_search=true"
        })
        XCTAssertEqual(row.seeds, [0, 1, 2])
        let cell = try XCTUnwrap(row.cells[1])
        XCTAssertEqual(cell.mean, mean, accuracy: 1e-12)
        XCTAssertEqual(cell.spread, std, accuracy: 1e-12)
        XCTAssertEqual(mean, 0.160, accuracy: 0.0005)  // as Results/table1.md prints it
    }

    /// Files that are not run files (another program's HDF5, a truncated file, a FIFO) are skipped and listed with
    /// the reason; the table of the good runs is still printed; a missing folder is an error.
    func testSkipsAndListsUnreadableFiles() throws {
        try write("a.h5", ["target=gmm25", "objective=tb"], eval: ["w2": 1])
        try write("b.h5", ["target=gmm25", "objective=vargrad"], eval: ["w2": 2])
        var root = Node()
        root.set("something", .int(1))
        try HDF5.write(root, to: directory + "/foreign.h5")
        XCTAssertTrue(FileManager.default.createFile(atPath: directory + "/torn.h5", contents: Data("\u{89}HDF\r\n".utf8)))
        XCTAssertEqual(mkfifo(directory + "/pipe.h5", 0o644), 0)
        let (records, unreadable) = try Report.records(in: directory)
        XCTAssertEqual(Set(unreadable.map { ($0.path as NSString).lastPathComponent }), ["foreign.h5", "torn.h5", "pipe.h5"])
        XCTAssertTrue(unreadable.first { $0.path.hasSuffix("foreign.h5") }!.reason.contains("not a dsampler run file"))
        var report = Report(records: records)
        report.unreadable = unreadable
        XCTAssertEqual(report.rows.count, 2, "the good runs are still tabulated")
        XCTAssertTrue(report.render("markdown").contains("Skipped (not readable run files): "))
        XCTAssertThrowsError(try Report.records(in: directory + "/missing")) { XCTAssertTrue("\($0)".contains("is not a folder"), "\($0)") }
    }

    /// The LaTeX table puts math in math mode and escapes the special characters of names.
    func testLatexIsEscaped() throws {
        try write("a.h5", ["target=gmm25", "objective=tb"], eval: ["w2": 1])
        var report = Report(records: try Report.records(in: directory).records)
        XCTAssertEqual(report.rows.count, 1)
        guard !report.rows.isEmpty else { return }
        report.rows[0].method = "tb x_y=50% a&b #1 ~^{}$"
        let latex = report.render("latex")
        XCTAssertTrue(latex.contains("$\\Delta\\log Z^{\\mathrm{RW}}$"), latex)
        XCTAssertTrue(latex.contains("tb x\\_y=50\\% a\\&b \\#1 \\~{}\\^{}\\{\\}\\$"), latex)
        XCTAssertFalse(latex.contains("Δ"), latex)
    }
}

final class EnergyMatchingJobTests: XCTestCase {
    let tiny = ["target=dw4", "objective=idem", "iterations=2", "idem_steps=20", "idem_generate=50", "idem_inner=3",
                "batch_size=16", "idem_samples=20", "hidden=8", "idem_layers=2", "eval_paths=40", "idem_lr_patience=1",
                "idem_ema=0.9"]

    /// A tiny iDEM run on DW4 takes the target's defaults, writes the particle metrics and histograms, is
    /// re-evaluated from its file exactly, and a finished one-epoch run continued for a second epoch ends with the
    /// same samples as the uninterrupted two-epoch run.
    func testWritesParticleMetricsAndResumesExactly() throws {
        let directory = NSTemporaryDirectory() + "idem-test-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try RunConfig.parse(tiny)
        let settings = try EnergyMatchingLearner.setup(config).settings
        XCTAssertEqual(settings.schedule, GeometricNoiseSchedule(sigmaMin: 1e-5, sigmaMax: 3))  // Targets/dw4.yaml
        XCTAssertEqual(settings.estimator.maxNorm, 20)
        XCTAssertEqual(settings.optimizer.gradientClip, 0.5)
        let (_, report) = try Job(config: config, outputPath: directory + "/a.h5").run()
        let root = try HDF5.read(directory + "/a.h5")
        XCTAssertEqual(root.attribute("status"), .string("complete"))
        let eval = try XCTUnwrap(root.group("eval"))
        for key in ["w2", "energy_w2", "distance_w2", "distance_tv"] {
            XCTAssertNotNil(eval.attribute(key)?.doubleValue, key)
        }
        XCTAssertEqual(eval.group("distance_histogram")?.dataset("model")?.shape, [100])
        XCTAssertEqual(root.dataset("samples")?.shape, [40, 8])
        let checkpointed = try XCTUnwrap(root.group("checkpoint"))
        XCTAssertEqual(checkpointed.dataset("network_average")?.shape, checkpointed.dataset("network")?.shape)
        // Re-evaluating the file's checkpoint (what `dsampler eval` does) gives the stored numbers; more
        // reverse-SDE steps give other samples.
        let again = try RunFile.restore(root, path: directory + "/a.h5").evaluate()
        XCTAssertEqual(again.sampleMetrics?.w2, try XCTUnwrap(eval.attribute("w2")?.doubleValue))
        var finer = config
        finer.evaluation.steps = 2 * config.idem.integrationSteps
        let refined = try RunFile.restore(root, path: "", config: finer).evaluate()
        XCTAssertNotEqual(refined.samples, report.samples)
        // A checkpoint of another network version is refused, not loaded into this one.
        var old = root
        var checkpoint = try XCTUnwrap(old.group("checkpoint"))
        checkpoint.set("network_architecture", .string("egnn-v1"))
        old.put("checkpoint", checkpoint)
        XCTAssertThrowsError(try RunFile.restore(old, path: "old.h5")) { error in
            XCTAssertTrue("\(error)".contains("egnn-v1"), "\(error)")
        }
        // A finished one-epoch run, continued to two epochs (`--resume` with iterations raised): iDEM's schedule
        // does not depend on the epoch count, so this is the uninterrupted two-epoch run.
        var first = try RunConfig.parse(tiny)
        first.iterations = 1
        _ = try Job(config: first, outputPath: directory + "/b.h5").run()
        let resumed = try Job(config: config, outputPath: directory + "/b.h5").run(.resume).report
        XCTAssertEqual(resumed.samples, report.samples)
        let provenance = try XCTUnwrap(HDF5.read(directory + "/b.h5").group("provenance"))
        XCTAssertEqual(provenance.attribute("start_iteration"), .int(1))
        XCTAssertTrue(provenance.attribute("earlier_legs")?.description.contains("iterations 0–1, ") == true)
        // A learning-rate step on resume replaces the rate carried in the checkpoint.
        var stepped = config
        (stepped.iterations, stepped.learningRate) = (3, 2e-4)
        let third = try XCTUnwrap(Job(config: stepped, outputPath: directory + "/b.h5").run(.resume).learner as? EnergyMatchingLearner)
        XCTAssertEqual(third.trainer.learningRate, 2e-4)
        let legs = try XCTUnwrap(HDF5.read(directory + "/b.h5").group("provenance")?.attribute("earlier_legs")?.description)
        XCTAssertTrue(legs.contains(String(format: "iterations 1–2, lr %g, idem_score_clip 20, idem_steps 20, idem_generate 50, ",
                                           config.learningRate)), legs)  // the value used (dw4's default)
        // How the buffer is refilled (and refined), the score clip and the threads may change on resume too; the new leg uses them.
        var refill = stepped
        (refill.iterations, refill.idem.integrationSteps, refill.idem.samplesPerEpoch, refill.idem.scoreClip) = (4, 40, 30, 35)
        (refill.threads, refill.idem.refinementSweeps, refill.idem.conditionalTargets) = (config.threads + 1, 3, true)
        let fourth = try XCTUnwrap(Job(config: refill, outputPath: directory + "/b.h5").run(.resume).learner as? EnergyMatchingLearner).trainer
        XCTAssertEqual(fourth.settings.integrationSteps, 40)
        XCTAssertEqual(fourth.settings.samplesPerEpoch, 30)
        XCTAssertEqual(fourth.settings.estimator.maxNorm, 35)
        XCTAssertEqual(fourth.settings.refinementSweeps, 3)
        XCTAssertTrue(fourth.settings.estimator.conditional)
        XCTAssertNotNil(fourth.refinementAcceptance)
        let refilled = try HDF5.read(directory + "/b.h5")
        XCTAssertEqual(try RunFile.config(of: refilled, path: "b.h5").idem.integrationSteps, 40)
        let allLegs = try XCTUnwrap(refilled.group("provenance")?.attribute("earlier_legs")?.description)
        XCTAssertTrue(allLegs.contains("iterations 2–3, lr 0.0002, idem_score_clip 20, idem_steps 20, idem_generate 50, "
                                       + "idem_buffer_mala 0, idem_target mc, threads \(config.threads), eval_every 0, "), allLegs)
        XCTAssertEqual(refilled.group("provenance")?.attribute("threads"), .int(Int64(config.threads + 1)))
        // Other iDEM settings still may not change.
        var rebuffered = refill
        (rebuffered.iterations, rebuffered.idem.bufferCapacity) = (5, 7)
        XCTAssertThrowsError(try Job(config: rebuffered, outputPath: directory + "/b.h5").run(.resume)) {
            XCTAssertTrue("\($0)".contains("was written with other settings (idem_buffer: 10000 → 7)"), "\($0)")
        }
    }

    /// `idem_coord_range` sets the EGNN's coordinate bound (and so its architecture name, which a checkpoint must
    /// match); a bound that is not positive is refused with the key's name.
    func testCoordinateRangeReachesTheEGNN() throws {
        let config = try RunConfig.parse(tiny + ["idem_coord_range=40"])
        let network = try EnergyMatchingLearner(config: config).trainer.network
        XCTAssertEqual((network as? EGNN)?.coordinateRange, 40)
        XCTAssertEqual(network.architecture, "egnn-v2 range=40.0")
        XCTAssertEqual(try EnergyMatchingLearner(config: RunConfig.parse(tiny)).trainer.network.architecture, "egnn-v2 range=15.0")
        XCTAssertThrowsError(try RunConfig.parse(tiny + ["idem_coord_range=0"])) {
            XCTAssertTrue("\($0)".contains("idem_coord_range"), "\($0)")
        }
    }

    /// Exact gmm40 samples scored as a model's sit at the exact-sample floor: their W₂ to the comparison set is
    /// within a quarter of the W₂ between two other exact sets of the same size.
    func testExactSamplesScoreAtTheFloor() throws {
        let config = try RunConfig.parse(["target=gmm40", "objective=idem", "eval_paths=400"])
        let target = try EnergyMatchingLearner.setup(config).original
        var rng = Xoshiro256(seed: 9)
        let samples = try XCTUnwrap(target.exactSamples(count: 400, rng: &rng))
        let report = try XCTUnwrap(Comparison.report(samples: samples, target: target, comparison: Comparison.set(for: target, config: config, catalog: true)).sampleMetrics)
        let floor = try XCTUnwrap(report.w2Floor)
        XCTAssertGreaterThan(floor, 0)
        XCTAssertEqual(try XCTUnwrap(report.w2), floor, accuracy: 0.25 * floor)
    }

    /// The matched-budget MALA baseline spends exactly its budget, and on DW4 a modest budget already brings the
    /// energy distribution close to the reference (energy-W2 well under 1). Stopped halfway and resumed, it ends
    /// where the uninterrupted run ends.
    func testMatchedBudgetMALA() throws {
        let path = NSTemporaryDirectory() + "mala-test-\(ProcessInfo.processInfo.processIdentifier).h5"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try RunConfig.parse(["target=dw4", "objective=mala", "eval_paths=400", "mala_budget=200000"])
        let (learner, report) = try Job(config: config, outputPath: path).run()
        let chains = try XCTUnwrap(learner as? MCMCBaseline)
        XCTAssertEqual(chains.chains.acceptance, 0.574, accuracy: 0.1)
        let particles = try XCTUnwrap(report.sampleMetrics?.particles)
        XCTAssertLessThan(particles.energyW2, 1)
        let root = try HDF5.read(path)
        XCTAssertEqual(root.group("checkpoint")?.attribute("grad_evals"), .int(200_000))  // exactly the budget: 400 × (1 + 499)
        XCTAssertEqual(root.group("eval")?.attribute("energy_w2")?.doubleValue ?? -1, particles.energyW2, accuracy: 1e-12)
        // Halfway: the chains' checkpoint, then the rest.
        let half = try MCMCBaseline(config: config)
        for _ in 0..<(half.totalIterations / 2) { _ = try half.advance() }
        try HDF5.write(RunFile.node(half, provenance: Provenance(seed: 0, threads: 1), status: "interrupted"), to: path + ".half.h5")
        defer { try? FileManager.default.removeItem(atPath: path + ".half.h5") }
        let resumed = try Job(config: config, outputPath: path + ".half.h5").run(.resume).report
        XCTAssertEqual(resumed.samples, report.samples)
    }
}

final class PosteriorTrainingTests: XCTestCase {
    /// MLE trains a prior from exact samples; RTB starts its policy at that prior, and mismatched networks or missing
    /// settings are refused with what to change.
    func testRTBStartsFromTheMLEPrior() throws {
        let path = NSTemporaryDirectory() + "prior-test-\(ProcessInfo.processInfo.processIdentifier).h5"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let small = ["iterations=3", "batch_size=16", "steps=8", "hidden=8", "eval_paths=20"]
        let prior = try XCTUnwrap(Job(config: try RunConfig.parse(["target=gmm25", "objective=mle"] + small), outputPath: path).run().learner as? PathSpaceLearner)
        let posterior = try PathSpaceLearner(config: try RunConfig.parse(["target=gmm9-weighted", "objective=rtb", "prior=" + path,
                                                                 "reward=rtb-toy"] + small))
        XCTAssertEqual(posterior.trainer.network.parameters.values, prior.trainer.network.parameters.values)
        XCTAssertEqual(posterior.trainer.target.name, "rtb-toy")
        XCTAssertEqual(posterior.evaluationTarget.name, "gmm9-weighted")
        let out = try posterior.trainer.step()
        XCTAssertTrue(out.loss.isFinite)
        XCTAssertThrowsError(try PathSpaceLearner(config: try RunConfig.parse(["objective=rtb", "reward=rtb-toy"]))) {
            XCTAssertTrue("\($0)".contains("prior=RUN.h5"), "\($0)")
        }
        XCTAssertThrowsError(try PathSpaceLearner(config: try RunConfig.parse(["target=gmm9-weighted", "objective=rtb", "prior=" + path,
                                                                      "reward=rtb-toy", "hidden=16"]))) {
            XCTAssertTrue("\($0)".contains("hidden"), "\($0)")
        }
    }
}

final class PlotDataTests: XCTestCase {
    /// The 2-D views are the normalised first-pair densities: a 2-D manywell, the 2-D funnel, the target itself
    /// in 2-D, none for particles; the grid holds log R at (x[j], y[i]) in row i.
    func testViewsAndGrid() throws {
        XCTAssertEqual(PlotData.view(of: try TargetCatalog.resolve("manywell"))?.dimension, 2)
        XCTAssertEqual(PlotData.view(of: try TargetCatalog.resolve("funnel"))?.dimension, 2)
        XCTAssertNil(PlotData.view(of: try TargetCatalog.resolve("dw4")))
        let gmm = try TargetCatalog.resolve("gmm9")
        let node = try PlotData.grid(try XCTUnwrap(PlotData.view(of: gmm)), lo: -8, hi: 8, points: 5)
        let logR = try XCTUnwrap(node.dataset("log_density")?.doubles)
        let axis = try XCTUnwrap(node.dataset("x")?.doubles)
        XCTAssertEqual(axis, [-8, -4, 0, 4, 8])
        let expected = try gmm.logDensity(Matrix(rows: 1, cols: 2, storage: [4, -8]))[0]  // x = axis[3], y = axis[0]
        XCTAssertEqual(logR[0 * 5 + 3], expected, accuracy: 1e-5)
    }
}

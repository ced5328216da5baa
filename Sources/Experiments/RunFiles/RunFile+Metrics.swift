import Foundation
import RunStore
import Evaluation

/// The `/eval` and `/train` layout: one list of named metrics for every method, and the curves.
extension RunFile {
    /// One named number of `/eval`.
    public struct Metric: Sendable, Equatable {
        /// Attribute name, e.g. `elbo`, `w2`.
        public var name: String
        /// Its value.
        public var value: Double
        /// Whether it is a count (stored as an integer).
        public var isCount = false
    }

    /// Every number an evaluation measured, named as in `/eval`, in a fixed order. This is the one place that
    /// names metrics: run files, `eval_every` curves, the live log, reports and summaries read these names.
    public static func metrics(_ r: EvaluationReport) -> [Metric] {
        var m = [Metric(name: "n_eval", value: Double(r.samples.rows), isCount: true)]
        if let e = r.onPolicy {
            m += [Metric(name: "elbo", value: e.meanLogWeight), Metric(name: "log_z_is", value: e.importanceWeighted),
                  Metric(name: "ess", value: e.effectiveSampleSize)]
        }
        if let truth = r.logZTrue {
            m.append(Metric(name: "log_z_true", value: truth))
            if let e = r.onPolicy {
                m += [Metric(name: "delta_elbo", value: abs(e.meanLogWeight - truth)),
                      Metric(name: "delta_log_z_is", value: abs(e.importanceWeighted - truth))]
            }
        }
        if let eubo = r.eubo { m.append(Metric(name: "eubo", value: eubo)) }
        if let s = r.sampleMetrics {
            if let e = s.energyMean { m.append(Metric(name: "energy_mean", value: e)) }
            if let w2 = s.w2 { m.append(Metric(name: "w2", value: w2)) }
            if let floor = s.w2Floor { m.append(Metric(name: "w2_floor", value: floor)) }
            if let sd = s.sinkhorn { m += [Metric(name: "sinkhorn", value: sd.value), Metric(name: "sinkhorn_bound", value: sd.bound)] }
            if let mmd = s.mmd { m.append(Metric(name: "mmd", value: mmd)) }
            if let q = s.pqmass { m += [Metric(name: "pqmass_chi2", value: q.chiSquared), Metric(name: "pqmass_p", value: q.pValue)] }
            if let p = s.particles {
                m += [Metric(name: "energy_w2", value: p.energyW2), Metric(name: "distance_w2", value: p.distanceW2),
                      Metric(name: "distance_tv", value: p.distanceTV),
                      Metric(name: "non_finite_energies", value: Double(p.nonFiniteEnergies), isCount: true)]
            }
            if let c = s.coverage {
                m += [Metric(name: "modes_covered", value: Double(c.covered), isCount: true),
                      Metric(name: "modes_effective", value: c.effectiveModes), Metric(name: "emc", value: c.entropicCoverage)]
                if let kl = c.weightKL { m.append(Metric(name: "mode_weight_kl", value: kl)) }
            }
        }
        return m
    }

    /// `metrics(r)` by name.
    public static func numbers(_ r: EvaluationReport) -> [String: Double] {
        Dictionary(metrics(r).map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    /// `/eval`: the metrics as attributes, what W₂ and the particle metrics compared with, and the arrays behind
    /// them (mode fractions, energy and distance histograms).
    static func evalNode(_ r: EvaluationReport) -> Node {
        var n = Node()
        for m in metrics(r) { n.set(m.name, m.isCount ? .int(Int64(m.value)) : .double(m.value)) }
        guard let s = r.sampleMetrics, let comparison = s.comparison else { return n }
        let used = min(r.samples.rows, Wasserstein.evaluationSamples)
        n.set("w2_reference", .string("first \(used) model samples vs \(comparison); " + SampleMetrics.w2Definition))
        if let c = s.coverage { n.put("mode_fractions", .double(shape: [c.fractions.count], values: c.fractions)) }
        if let p = s.particles {
            n.set("particle_metrics", .string("1-D W2 by quantile matching, not squared; TV of 100-bin histograms; against "
                                              + comparison))
            for (name, h) in [("energy_histogram", p.energyHistogram), ("distance_histogram", p.distanceHistogram)] {
                var g = Node()
                g.put("edges", .double(shape: [h.edges.count], values: h.edges))
                g.put("model", .double(shape: [h.model.count], values: h.model))
                g.put("reference", .double(shape: [h.reference.count], values: h.reference))
                n.put(name, g)
            }
        }
        return n
    }

    /// A curve as columns: `iteration`, one column per logged value (sorted by name; NaN where a point lacks it),
    /// `seconds`, `energy_evals`, `grad_evals`.
    static func curveNode(_ points: [TrainingPoint]) -> Node {
        var n = Node()
        n.put("iteration", .int64(shape: [points.count], values: points.map { Int64($0.iteration) }))
        for key in Set(points.flatMap(\.values.keys)).sorted() {
            n.put(key, .double(shape: [points.count], values: points.map { $0.values[key] ?? .nan }))
        }
        n.put("seconds", .double(shape: [points.count], values: points.map(\.seconds)))
        n.put("energy_evals", .int64(shape: [points.count], values: points.map { Int64($0.budget.energy) }))
        n.put("grad_evals", .int64(shape: [points.count], values: points.map { Int64($0.budget.gradient) }))
        return n
    }
}

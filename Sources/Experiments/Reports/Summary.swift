import Foundation
import Evaluation

/// Human-readable lines for a finished evaluation: the same printer for every method.
public enum Summary {
    /// One metric per line, with the sample counts behind them.
    public static func lines(_ r: EvaluationReport) -> [String] {
        var out: [String] = []
        if let e = r.onPolicy {
            out.append(String(format: "elbo      %.4f   (K = %d on-policy paths)", e.meanLogWeight, e.count))
            out.append(String(format: "log_z_is  %.4f", e.importanceWeighted))
            out.append(String(format: "ess       %.4f", e.effectiveSampleSize))
            if let t = r.logZTrue {
                out.append(String(format: "log_z     %.4f (known); delta_elbo %.4f, delta_log_z_is %.4f",
                                  t, abs(e.meanLogWeight - t), abs(e.importanceWeighted - t)))
            }
        }
        if let eubo = r.eubo { out.append(String(format: "eubo      %.4f   (bridge paths from %d exact samples)", eubo, r.samples.rows)) }
        guard let s = r.sampleMetrics else { return out }
        if let e = s.energyMean { out.append(String(format: "energy_mean %.4f   (mean −log R of the samples)", e)) }
        guard let w2 = s.w2, let comparison = s.comparison else { return out }
        let n = min(r.samples.rows, Wasserstein.evaluationSamples)
        out.append(String(format: "w2        %.4f   (%d model samples vs %@; %@)", w2, n, comparison, SampleMetrics.w2Definition))
        if let floor = s.w2Floor {
            out.append(String(format: "w2_floor  %.4f   (between two independent exact sets of that size)", floor))
        }
        if let sd = s.sinkhorn {
            out.append(String(format: "sinkhorn  %.4f ± %.1e   (debiased, eps %g, squared-Euclidean cost; certified bracket after %d iteration%@)",
                              sd.value, sd.bound, SinkhornDivergence.epsilon, sd.iterations, sd.iterations == 1 ? "" : "s"))
        }
        if let mmd = s.mmd { out.append(String(format: "mmd       %.4f   (Gaussian kernel, median-heuristic bandwidth)", mmd)) }
        if let q = s.pqmass {
            out.append(String(format: "pqmass    chi2 %.1f (%d regions: about %d when both sets share a law), p %.3f (mean over %d tessellations)",
                              q.chiSquared, q.regions, q.regions - 1, q.pValue, q.statistics.count))
        }
        if let p = s.particles {
            out.append(String(format: "energy_w2 %.4f   distance_w2 %.4f   distance_tv %.4f   (%d non-finite energies)",
                              p.energyW2, p.distanceW2, p.distanceTV, p.nonFiniteEnergies))
        }
        if let c = s.coverage {
            out.append(String(format: "modes     %d of %d covered (>= %.0f%% of a fair share); effective %.2f; EMC %.4f",
                              c.covered, c.fractions.count, ModeCoverage.threshold * 100, c.effectiveModes, c.entropicCoverage))
            if let kl = c.weightKL {
                out.append(String(format: "mode_weight_kl %.4f   (KL from the target's mode weights to the sampled fractions)", kl))
            }
        }
        return out
    }
}

import Foundation
import Evaluation

/// Human-readable lines for a finished evaluation.
public enum Summary {
    /// One metric per line, with the sample counts behind them.
    public static func lines(_ r: EvaluationReport, trainer: Trainer) -> [String] {
        let e = r.onPolicy
        var out = [String(format: "trained %d iterations in %.1f s (%ld energy and %ld gradient evaluations)",
                          trainer.iteration, trainer.seconds, trainer.budget.energy, trainer.budget.gradient)]
        out.append(String(format: "elbo      %.4f   (K = %d on-policy paths)", e.meanLogWeight, e.count))
        out.append(String(format: "log_z_is  %.4f", e.importanceWeighted))
        out.append(String(format: "ess       %.4f", e.effectiveSampleSize))
        if let t = r.logZTrue {
            out.append(String(format: "log_z     %.4f (known); delta_elbo %.4f, delta_log_z_is %.4f",
                              t, abs(e.meanLogWeight - t), abs(e.importanceWeighted - t)))
        }
        if let eubo = r.eubo { out.append(String(format: "eubo      %.4f   (bridge paths from %d exact samples)", eubo, e.count)) }
        if let w2 = r.w2 {
            let n = min(e.count, Wasserstein.evaluationSamples)
            out.append(String(format: "w2        %.4f   (exact OT, %d model vs %d exact samples)", w2, n, n))
        }
        if let c = r.coverage {
            out.append(String(format: "modes     %d of %d covered (>= %.0f%% of a fair share); effective %.2f",
                              c.covered, c.fractions.count, ModeCoverage.threshold * 100, c.effectiveModes))
            if let kl = c.weightKL {
                out.append(String(format: "mode_weight_kl %.4f   (KL from the target's mode weights to the sampled fractions)", kl))
            }
        }
        return out
    }

    /// The metrics of a sample-scored run (iDEM, MALA): W₂ and, where they apply, particle metrics and modes.
    public static func lines(_ r: EnergyMatchingReport) -> [String] {
        var out = [String(format: "w2        %.4f   (exact OT, %@)", r.w2, r.reference)]
        if let floor = r.w2Floor {
            out.append(String(format: "w2_floor  %.4f   (between two independent exact sets of that size)", floor))
        }
        if let p = r.particles {
            out.append(String(format: "energy_w2 %.4f   distance_w2 %.4f   distance_tv %.4f   (%d non-finite energies)",
                              p.energyW2, p.distanceW2, p.distanceTV, p.nonFiniteEnergies))
        }
        if let c = r.coverage { out.append("modes     \(c.covered) of \(c.fractions.count) covered") }
        return out
    }
}

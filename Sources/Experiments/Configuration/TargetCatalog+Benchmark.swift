import Foundation
import Densities

/// The target kinds of the Beyond-ELBOs benchmark (Blessing et al. 2024) and its successors (SCLD, Underdamped
/// Diffusion Bridges): Bayesian logistic regressions on data files, the seeds and Brownian-motion models, the
/// Student-t mixture and the symmetric quartic wells. Their specs are in `Targets/`; the facts behind them in the
/// comments of each spec.
extension TargetSpec {
    /// Keys of each benchmark kind (beside the common ones).
    static let benchmarkKindKeys: [String: Set<String>] = [
        "logistic-regression": ["data_file", "preprocessing", "positive_label", "flipped_likelihood", "prior_std"],
        "random-effects-binomial": ["successes", "trials", "x1", "x2"],
        "brownian-missing": ["observations"],
        "student-t-mixture": ["locations_file", "dof"],
        "quartic-wells": ["dimension", "wells", "delta"],
    ]

    func makeBenchmarkTask(sigma2: Float) throws -> any Target {
        switch kind {
        case "logistic-regression":
            let rows = try table("data_file")
            guard rows[0].count >= 2 else { throw SpecError(file: file, problem: "data_file needs feature columns and a label column") }
            guard let mode = (fields["preprocessing"] as? String).flatMap(LogisticRegression.Preprocessing.init(rawValue:)) else {
                throw SpecError(file: file, problem: "'preprocessing' must be scale (divide by the std) or standardise (centre and divide)")
            }
            guard let positive = fields["positive_label"].flatMap(Self.number) else {
                throw SpecError(file: file, problem: "needs 'positive_label': the label value that means y = 1")
            }
            let labels = rows.map { $0.last! == positive ? 1.0 : 0.0 }
            guard labels.contains(1), labels.contains(0) else {
                throw SpecError(file: file, problem: "positive_label \(positive) must split the labels into two classes")
            }
            guard fields["flipped_likelihood"] == nil || fields["flipped_likelihood"] is Bool else {
                throw SpecError(file: file, problem: "'flipped_likelihood' must be true or false")
            }
            return LogisticRegression(name: name, features: rows.map { Array($0.dropLast()) }, labels: labels, preprocessing: mode,
                                      flipped: fields["flipped_likelihood"] as? Bool ?? false,
                                      priorStd: fields["prior_std"] == nil ? nil : try double("prior_std"), defaultSigma2: sigma2)
        case "random-effects-binomial":
            let (r, n, x1, x2) = (try numbers("successes"), try numbers("trials"), try numbers("x1"), try numbers("x2"))
            guard n.count == r.count, x1.count == r.count, x2.count == r.count else {
                throw SpecError(file: file, problem: "successes, trials, x1 and x2 must have one entry per group each")
            }
            guard zip(r, n).allSatisfy({ $0 >= 0 && $0 <= $1 && $0 == $0.rounded() && $1 == $1.rounded() }) else {
                throw SpecError(file: file, problem: "successes and trials must be integers with 0 ≤ successes ≤ trials")
            }
            return RandomEffectsBinomial(name: name, successes: r, trials: n, x1: x1, x2: x2, defaultSigma2: sigma2)
        case "brownian-missing":
            guard let list = fields["observations"] as? [Any], !list.isEmpty else {
                throw SpecError(file: file, problem: "'observations' must be a list of numbers, with null where missing")
            }
            let values: [Double?] = list.map { $0 is NSNull ? nil : Self.number($0) }
            guard zip(list, values).allSatisfy({ $0.0 is NSNull || ($0.1.map { abs($0) <= 1e6 } ?? false) }) else {
                throw SpecError(file: file, problem: "'observations' must hold numbers within ±10⁶, or null where missing")
            }
            return BrownianMotion(name: name, observations: values, defaultSigma2: sigma2)
        case "student-t-mixture":
            let locations = try table("locations_file").map { $0.map(Float.init) }
            let dof = try double("dof")
            // Beyond 10⁶ the normaliser's log-gamma difference loses its digits (and the law is Gaussian anyway);
            // below 0.1 the samples overflow float.
            guard dof >= 0.1 && dof <= 1e6 else { throw SpecError(file: file, problem: "'dof' must be from 0.1 to 10⁶, got \(dof)") }
            return StudentTMixture(name: name, locations: locations, degreesOfFreedom: dof, defaultSigma2: sigma2)
        default:  // quartic-wells
            let d = try integer("dimension"), m = try integer("wells")
            guard m <= d else { throw SpecError(file: file, problem: "'wells' (\(m)) must be at most 'dimension' (\(d))") }
            let delta = try double("delta")
            // Wider offsets make wells narrower than the quadrature of log Z and the exact sampler's envelope resolve.
            guard delta <= 100 else { throw SpecError(file: file, problem: "'delta' must be at most 100 (wells at ±√δ), got \(delta)") }
            return QuarticWells(name: name, dimension: d, wells: m, delta: delta, defaultSigma2: sigma2)
        }
    }
}

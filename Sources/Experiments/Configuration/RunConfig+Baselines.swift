import Densities

/// Settings of the training-free annealing baselines (`objective=smc`, `objective=ais`): the geometric path from
/// N(0, anneal_std²·I) to the target, `anneal_steps` temperatures, one HMC move of `hmc_leapfrog` leapfrog steps per
/// temperature with step `anneal_step` at β = 0 and `anneal_step_mid` from β = ½ on (the Beyond-ELBOs SMC, whose
/// per-task values are in BENCHMARK-TASKS.md §2.4), `eval_paths` particles.
public struct AnnealingSettings: Sendable, Equatable {
    /// Temperatures K (`anneal_steps`).
    public var temperatures = 128
    /// Standard deviation of the initial Gaussian (`anneal_std`); nil: √σ² of the target's spec (`sde_sigma2`, the
    /// scale its samplers start from).
    public var initialStd: Float?
    /// HMC step size at β = 0 (`anneal_step`) and from β = ½ on (`anneal_step_mid`; nil: the same).
    public var stepStart: Float = 0.1, stepMiddle: Float?
    /// Normalised ESS below which SMC resamples (`smc_ess`).
    public var resamplingThreshold: Float = 0.3
    /// The β schedule (`anneal_schedule`): `linear` (β_k = k/K) or `adaptive` (conditional ESS `anneal_cess`, at most
    /// K temperatures).
    public var schedule = "linear"
    /// Conditional ESS the adaptive schedule keeps (`anneal_cess`).
    public var conditionalESS: Float = 0.99
    /// Whether the HMC step size adapts toward acceptance 0.65 between temperatures (`anneal_adapt_step`).
    public var adaptStepSize = false
    /// HMC moves per temperature (`anneal_moves`).
    public var moves = 1
    /// How HMC is preconditioned (`anneal_precondition`: false, true = diagonal, full).
    public var preconditioning = HMCPreconditioning.none
}

extension RunConfig {
    /// The baselines' keys (annealing and MFVI; listed after the others).
    static let baselineKeys: [Key] = [
        Key(name: "anneal_steps", help: "objective=smc/ais: temperatures K of the geometric path (β_k = k/K)",
            set: { c, v in c.annealing.temperatures = try integer("anneal_steps", v, min: 1, max: 1_000_000) },
            get: { "\($0.annealing.temperatures)" }),
        Key(name: "anneal_std", help: "objective=smc/ais: standard deviation of the initial Gaussian N(0, s²I), from 10⁻⁶ "
                + "to 10⁶ (default: √sde_sigma2 of the target)",
            set: { c, v in c.annealing.initialStd = v == "default" ? nil : try bounded("anneal_std", v, min: 1e-6, max: 1e6) },
            get: { $0.annealing.initialStd.map { "\($0)" } ?? "default" }),
        Key(name: "anneal_step", help: "objective=smc/ais: HMC step size at β = 0, up to 100 (linear up to anneal_step_mid at β = 0.5)",
            set: { c, v in c.annealing.stepStart = try bounded("anneal_step", v, max: 100) }, get: { "\($0.annealing.stepStart)" }),
        Key(name: "anneal_step_mid", help: "objective=smc/ais: HMC step size from β = 0.5 on, up to 100 (default: anneal_step)",
            set: { c, v in c.annealing.stepMiddle = v == "default" ? nil : try bounded("anneal_step_mid", v, max: 100) },
            get: { $0.annealing.stepMiddle.map { "\($0)" } ?? "default" }),
        Key(name: "smc_ess", help: "objective=smc: normalised ESS below which particles are resampled (systematic)",
            set: { c, v in c.annealing.resamplingThreshold = try fraction("smc_ess", v) }, get: { "\($0.annealing.resamplingThreshold)" }),
        Key(name: "anneal_schedule", help: "objective=smc/ais: linear (β_k = k/K, the benchmark's) or adaptive (next β keeps the "
                + "conditional ESS at anneal_cess; anneal_steps bounds the temperatures, the last jumps to β = 1)",
            set: { c, v in c.annealing.schedule = try choice("anneal_schedule", v, ["linear", "adaptive"]) }, get: { $0.annealing.schedule }),
        Key(name: "anneal_cess", help: "objective=smc/ais with anneal_schedule=adaptive: conditional ESS kept between temperatures",
            set: { c, v in c.annealing.conditionalESS = try fraction("anneal_cess", v) }, get: { "\($0.annealing.conditionalESS)" }),
        Key(name: "anneal_adapt_step", help: "objective=smc/ais: adapt the HMC step size toward acceptance 0.65 between temperatures "
                + "(starting from anneal_step) instead of the fixed anneal_step → anneal_step_mid schedule",
            set: { c, v in c.annealing.adaptStepSize = try boolean("anneal_adapt_step", v) }, get: { "\($0.annealing.adaptStepSize)" }),
        Key(name: "anneal_moves", help: "objective=smc/ais: HMC moves (of hmc_leapfrog leapfrog steps) per temperature",
            set: { c, v in c.annealing.moves = try integer("anneal_moves", v, min: 1, max: 10_000) }, get: { "\($0.annealing.moves)" }),
        Key(name: "anneal_precondition", help: "objective=smc/ais: HMC in coordinates scaled at each temperature by the particles' "
                + "weighted standard deviations (true: a diagonal mass matrix) or by the Cholesky factor of their weighted covariance "
                + "(full: a full one), each half of the particles by the other half's; anneal_step is then relative to that spread",
            set: { c, v in
                let value = try choice("anneal_precondition", v, ["false", "true", "full"])
                c.annealing.preconditioning = value == "full" ? .full : value == "true" ? .diagonal : .none
            },
            get: { c in c.annealing.preconditioning == .full ? "full" : c.annealing.preconditioning == .diagonal ? "true" : "false" }),
        Key(name: "mfvi_std", help: "objective=mfvi: standard deviation of the initial Gaussian N(0, s²I) (lr, iterations, batch_size as usual)",
            set: { c, v in c.mfviStd = try positive("mfvi_std", v) }, get: { "\($0.mfviStd)" }),
    ]
}

extension RunConfig {
    /// A finite number in (0, max], or in [min, max] with `min` (below it, 1/s² overflows float32 in the moves).
    static func bounded(_ key: String, _ v: String, min: Float? = nil, max: Float) throws -> Float {
        let x = try positive(key, v)
        guard x <= max, x >= min ?? 0 else {
            throw ConfigError.badValue(key: key, value: v, expected: min.map { "a finite number from \($0) to \(max)" }
                                                                        ?? "a finite number > 0 and at most \(max)")
        }
        return x
    }
}

import Foundation
import Training
import Densities
import Numerics

// The error the key table in RunConfig.swift throws, and its value parsers.

/// A rejected setting, with the fix in the message.
public enum ConfigError: Error, CustomStringConvertible, Equatable {
    case notAssignment(String)
    case unknownKey(String, valid: [String])
    case badValue(key: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .notAssignment(let s): return "setting '\(s)' is not of the form key=value"
        case .unknownKey(let k, let valid): return "unknown setting '\(k)'; valid settings: \(valid.joined(separator: ", "))"
        case .badValue(let k, let v, let e): return "bad value '\(v)' for \(k): expected \(e)"
        }
    }
}

extension RunConfig {
    /// The method `objective=` names.
    public var method: Method { Method.named(objective) }

    /// The MCMC kernel of local search, iDEM's buffer refinement and the baseline (`ls_kernel`, `hmc_leapfrog`).
    public var mcmcKernel: KernelChoice { KernelChoice(name: lsKernel, leapfrogSteps: hmcLeapfrog) }

    /// Local search's settings, resolved once (used when `local_search=true`).
    public var localSearchSettings: LocalSearchSettings {
        LocalSearchSettings(every: lsEvery, sweeps: lsSweeps, burnIn: lsBurnIn, stepSize: lsStep, kernel: mcmcKernel,
                                   bufferSize: bufferSize, rankWeight: Double(rankWeight))
    }

    /// The network's optimiser: rate, clip, schedule over `iterations` (iDEM: epochs), plateau rule and weight average.
    public var optimizerSettings: OptimizerSettings {
        var o = OptimizerSettings()
        (o.learningRate, o.gradientClip, o.averageDecay) = (learningRate, gradClip, averageDecay)
        (o.schedule, o.iterations) = (learningRateSchedule, iterations)
        (o.plateauPatience, o.plateauFactor) = (lrPatience, lrFactor)
        return o
    }

    /// Path-space training's settings, resolved once: method, sampler, network, optimiser, loss and local search.
    public var pathSpaceSettings: PathSpaceSettings {
        var s = PathSpaceSettings(method: method)
        (s.batchSize, s.steps, s.grid, s.sigma2, s.reference) = (batchSize, steps, grid, sigma2, reference)
        (s.exploration, s.explorationAnneal) = (exploration, explorationAnneal)
        (s.hidden, s.langevin, s.learnedVariance) = (hidden, langevin, learnedVariance)
        (s.optimizer, s.logZLearningRate, s.flowLearningRate) = (optimizerSettings, logZLearningRate, flowLearningRate)
        (s.objective, s.localSearch, s.plateauEpoch) = (objectiveSettings, localSearch ? localSearchSettings : nil, logEvery)
        (s.seed, s.threads, s.teacherAlpha) = (seed, threads, teacher ? Double(teacherAlpha) : nil)
        return s
    }

    /// The settings the method's loss is built from, resolved once.
    public var objectiveSettings: ObjectiveSettings {
        ObjectiveSettings(subtbLambda: Double(subtbLambda), beta: Double(beta), threads: threads)
    }

    /// A file path made absolute against the working directory (and standardised), so that a run file's `/config`
    /// names the same file from any directory (`eval`, `plot`, `--resume`). Paths are stored as given when absolute.
    static func absolutePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// A `target=` value with its plug-in or spec path made absolute; catalog names unchanged.
    static func absoluteTarget(_ v: String) -> String {
        if v.hasPrefix("plugin:") { return "plugin:" + absolutePath(String(v.dropFirst("plugin:".count))) }
        if let (file, function) = TargetCatalog.pythonFunction(v) { return "python:" + absolutePath(file) + ":" + function }
        return v.hasSuffix(".yaml") ? absolutePath(v) : v
    }

    static func choice(_ key: String, _ v: String, _ options: [String]) throws -> String {
        guard options.contains(v) else {
            throw ConfigError.badValue(key: key, value: v, expected: "one of " + options.joined(separator: ", "))
        }
        return v
    }

    /// An integer in [min, max]. Every count has an upper limit, so that no product of sizes overflows or asks for
    /// absurd memory; the sizes that multiply with the target's dimension are checked again when the job is built.
    static func integer(_ key: String, _ v: String, min: Int, max: Int) throws -> Int {
        guard let x = Int(v), x >= min, x <= max else {
            throw ConfigError.badValue(key: key, value: v, expected: "an integer from \(min) to \(max)")
        }
        return x
    }

    /// A number written in decimal (digits, sign, point, exponent): `Float("0x10")` would read hexadecimal as 16.
    static func decimal(_ v: String) -> Float? { isDecimalLiteral(v) ? Float(v) : nil }

    /// Whether `v` holds only digits, signs, a point and exponent letters (no hexadecimal, nan or inf spellings).
    static func isDecimalLiteral<S: StringProtocol>(_ v: S) -> Bool { v.allSatisfy { "0123456789+-.eE".contains($0) } }

    static func nonNegative(_ key: String, _ v: String) throws -> Float {
        guard let x = decimal(v), x.isFinite, x >= 0 else { throw ConfigError.badValue(key: key, value: v, expected: "a finite number ≥ 0") }
        return x
    }

    static func positive(_ key: String, _ v: String) throws -> Float {
        guard let x = decimal(v), x.isFinite, x > 0 else { throw ConfigError.badValue(key: key, value: v, expected: "a finite number > 0") }
        return x
    }

    static func fraction(_ key: String, _ v: String) throws -> Float {
        guard let x = decimal(v), x > 0, x < 1 else {
            throw ConfigError.badValue(key: key, value: v, expected: "a number strictly between 0 and 1 (and below 1 in float32)")
        }
        return x
    }

    /// A decay β of a moving average: 0 (none) or a number in (0, 1) that float32 keeps below 1.
    static func decay(_ v: String) throws -> Float {
        guard let x = decimal(v), x >= 0, x < 1 else {
            throw ConfigError.badValue(key: "ema", value: v, expected: "0 (no average) or a number in (0, 1) below 1 in float32, e.g. 0.999")
        }
        return x
    }

    static func boolean(_ key: String, _ v: String) throws -> Bool {
        switch v.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ConfigError.badValue(key: key, value: v, expected: "true or false")
        }
    }
}

import Foundation
import Densities
import PythonBridge

/// A target whose log density is a batched Python function (NumPy, or PyTorch/JAX on CPU behind NumPy arrays),
/// called through an embedded CPython (`target=python:FILE.py:FUNC`, or a spec with `kind: python`).
///
/// `FUNC(x)` receives an n × d float64 NumPy array and returns log R, shape (n,), float64, or a tuple
/// `(log_r, grad)` with grad n × d; a module function `FUNC_grad(x)` returning grad is used when FUNC gives only
/// values. Module constants `DIMENSION` (required without a spec's `dimension`) and `LOG_Z` (optional) describe the
/// target. Calls are serialised (a lock per function: a function that releases the GIL inside, as NumPy's BLAS does,
/// would otherwise interleave with another thread's call), each holds the GIL for its duration and releases it after,
/// so the toolkit's other threads keep running; the module's stdout and stderr are flushed after every call (the
/// interpreter is never finalised, so nothing else would flush them). Values come back in double precision;
/// gradients are rounded to float like every target's.
///
/// Errors name the file and function: a missing file, function or NumPy, an import error or a Python exception
/// (type, message, innermost frames), a result of the wrong type, dtype or shape (or a masked array), NaN or ±∞
/// values, |log R| > 10³⁰, and a function that returns (log_r, grad) while the module also defines FUNC_grad.
/// Interruption stays the toolkit's (`signal.signal` for SIGINT/SIGTERM is ignored; handlers installed otherwise at
/// import are put back), and printing to a closed pipe is not an error.
public struct PythonTarget: Target {
    public let name: String
    public let dimension: Int
    public let defaultSigma2: Float
    public let logZ: Double?
    /// The file (absolute) and function.
    public let path: String, function: String
    /// Whether FUNC returns (log_r, grad) or the module defines FUNC_grad, found by one call at load time.
    public let providesGradient: Bool
    private let handle: Handle

    /// The loaded function; Python keeps it alive for the process (the interpreter is never finalised). Calls go
    /// through `lock`: the GIL alone does not serialise them, since a function that releases it (NumPy's BLAS, I/O,
    /// PyTorch) lets another thread's call run through the same module state.
    private final class Handle: @unchecked Sendable {
        let pointer: OpaquePointer
        let lock = NSLock()
        init(_ pointer: OpaquePointer) { self.pointer = pointer }
    }

    /// Loads `function` from `path`. The spec's `dimension`, `logZ` and `sigma2`, when given, override (and must agree
    /// with) the module's `DIMENSION` and `LOG_Z`. One call at x = 0 (one point) checks the result's form and finds
    /// whether gradients are provided.
    /// - Throws: `PythonTargetError` naming the problem and the fix.
    public init(path: String, function: String, dimension expected: Int? = nil, logZ spec: Double? = nil, sigma2: Float = 1) throws {
        let label = "\(path):\(function)"
        func fail(_ problem: String) -> PythonTargetError { PythonTargetError(target: label, problem: problem) }
        var error: UnsafeMutablePointer<CChar>?
        guard let pointer = dsp_python_load(path, function, &error) else { throw fail(Self.take(error)) }
        handle = Handle(pointer)
        func constant(_ key: String) throws -> Double? {
            var value = 0.0
            switch dsp_python_constant(pointer, key, &value, &error) {
            case 1: return value
            case 0: return nil
            default: throw fail(Self.take(error))
            }
        }
        let declared = try constant("DIMENSION")
        if let declared, declared != declared.rounded() || declared < 1 || declared > 100_000 {  // a spec's bound too
            let shown = declared == declared.rounded() && abs(declared) < 1e15 ? String(Int(declared)) : "\(declared)"
            throw fail("DIMENSION = \(shown) must be a whole number from 1 to 100000")
        }
        if let declared, let expected, Int(declared) != expected {
            throw fail("the module's DIMENSION = \(Int(declared)) but the spec declares dimension \(expected)")
        }
        guard let d = expected ?? declared.map({ Int($0) }) else {
            throw fail("the dimension is unknown: define DIMENSION = d in the module, or write a spec with kind: python and dimension")
        }
        let moduleLogZ = try constant("LOG_Z")
        if let z = spec ?? moduleLogZ, !z.isFinite { throw fail("LOG_Z = \(z) must be finite (leave it out when unknown)") }
        (self.path, self.function, name, dimension, defaultSigma2) = (path, function, "python:" + label, d, sigma2)
        if let spec, let moduleLogZ, spec != moduleLogZ {
            throw fail("the module's LOG_Z = \(moduleLogZ) but the spec declares log_z \(spec); keep one")
        }
        logZ = spec ?? moduleLogZ
        var probe = [Double](repeating: 0, count: 1), gradient = [Float](repeating: 0, count: d)
        let x = [Float](repeating: 0, count: d)
        switch dsp_python_call(pointer, 1, Int64(d), x, &probe, &gradient, &error) {
        case 0: providesGradient = true
        case 1: providesGradient = false
        default: throw fail("while checking it on one point (x = 0): " + Self.take(error))
        }
    }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) throws {
        if count == 0 { return }
        var error: UnsafeMutablePointer<CChar>?
        handle.lock.lock()
        let status = dsp_python_call(handle.pointer, Int64(count), Int64(dimension), x, logDensity, gradient, &error)
        handle.lock.unlock()
        let label = "\(path):\(function)"
        switch status {
        case 0: break
        case 1:
            throw PythonTargetError(target: label, problem: "returns only log R, but this run needs ∇log R: return (log_r, grad) "
                                    + "or define \(function)_grad(x)")
        default: throw PythonTargetError(target: label, problem: Self.take(error))
        }
        // One pass: `!(|v| ≤ bound)` is true for NaN, ±∞ and sentinels alike; the message tells them apart.
        if let bad = (0..<count).first(where: { !(abs(logDensity[$0]) <= Self.logDensityBound) }) {
            let value = logDensity[bad]
            throw PythonTargetError(target: label, problem: "returned log_r = \(value) at row \(bad) of \(count)" + (value.isFinite
                ? ", beyond ±10³⁰: a sentinel for zero density cannot be trained on (the losses overflow)"
                : " (x = \((0..<dimension).map { x[bad * dimension + $0] })); log R must be finite")
                + "; outside the support, return a finite penalty that grows with the distance to it, e.g. −10⁴·distance²")
        }
        if let gradient, let bad = (0..<(count * dimension)).first(where: { !gradient[$0].isFinite }) {
            throw PythonTargetError(target: label, problem: "returned a gradient of \(gradient[bad]) at row \(bad / dimension) "
                                    + "of \(count); it must be finite (and within float range)")
        }
    }

    /// Largest |log R| accepted: beyond it a value is a stand-in for −∞ (e.g. −1e300 for "zero density"), on which
    /// every loss overflows; the run would stop later as a divergence with advice that does not apply.
    static let logDensityBound = 1e30

    /// The bridge's message, freed.
    private static func take(_ error: UnsafeMutablePointer<CChar>?) -> String {
        guard let error else { return "failed without a message" }
        defer { free(error) }
        return String(cString: error)
    }
}

/// A Python target could not be loaded or called, with `FILE.py:FUNC` and the problem.
public struct PythonTargetError: Error, CustomStringConvertible {
    /// `FILE.py:FUNC`.
    public let target: String
    /// What is wrong and how to fix it.
    public let problem: String
    public var description: String { "python target \(target): \(problem)" }
}

import Foundation

/// A target implemented in a shared library with a small C ABI, loaded at run time:
///
///     int32_t dsampler_dim(void);
///     int32_t dsampler_log_density(int64_t n, const double *x, double *log_p, double *grad);
///     double  dsampler_log_z(void);   /* optional; NaN when unknown */
///     int32_t dsampler_thread_safe(void);   /* optional; 1 = dsampler_log_density is re-entrant */
///
/// `x` is n×d row-major, `grad` is n×d and NULL when only values are needed; a return value of 0 means
/// success. Values cross the boundary in double precision, and log_p stays in double (see `Target`).
///
/// Concurrency: the toolkit evaluates targets from several threads at once (`threads ≥ 2`). A library is
/// assumed *not* re-entrant (a static scratch buffer is correct C when called serially), so its calls are
/// serialised with a lock, unless it exports `dsampler_thread_safe` returning 1.
public struct PluginTarget: Target {
    public let name: String
    public let dimension: Int
    public let defaultSigma2: Float
    public let logZ: Double?
    /// The library path as given.
    public let path: String
    /// Whether the library declared itself re-entrant (`dsampler_thread_safe() == 1`); otherwise calls are serialised.
    public var isThreadSafe: Bool { library.lock == nil }
    private let library: Library

    private typealias DimFunction = @convention(c) () -> Int32
    private typealias LogDensityFunction = @convention(c) (Int64, UnsafePointer<Double>?, UnsafeMutablePointer<Double>?,
                                                             UnsafeMutablePointer<Double>?) -> Int32
    private typealias LogZFunction = @convention(c) () -> Double

    /// The open library and its entry points; immutable after loading, so safe to share between threads. Calls
    /// of a library that is not declared re-entrant go through `lock`.
    private final class Library: @unchecked Sendable {
        let handle: UnsafeMutableRawPointer
        let logDensity: LogDensityFunction
        let lock: NSLock?
        init(handle: UnsafeMutableRawPointer, logDensity: LogDensityFunction, threadSafe: Bool) {
            self.handle = handle
            self.logDensity = logDensity
            lock = threadSafe ? nil : NSLock()
        }
        deinit { dlclose(handle) }

        func call(_ n: Int64, _ x: UnsafePointer<Double>?, _ logP: UnsafeMutablePointer<Double>?,
                  _ grad: UnsafeMutablePointer<Double>?) -> Int32 {
            lock?.lock()
            defer { lock?.unlock() }
            return logDensity(n, x, logP, grad)
        }
    }

    /// Loads the library at `path`; `sigma2` is the default SDE noise (1 unless the spec says otherwise) and
    /// `expectedDimension`, when given, must match `dsampler_dim()`.
    public init(path: String, sigma2: Float = 1, expectedDimension: Int? = nil) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw PluginError(path: path, problem: "no such file; build the library first (see the README's plug-in section)")
        }
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw PluginError(path: path, problem: "cannot be loaded: \(String(cString: dlerror()))")
        }
        func symbol<T>(_ name: String, as type: T.Type) -> T? {
            dlsym(handle, name).map { unsafeBitCast($0, to: type) }
        }
        guard let dim = symbol("dsampler_dim", as: DimFunction.self) else {
            dlclose(handle)
            throw PluginError(path: path, problem: "missing symbol dsampler_dim (declare it extern \"C\" and export it)")
        }
        guard let logDensity = symbol("dsampler_log_density", as: LogDensityFunction.self) else {
            dlclose(handle)
            throw PluginError(path: path, problem: "missing symbol dsampler_log_density (declare it extern \"C\" and export it)")
        }
        let d = Int(dim())
        guard d > 0 else {
            dlclose(handle)
            throw PluginError(path: path, problem: "dsampler_dim() returned \(d); the dimension must be positive")
        }
        if let expectedDimension, expectedDimension != d {
            dlclose(handle)
            throw PluginError(path: path, problem: "dsampler_dim() returned \(d) but the spec declares dimension \(expectedDimension)")
        }
        let z = symbol("dsampler_log_z", as: LogZFunction.self).map { $0() }
        if let z, z.isInfinite {
            dlclose(handle)
            throw PluginError(path: path, problem: "dsampler_log_z() returned \(z); return the finite log Z, or NAN when it is unknown")
        }
        let threadSafe = symbol("dsampler_thread_safe", as: DimFunction.self).map { $0() }
        if let threadSafe, threadSafe != 0 && threadSafe != 1 {
            dlclose(handle)
            throw PluginError(path: path, problem: "dsampler_thread_safe() returned \(threadSafe); return 1 (re-entrant) or 0")
        }
        self.path = path
        name = "plugin:" + path
        dimension = d
        defaultSigma2 = sigma2
        logZ = z.flatMap { $0.isNaN ? nil : $0 }
        library = Library(handle: handle, logDensity: logDensity, threadSafe: threadSafe == 1)
    }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) throws {
        let d = dimension
        let xs = (0..<(count * d)).map { Double(x[$0]) }
        var values = [Double](repeating: 0, count: count)
        var grads = [Double](repeating: 0, count: gradient == nil ? 0 : count * d)
        let status = xs.withUnsafeBufferPointer { xp in
            values.withUnsafeMutableBufferPointer { vp in
                grads.withUnsafeMutableBufferPointer { gp in
                    library.call(Int64(count), xp.baseAddress, vp.baseAddress, gradient == nil ? nil : gp.baseAddress)
                }
            }
        }
        guard status == 0 else {
            throw PluginError(path: path, problem: "dsampler_log_density returned \(status) for a batch of \(count) points")
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw PluginError(path: path, problem: "dsampler_log_density gave log_p = \(values[bad]) at row \(bad)")
        }
        if let bad = grads.firstIndex(where: { !$0.isFinite }) {
            throw PluginError(path: path, problem: "dsampler_log_density gave a gradient of \(grads[bad]) at row \(bad / d)")
        }
        for r in 0..<count { logDensity[r] = values[r] }
        if let gradient { for k in 0..<(count * d) { gradient[k] = Float(grads[k]) } }
    }
}

/// A plug-in library could not be used, with the library and the problem.
public struct PluginError: Error, CustomStringConvertible {
    /// The library path.
    public let path: String
    /// What is wrong and how to fix it.
    public let problem: String
    public var description: String { "plug-in \(path): \(problem)" }
}

/// The built-in targets by name.
public enum TargetRegistry {
    /// One line of the target listing.
    public struct Entry: Sendable {
        /// Canonical name.
        public let name: String
        /// What it is, in a few words.
        public let summary: String
        /// Builds the target.
        public let make: @Sendable () -> any Target
    }

    /// All built-in targets, in listing order.
    public static let entries: [Entry] = [
        Entry(name: "gmm9", summary: "9 Gaussians on the grid {-5,0,5}², cov 0.3·I") {
            GaussianMixture.grid(name: "gmm9", coordinates: [-5, 0, 5], variance: 0.3, sigma2: 5)
        },
        Entry(name: "gmm25", summary: "25 Gaussians on the grid {-10,-5,0,5,10}², cov 0.3·I") {
            GaussianMixture.grid(name: "gmm25", coordinates: [-10, -5, 0, 5, 10], variance: 0.3, sigma2: 5)
        },
        // σ² ≈ the mixture's per-coordinate variance (442 and 623), so Brownian motion reaches every mode.
        Entry(name: "gmm40", summary: "40 Gaussians of FAB/iDEM, std softplus(1)") {
            GaussianMixture(name: "gmm40", means: GaussianMixture.fortyModeMeans, componentStd: GaussianMixture.fortyModeStd,
                            defaultSigma2: 500)
        },
        Entry(name: "funnel", summary: "Neal's funnel, d=10, x₀ ~ N(0, 3²)") { Funnel() },
        Entry(name: "funnel-easy", summary: "the σ₀ = 1 variant of older code, d=10") { Funnel(name: "funnel-easy", neckStd: 1) },
        Entry(name: "manywell", summary: "16 double-well pairs, d=32 (manywell-D: D/2 pairs, D even)") { ManyWell() },
        // Particle systems: σ² ≈ the centred coordinate variance of the reference samples (3.3 for DW4, 0.46 for LJ13).
        Entry(name: "dw4", summary: "4 particles in 2-D, pairwise double well") { DoubleWellParticles() },
        Entry(name: "lj13", summary: "13 Lennard-Jones particles in 3-D, ordered-pair sum") { LennardJones(name: "lj13", count: 13) },
        Entry(name: "lj55", summary: "55 Lennard-Jones particles in 3-D, ordered-pair sum") { LennardJones(name: "lj55", count: 55) },
    ]

    /// The names, in listing order.
    public static var names: [String] { entries.map(\.name) }

    /// The target called `name`, or nil. `manywell-D` (D even) is a ManyWell of dimension D.
    public static func make(_ name: String) -> (any Target)? {
        if let entry = entries.first(where: { $0.name == name }) { return entry.make() }
        if name.hasPrefix("manywell-"), let d = Int(name.dropFirst("manywell-".count)), d > 0, d % 2 == 0 {
            return ManyWell(name: name, dimension: d)
        }
        return nil
    }

    /// The target called `name`: a built-in, `manywell-D`, or `plugin:PATH` (a shared library with the C ABI of
    /// `PluginTarget`). Unknown names are rejected with the list of valid ones.
    public static func resolve(_ name: String) throws -> any Target {
        if name.hasPrefix("plugin:") { return try PluginTarget(path: String(name.dropFirst("plugin:".count))) }
        guard let target = make(name) else { throw UnknownTargetError(name: name) }
        return target
    }

    /// Whether `name` has the form of a target name (`resolve` may still fail to load a plug-in).
    public static func isValidName(_ name: String) -> Bool {
        make(name) != nil || (name.hasPrefix("plugin:") && name.count > "plugin:".count)
    }
}

/// A target name that is neither built in nor a plug-in.
public struct UnknownTargetError: Error, CustomStringConvertible {
    /// The name given.
    public let name: String
    public var description: String {
        "unknown target '\(name)'; valid targets: \(TargetRegistry.names.joined(separator: ", ")), manywell-D (D even), plugin:PATH.so"
    }
}

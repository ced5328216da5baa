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
        Entry(name: "funnel", summary: "Neal's funnel, d=10, x₀ ~ N(0, 3²)") { Funnel() },
        Entry(name: "manywell", summary: "16 double-well pairs, d=32") { ManyWell() },
    ]

    /// The names, in listing order.
    public static var names: [String] { entries.map(\.name) }

    /// The target called `name`, or nil.
    public static func make(_ name: String) -> (any Target)? { entries.first { $0.name == name }?.make() }
}

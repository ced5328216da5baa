/// A target name that is neither in the catalog, nor `manywell-D`, nor a plug-in.
public struct UnknownTargetError: Error, CustomStringConvertible {
    /// The name given.
    public let name: String
    /// The names that would have worked.
    public let known: [String]

    /// An error for `name`, listing `known`.
    public init(name: String, known: [String]) {
        self.name = name
        self.known = known
    }

    public var description: String {
        "unknown target '\(name)'; valid targets: \(known.joined(separator: ", ")), manywell-D (D even), "
            + "plugin:PATH.so, or a spec file PATH.yaml"
    }
}

import Foundation
import Yams

/// YAML from users (target specs, sweep specs, published-number files), read with limits: at most 1 MiB of text
/// and 100 000 nodes after aliases are expanded, so an alias bomb ("billion laughs": each anchor repeating the
/// previous one ten times) is an error at load instead of exhausting memory.
enum SafeYAML {
    /// Largest accepted text, in bytes.
    static let maxBytes = 1 << 20
    /// Largest accepted tree, in nodes with aliases expanded.
    static let maxNodes = 100_000

    /// The document as Swift values (mappings, lists, scalars), like `Yams.load`.
    /// - Throws: `YAMLInputError` naming `source` when a limit is passed; Yams's parse errors otherwise.
    static func load(_ text: String, source: String) throws -> Any? {
        guard text.utf8.count <= maxBytes else {
            throw YAMLInputError(message: "\(source) is \(text.utf8.count) bytes; YAML inputs are limited to \(maxBytes) bytes")
        }
        let composed: Node?
        do { composed = try Yams.compose(yaml: text) } catch {
            throw YAMLInputError(message: "\(source) is not valid YAML: \(error)")
        }
        guard let node = composed else { return nil }
        var budget = maxNodes
        func count(_ n: Node) -> Bool {  // false once the budget is spent (stops an exponential walk early)
            budget -= 1
            guard budget >= 0 else { return false }
            switch n {
            case .mapping(let m): return m.allSatisfy { count($0.key) && count($0.value) }
            case .sequence(let s): return s.allSatisfy(count)
            default: return true
            }
        }
        guard count(node) else {
            throw YAMLInputError(message: "\(source) expands to more than \(maxNodes) YAML nodes (nested aliases?); write the values out")
        }
        return node.any
    }
}

/// A YAML input that is malformed or over the size limits, naming the input.
struct YAMLInputError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

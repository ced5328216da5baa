import Foundation
import Numerics
import Training
import RunStore

/// A run file's `/checkpoint` and `/train` read with every value checked, so that a file edited by hand, written
/// by another tool or damaged where no checksum covers it gives the normal run-file error instead of a trap:
/// counters are whole numbers in 0...`maxCount`, arrays have the length the configuration implies and finite
/// values, and the curves' columns have equal lengths.
public struct CheckpointFields {
    /// The group read.
    public let node: Node
    /// The file it came from (for messages).
    public let path: String
    /// Largest counter accepted (iterations, evaluations, Adam steps): 2⁵³, where doubles stop being exact.
    public static let maxCount = 1 << 53

    /// The group `name` of `root`.
    public init(_ root: Node, group name: String = "checkpoint", path: String) throws {
        guard let node = root.group(name) else { throw RunFileError(message: "\(path) has no /\(name) to restore") }
        self.node = node
        self.path = path
    }

    /// The error for a checkpoint whose `what` is wrong.
    public func damaged(_ what: String) -> RunFileError {
        RunFileError(message: "\(path): /checkpoint \(what); the file is damaged or was not written by dsampler")
    }

    /// A counter attribute (0 when absent), a whole number from 0 to `limit`.
    public func count(_ key: String, limit: Int = maxCount) throws -> Int {
        guard let value = node.attribute(key)?.doubleValue else { return 0 }
        guard value.isFinite, value >= 0, value <= Double(limit), value == value.rounded() else {
            throw damaged("\(key) = \(value) is not a count from 0 to \(limit)")
        }
        return Int(value)
    }

    /// A number attribute, finite (or `fallback` when absent).
    public func number(_ key: String, fallback: Double) throws -> Double {
        guard let value = node.attribute(key)?.doubleValue else { return fallback }
        guard value.isFinite || value == .infinity && fallback == .infinity else { throw damaged("\(key) = \(value) is not finite") }
        return value
    }

    /// The random generator saved by `put(_:into:)` (`rng_state`: four 64-bit words, not all zero).
    public func generator() throws -> Xoshiro256 {
        guard case .int64(_, let words)? = node.dataset("rng_state"),
              let restored = Xoshiro256(state: words.map { UInt64(bitPattern: $0) }) else {
            throw damaged("rng_state is missing or not four 64-bit words, not all zero")
        }
        return restored
    }

    /// Saves a random generator's state as `rng_state`, for `generator()`.
    public static func put(_ rng: Xoshiro256, into n: inout Node) {
        n.put("rng_state", .int64(shape: [4], values: rng.state.map { Int64(bitPattern: $0) }))
    }

    /// A float dataset of exactly `count` finite values.
    public func floats(_ key: String, count: Int) throws -> [Float] {
        guard let data = node.dataset(key) else { throw damaged("has no \(key)") }
        let values = data.floats
        guard values.count == count else { throw damaged("\(key) has \(values.count) values where this configuration has \(count)") }
        guard values.allSatisfy(\.isFinite) else { throw damaged("\(key) holds non-finite values") }
        return values
    }

    /// Rows × `width` states and their `rows` log-rewards (a replay buffer), or nil when absent.
    public func buffer(_ prefix: String, width: Int) throws -> (states: [Float], rows: Int, logRewards: [Double]?)? {
        guard let states = node.dataset(prefix + "_states") else { return nil }
        guard states.shape.count == 2, states.shape[1] == width, states.floats.count == states.shape[0] * width else {
            throw damaged("\(prefix)_states has shape \(states.shape), not N × \(width)")
        }
        let rewards = node.dataset(prefix + "_log_rewards")?.doubles
        if let rewards, rewards.count != states.shape[0] { throw damaged("\(prefix)_log_rewards does not match \(prefix)_states") }
        guard states.floats.allSatisfy(\.isFinite), rewards?.allSatisfy(\.isFinite) ?? true else {
            throw damaged("\(prefix) holds non-finite states or log-rewards")
        }
        return (states.floats, states.shape[0], rewards)
    }

    /// The curve stored in `node` (`/train` or `/train/eval`; empty when absent): `iteration`, `seconds`,
    /// `energy_evals` and `grad_evals` (0 when absent, as in iDEM files before format 3) and every other 1-D column
    /// as a logged value. Columns must have equal lengths and counters must be counts.
    static func curve(_ node: Node?, path: String) throws -> [TrainingPoint] {
        guard let node, let iterations = node.dataset("iteration")?.doubles else { return [] }
        let n = iterations.count
        var columns: [String: [Double]] = [:]
        for (name, data) in node.datasets where name != "iteration" {
            let values = data.doubles
            guard data.shape.count == 1, values.count == n else {
                throw RunFileError(message: "\(path): the /train columns have different lengths; the file is damaged")
            }
            columns[name] = values
        }
        for key in ["energy_evals", "grad_evals"] + ["iteration"] {
            let column = key == "iteration" ? iterations : columns[key] ?? []
            guard column.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= Double(maxCount) && $0 == $0.rounded() }) else {
                throw RunFileError(message: "\(path): /train/\(key) holds values that are not counts; the file is damaged")
            }
        }
        let counters: Set = ["seconds", "energy_evals", "grad_evals"]
        return (0..<n).map { k in
            TrainingPoint(iteration: Int(iterations[k]), seconds: columns["seconds"]?[k] ?? 0,
                          budget: EvaluationBudget(energy: Int(columns["energy_evals"]?[k] ?? 0), gradient: Int(columns["grad_evals"]?[k] ?? 0)),
                          values: columns.filter { !counters.contains($0.key) }.mapValues { $0[k] })
        }
    }
}

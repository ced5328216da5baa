import Foundation

extension Array where Element == Double {
    /// The q-quantile (0 ≤ q ≤ 1), interpolating linearly between order statistics (numpy's default rule).
    public func quantile(_ q: Double) -> Double {
        precondition(!isEmpty && (0...1).contains(q), "quantile needs values and 0 ≤ q ≤ 1")
        let sorted = self.sorted(), position = q * Double(count - 1)
        let lower = Int(position.rounded(.down)), upper = Swift.min(lower + 1, count - 1)
        return sorted[lower] + (position - Double(lower)) * (sorted[upper] - sorted[lower])
    }
}

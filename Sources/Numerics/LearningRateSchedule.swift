import Foundation

/// How the configured learning rates change over a run, as a multiplier that depends on the iteration only, so
/// that a resumed run continues on the same curve without storing any schedule state.
public enum LearningRateSchedule: String, CaseIterable, Sendable {
    /// The configured rates throughout.
    case constant
    /// Half a cosine from the configured rates at the first iteration down to zero after the last
    /// (Loshchilov & Hutter 2017, without restarts): the late, small steps average out the gradient noise that
    /// otherwise keeps a converged sampler jittering around its optimum.
    case cosine

    /// The multiplier of the configured rates for the update of iteration `iteration` (0-based) of `total`.
    public func factor(iteration: Int, of total: Int) -> Float {
        switch self {
        case .constant:
            return 1
        case .cosine:
            guard total > 0 else { return 1 }
            let progress = Double(min(max(iteration, 0), total)) / Double(total)
            return Float(0.5 * (1 + cos(Double.pi * progress)))
        }
    }
}

/// Training failures that stop a run (the run file written so far stays readable).
public enum TrainingError: Error, CustomStringConvertible {
    case nonFiniteLoss(iteration: Int, target: String)
    case diverged(iteration: Int, target: String, what: String)
    case incompatibleCheckpoint
    case unsupportedTarget(String, reason: String)
    case unsupportedSettings(String)

    public var description: String {
        switch self {
        case .nonFiniteLoss(let i, let t):
            return "the loss became non-finite at iteration \(i) on target \(t); lower lr or set grad_clip"
        case .diverged(let i, let t, let what):
            return "training diverged at iteration \(i) on target \(t): the \(what) became non-finite or exceeded 1e15; lower lr or set grad_clip"
        case .incompatibleCheckpoint:
            return "the checkpoint's parameter shapes do not match this configuration (target, hidden, langevin, learned_variance, objective)"
        case .unsupportedSettings(let reason):
            return "these settings cannot be combined: \(reason)"
        case .unsupportedTarget(let name, let reason):
            return "target \(name) cannot be trained yet: \(reason)"
        }
    }
}

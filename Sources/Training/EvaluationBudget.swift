/// How often the target was evaluated: the budget that samplers are compared at.
public struct EvaluationBudget: Sendable, Equatable {
    /// Points at which only log R was evaluated.
    public var energy = 0
    /// Points at which ∇log R (with log R) was evaluated.
    public var gradient = 0

    /// No evaluations.
    public init(energy: Int = 0, gradient: Int = 0) {
        self.energy = energy
        self.gradient = gradient
    }
}

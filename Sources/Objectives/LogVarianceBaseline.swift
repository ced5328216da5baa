import Numerics
import NeuralSDE

/// Log-variance loss with a learned baseline (Richter et al. 2020, "VarGrad", the log-variance divergence with a
/// control variate b): mean over paths of (ρ_b − b)², with ρ = S_F − S_B − log R the negative log weight and b a
/// learned scalar. Where VarGrad replaces b by the batch mean of ρ, here b is a model parameter, learned at the
/// network's rate (`Method.scalarRate`); −b estimates log Z. The loss has TB's form with log Z = −b (Malkin et
/// al. 2023 note the equivalence); what differs from TB is that the scalar is an ordinary parameter.
public struct LogVarianceBaseline: Objective {
    public let name = "lv-baseline"
    public var parameters: ParameterStore
    let baseline: ParameterSlot

    /// The loss with the baseline b starting at 0.
    public init() {
        var p = ParameterStore()
        baseline = p.add("baseline", Matrix(scalar: 0))
        parameters = p
    }

    /// Loss mean_b (ρ_b − b)², ∂/∂S_F = 2(ρ_b − b)/B on every step of path b, ∂/∂b = −2·mean(ρ − b).
    public mutating func evaluate(_ batch: TrajectoryBatch) -> ObjectiveOutput {
        let b = Double(parameters.value(baseline).scalar)
        let residual = batch.logRatio.map { $0 - b }
        let n = Double(batch.batchSize)
        parameters.accumulateGradient(baseline, Matrix(scalar: Float(-2 * residual.reduce(0, +) / n)))
        return ObjectiveOutput(loss: residual.reduce(0) { $0 + $1 * $1 } / n,
                               logForwardCotangent: batch.perStep(residual.map { 2 * $0 / n }), logZEstimate: -b)
    }
}

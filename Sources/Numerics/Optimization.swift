import Foundation

/// How the learning rates change over a run: a multiplier that depends on the iteration only (constant, cosine),
/// or cuts on plateaus of the loss, which carry state (`PlateauState`) that checkpoints keep.
public enum LearningRateSchedule: String, CaseIterable, Sendable {
    /// The configured rates throughout.
    case constant
    /// Half a cosine from the configured rates at the first iteration down to zero after the last
    /// (Loshchilov & Hutter 2017, without restarts): the late, small steps average out the gradient noise that
    /// otherwise keeps a converged sampler jittering around its optimum.
    case cosine
    /// The rates are multiplied by a factor after a number of epochs without a lower epoch loss (PyTorch's
    /// ReduceLROnPlateau, which iDEM's trainer uses).
    case plateau

    /// The multiplier of the rates for the update of iteration `iteration` (0-based) of `total` (1 but for cosine).
    public func factor(iteration: Int, of total: Int) -> Float {
        switch self {
        case .constant, .plateau:
            return 1
        case .cosine:
            guard total > 0 else { return 1 }
            let progress = Double(min(max(iteration, 0), total)) / Double(total)
            return Float(0.5 * (1 + cos(Double.pi * progress)))
        }
    }
}

/// Progress of a plateau schedule: the lowest epoch loss so far, the epochs since, and the loss of the epoch in
/// progress (for methods whose epochs span several logged iterations).
public struct PlateauState: Sendable, Equatable {
    /// The lowest epoch loss so far.
    public var bestLoss = Double.infinity
    /// Epochs since `bestLoss` was reached.
    public var epochsSinceBest = 0
    /// Sum and count of the losses of the epoch in progress.
    public var epochLossSum = 0.0, epochLossCount = 0

    /// A fresh schedule state, or one restored from a checkpoint.
    public init(bestLoss: Double = .infinity, epochsSinceBest: Int = 0, epochLossSum: Double = 0, epochLossCount: Int = 0) {
        (self.bestLoss, self.epochsSinceBest, self.epochLossSum, self.epochLossCount) = (bestLoss, epochsSinceBest, epochLossSum, epochLossCount)
    }

    /// Counts an epoch with mean loss `loss`; returns whether the rates are to be cut now (after `patience` epochs
    /// without a lower loss, `patience` > 0), in which case the count starts again.
    public mutating func endEpoch(loss: Double, patience: Int) -> Bool {
        if loss < bestLoss {
            (bestLoss, epochsSinceBest) = (loss, 0)
        } else {
            epochsSinceBest += 1
        }
        guard patience > 0 && epochsSinceBest >= patience else { return false }
        epochsSinceBest = 0
        return true
    }
}

/// Optimisation of one parameter store as a chain of gradient transformations, in the style of optax: clip the
/// gradient norm, scale by Adam at the current rate (which a plateau schedule cuts) times the schedule's factor,
/// with per-slot rates for heads that learn faster, then update an exponential moving average of the weights.
/// A value: the chain's state (Adam moments, rates, average) is what a checkpoint stores.
public struct OptimizerChain: Sendable, Equatable {
    /// Gradient-norm clip (0 = off).
    public var clipNorm: Float = 0
    /// Adam's moments and step; its `learningRate` is the chain's current rate (before the schedule's factor).
    public var adam: Adam
    /// Slots with their own current rate (e.g. a flow head trained faster than the trunk it shares).
    public var slotRates: [(slot: ParameterSlot, rate: Float)] = []
    /// Decay β of the weight average a ← β·a + (1 − β)·θ after every step (0 = no average).
    public var averageDecay: Float = 0
    /// The weight average (nil without one); it starts at the initial weights.
    public var average: [Float]?

    /// A chain for `store` at rate `learningRate`; `averageDecay` > 0 keeps a weight average from the current weights.
    public init(store: ParameterStore, learningRate: Float, clipNorm: Float = 0, slotRates: [(slot: ParameterSlot, rate: Float)] = [],
                averageDecay: Float = 0) {
        adam = Adam(learningRate: learningRate, count: store.values.count)
        (self.clipNorm, self.slotRates, self.averageDecay) = (clipNorm, slotRates, averageDecay)
        if averageDecay > 0 { average = store.values }
    }

    /// The current rate (before the schedule's factor).
    public var learningRate: Float {
        get { adam.learningRate }
        set { adam.learningRate = newValue }
    }

    /// One update of `store.values` from `store.gradients` with every rate multiplied by `factor`.
    public mutating func step(_ store: inout ParameterStore, factor: Float = 1) {
        if clipNorm > 0 { store.clipGradientNorm(clipNorm) }
        let rate = adam.learningRate
        adam.learningRate = rate * factor
        adam.update(&store, overrides: slotRates.map { ($0.slot, $0.rate * factor) })
        adam.learningRate = rate
        guard averageDecay > 0, average != nil else { return }
        let beta = averageDecay, values = store.values
        // In place through the optional: binding it to a local first would copy the array every step.
        for k in values.indices { average![k] = beta * average![k] + (1 - beta) * values[k] }
    }

    /// Multiplies the current rates by `factor` (a plateau cut).
    public mutating func cut(by factor: Float) {
        adam.learningRate *= factor
        for k in slotRates.indices { slotRates[k].rate *= factor }
    }

    public static func == (a: OptimizerChain, b: OptimizerChain) -> Bool {
        a.clipNorm == b.clipNorm && a.adam == b.adam && a.averageDecay == b.averageDecay && a.average == b.average
            && a.slotRates.map(\.slot) == b.slotRates.map(\.slot) && a.slotRates.map(\.rate) == b.slotRates.map(\.rate)
    }
}

/// A run's optimiser settings, resolved once from `lr`, `grad_clip`, `lr_schedule`, `lr_patience`, `lr_factor` and
/// `ema`: every method builds its chains and steps its schedule from these.
public struct OptimizerSettings: Sendable, Equatable {
    /// Adam learning rate of the network (`lr`).
    public var learningRate: Float = 1e-3
    /// Gradient-norm clip of the network (`grad_clip`; 0 = off).
    public var gradientClip: Float = 0
    /// How the rates change over the run (`lr_schedule`).
    public var schedule = LearningRateSchedule.constant
    /// Iterations (iDEM: epochs) of the run, over which a cosine schedule decays.
    public var iterations = 1
    /// `schedule == .plateau`: epochs without a lower epoch loss after which the rates are multiplied by
    /// `plateauFactor` (`lr_patience`, `lr_factor`).
    public var plateauPatience = 10, plateauFactor: Float = 0.1
    /// Decay β of the weight average that generates evaluation samples (`ema`; 0 = none).
    public var averageDecay: Float = 0

    /// The defaults (a constant rate of 10⁻³, no clip, no average).
    public init() {}

    /// The multiplier of the rates for the update of iteration `iteration` (0-based).
    public func factor(iteration: Int) -> Float { schedule.factor(iteration: iteration, of: iterations) }

    /// The patience `PlateauState.endEpoch` is given: `plateauPatience` under the plateau schedule, else 0 (no cut).
    public var activePatience: Int { schedule == .plateau ? plateauPatience : 0 }

    /// The network's chain: clip, Adam at `learningRate` (with `slotRates` for faster heads), weight average.
    public func networkChain(for store: ParameterStore, slotRates: [(slot: ParameterSlot, rate: Float)] = []) -> OptimizerChain {
        OptimizerChain(store: store, learningRate: learningRate, clipNorm: gradientClip, slotRates: slotRates, averageDecay: averageDecay)
    }
}

import Foundation
import Numerics
import RunStore

/// How optimiser chains and plateau schedules are stored in `/checkpoint`, the same for every method: the Adam
/// moments and step under the chain's prefix (`network_adam_m`, …), its current rate (`learning_rate` for the
/// network, `PREFIX_learning_rate` otherwise) and per-slot rates, its weight average (`PREFIX_average`) and the
/// plateau schedule's progress (`plateau_*`).
extension RunFile {
    static func rateKey(_ prefix: String) -> String { prefix == "network" ? "learning_rate" : prefix + "_learning_rate" }

    /// Writes `chain` under `prefix`.
    static func put(_ chain: OptimizerChain, prefix: String, into n: inout Node) {
        n.put(prefix + "_adam_m", .float(shape: [chain.adam.firstMoment.count], values: chain.adam.firstMoment))
        n.put(prefix + "_adam_v", .float(shape: [chain.adam.secondMoment.count], values: chain.adam.secondMoment))
        n.set(prefix + "_adam_step", .int(Int64(chain.adam.step)))
        n.set(rateKey(prefix), .double(Double(chain.learningRate)))
        if !chain.slotRates.isEmpty {
            n.put(prefix + "_slot_rates", .float(shape: [chain.slotRates.count], values: chain.slotRates.map(\.rate)))
        }
        if let average = chain.average { n.put(prefix + "_average", .float(shape: [average.count], values: average)) }
    }

    /// Reads the chain written under `prefix` into `chain` (configured for the same store). Files from before a
    /// field existed keep the configured value (rates) and must not lack what the configuration needs (an average).
    /// A run resumed with another `lr` (`resetRate`) takes that rate instead of the stored one.
    static func load(_ chain: inout OptimizerChain, prefix: String, from cp: CheckpointFields, resetRate: Float? = nil) throws {
        let n = chain.adam.firstMoment.count
        chain.adam.firstMoment = try cp.floats(prefix + "_adam_m", count: n)
        chain.adam.secondMoment = try cp.floats(prefix + "_adam_v", count: n)
        chain.adam.step = try cp.count(prefix + "_adam_step")
        if let rate = cp.node.attribute(rateKey(prefix))?.doubleValue {
            guard rate.isFinite, rate > 0 else { throw cp.damaged("\(rateKey(prefix)) = \(rate) is not a positive number") }
            chain.learningRate = Float(rate)
        }
        if cp.node.dataset(prefix + "_slot_rates") != nil {
            let rates = try cp.floats(prefix + "_slot_rates", count: chain.slotRates.count)
            for k in rates.indices { chain.slotRates[k].rate = rates[k] }
        }
        if chain.average != nil {
            guard cp.node.dataset(prefix + "_average") != nil else {
                throw cp.damaged("has no \(prefix)_average, which ema of this configuration needs")
            }
            chain.average = try cp.floats(prefix + "_average", count: n)
        } else if cp.node.dataset(prefix + "_average") != nil {
            throw cp.damaged("has a weight average, which this configuration (ema = 0) does not keep")
        }
        if let resetRate { chain.learningRate = resetRate }
    }

    /// Writes a plateau schedule's progress.
    static func put(_ plateau: PlateauState, into n: inout Node) {
        n.set("plateau_best_loss", .double(plateau.bestLoss))
        n.set("plateau_epochs", .int(Int64(plateau.epochsSinceBest)))
        n.set("plateau_loss_sum", .double(plateau.epochLossSum))
        n.set("plateau_loss_count", .int(Int64(plateau.epochLossCount)))
    }

    /// Reads a plateau schedule's progress (a fresh one where the file has none).
    static func plateau(from cp: CheckpointFields) throws -> PlateauState {
        PlateauState(bestLoss: try cp.number("plateau_best_loss", fallback: .infinity), epochsSinceBest: try cp.count("plateau_epochs"),
                     epochLossSum: try cp.number("plateau_loss_sum", fallback: 0), epochLossCount: try cp.count("plateau_loss_count"))
    }
}

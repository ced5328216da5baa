import Foundation
import Numerics
import Densities
import RunStore

/// What `Scripts/plot.py` needs from Swift: the log-density of a 2-D view of the target on a grid, so the plots
/// use the toolkit's own target definitions instead of a second copy in Python.
public enum PlotData {
    /// The normalised density of the first two coordinates when it is known in closed form: the target itself in
    /// 2-D, one double-well pair of manywell (pairs are independent), the funnel's (x₀, x₁) marginal (a 2-D funnel).
    public static func view(of target: any Target) -> (any Target)? {
        if let funnel = target as? Funnel { return Funnel(name: funnel.name, dimension: 2, neckStd: funnel.neckStd) }
        if target is ManyWell { return ManyWell(name: target.name, dimension: 2) }
        return target.dimension == 2 && target.particleStructure == nil ? target : nil
    }

    /// log R of `view` on a `points × points` grid over [lo, hi]²: datasets `x`, `y` (the axes) and `log_density`
    /// (row i is y[i]).
    public static func grid(_ view: any Target, lo: Double, hi: Double, points: Int = 200) throws -> Node {
        let axis = (0..<points).map { lo + (hi - lo) * Double($0) / Double(points - 1) }
        var xy = Matrix(rows: points * points, cols: 2)
        for i in 0..<points { for j in 0..<points { xy[i * points + j, 0] = Float(axis[j]); xy[i * points + j, 1] = Float(axis[i]) } }
        let logR = try view.logDensity(xy)
        var node = Node()
        node.set("target", .string(view.name))
        node.put("x", .double(shape: [points], values: axis))
        node.put("y", .double(shape: [points], values: axis))
        node.put("log_density", .double(shape: [points, points], values: logR))
        return node
    }
}

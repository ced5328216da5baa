import Foundation
import Numerics
import Densities

/// The tape operations of the annealed Langevin samplers: small fused kernels with hand-written pullbacks, so that one
/// tape records a whole batch of K-step paths (B × d values per state, 1 × 1 learned scalars per step).
extension Tape {
    /// β_k = Σ_{j<k} softplus(a_j) / Σ_j softplus(a_j), k = 0 … K, from the K logits `a` (1 × K): a learned,
    /// increasing schedule from β₀ = 0 to β_K = 1 (1 × (K + 1)).
    func annealingSchedule(_ a: Variable) -> Variable {
        let logits = value(a).storage, K = logits.count
        let w = logits.map { LogSpace.softplus(Double($0)) }, total = w.reduce(0, +)
        var beta = [Double](repeating: 0, count: K + 1)
        for k in 0..<K { beta[k + 1] = beta[k] + w[k] / total }
        beta[K] = 1
        return record(Matrix(rows: 1, cols: K + 1, storage: beta.map(Float.init))) { g, tape in
            // ∂β_k/∂w_j = ([j < k] − β_k)/W, and ∂w_j/∂a_j = sigmoid(a_j).
            let weighted = (0...K).reduce(0.0) { $0 + Double(g.storage[$1]) * beta[$1] }
            var tail = 0.0, out = Matrix(rows: 1, cols: K)
            for j in stride(from: K - 1, through: 0, by: -1) {
                tail += Double(g.storage[j + 1])
                out.storage[j] = Float((tail - weighted) / total / (1 + exp(-Double(logits[j]))))
            }
            tape.accumulate(a, out)
        }
    }

    /// Entry `index` of the row `a` as 1 × 1.
    func element(_ a: Variable, _ index: Int) -> Variable {
        let av = value(a)
        return record(Matrix(scalar: av.storage[index])) { g, tape in
            var out = Matrix(rows: av.rows, cols: av.cols)
            out.storage[index] = g.scalar
            tape.accumulate(a, out)
        }
    }

    /// The step size δ = factor · softplus(c)² for a learned coefficient c (1 × 1).
    func stepSize(_ c: Variable, factor: Float) -> Variable {
        let cv = value(c).scalar, s = Float(LogSpace.softplus(Double(cv)))
        return record(Matrix(scalar: factor * s * s)) { g, tape in
            tape.accumulate(c, Matrix(scalar: g.scalar * factor * 2 * s / (1 + expf(-cv))))
        }
    }

    /// ∇log π_β(x) = −(1 − β)·x/s² + β·S for the geometric path between N(0, s²I) and the target, with the target's
    /// score S (B × d) and β (1 × 1).
    func annealedScore(_ x: Variable, score S: Variable, beta: Variable, priorVariance s2: Float) -> Variable {
        let xv = value(x), sv = value(S), b = value(beta).scalar
        var out = xv
        for k in out.storage.indices { out.storage[k] = -(1 - b) * xv.storage[k] / s2 + b * sv.storage[k] }
        return record(out) { g, tape in
            var gx = g, gs = g, gb = 0.0
            for k in g.storage.indices {
                gx.storage[k] = -(1 - b) / s2 * g.storage[k]
                gs.storage[k] = b * g.storage[k]
                gb += Double(g.storage[k]) * Double(xv.storage[k] / s2 + sv.storage[k])
            }
            tape.accumulate(x, gx)
            tape.accumulate(S, gs)
            tape.accumulate(beta, Matrix(scalar: Float(gb)))
        }
    }

    /// x + δ·v for a 1 × 1 step δ (a Langevin mean).
    func step(_ x: Variable, by v: Variable, size delta: Variable) -> Variable {
        let xv = value(x), vv = value(v), dv = value(delta).scalar
        var out = xv
        for k in out.storage.indices { out.storage[k] += dv * vv.storage[k] }
        return record(out) { g, tape in
            var gv = g, gd = 0.0
            for k in g.storage.indices {
                gv.storage[k] = dv * g.storage[k]
                gd += Double(g.storage[k]) * Double(vv.storage[k])
            }
            tape.accumulate(x, g)
            tape.accumulate(v, gv)
            tape.accumulate(delta, Matrix(scalar: Float(gd)))
        }
    }

    /// m + √(2δ)·ξ for fixed noise ξ (the reparameterised Langevin step).
    func addNoise(_ m: Variable, _ noise: Matrix, size delta: Variable) -> Variable {
        let mv = value(m), dv = value(delta).scalar, root = (2 * dv).squareRoot()
        var out = mv
        for k in out.storage.indices { out.storage[k] += root * noise.storage[k] }
        return record(out) { g, tape in
            let gd = g.storage.indices.reduce(0.0) { $0 + Double(g.storage[$1]) * Double(noise.storage[$1]) }
            tape.accumulate(m, g)
            tape.accumulate(delta, Matrix(scalar: Float(gd / Double(root))))
        }
    }

    /// log N(x_r; m_r, v·I) per row (B × 1) for a 1 × 1 variance v.
    func gaussianLogDensity(_ x: Variable, mean: Variable, variance: Variable) -> Variable {
        let xv = value(x), mv = value(mean), v = value(variance).scalar, B = xv.rows, d = xv.cols
        var squared = [Float](repeating: 0, count: B)
        for r in 0..<B { for c in 0..<d { let e = xv[r, c] - mv[r, c]; squared[r] += e * e } }
        let constant = -0.5 * Float(d) * logf(2 * Float.pi * v)
        return record(Matrix(rows: B, cols: 1, storage: squared.map { constant - 0.5 * $0 / v })) { g, tape in
            var gx = Matrix(rows: B, cols: d), gv = 0.0
            for r in 0..<B {
                for c in 0..<d { gx[r, c] = -g.storage[r] * (xv[r, c] - mv[r, c]) / v }
                gv += Double(g.storage[r]) * Double(-0.5 * Float(d) / v + 0.5 * squared[r] / (v * v))
            }
            tape.accumulate(x, gx)
            var gm = gx
            for k in gm.storage.indices { gm.storage[k] = -gm.storage[k] }
            tape.accumulate(mean, gm)
            tape.accumulate(variance, Matrix(scalar: Float(gv)))
        }
    }

    /// The target's score ∇log R at the rows of `x`, given as `gradient`; the pullback multiplies the cotangent by
    /// the Hessian: exactly for targets with `HessianVectorProducts`, otherwise by central differences of the target's
    /// gradient along it in each row, with a step of 10⁻²·max(1, rms(x)) in the direction's length (float32 gradients:
    /// relative error about 10⁻⁴).
    /// Entries of `gradient` at the clip (±`clip`) have derivative 0: their cotangents are dropped first.
    func targetScore(_ x: Variable, gradient: Matrix, clip: Float, target: any Target,
                     failure: UnsafeMutablePointer<(any Error)?>) -> Variable {
        let xv = value(x)
        return record(gradient) { cotangent, tape in
            var g = cotangent
            for k in g.storage.indices where abs(gradient.storage[k]) >= clip { g.storage[k] = 0 }
            if let exact = target as? any HessianVectorProducts {
                do { tape.accumulate(x, try exact.hessianVectorProducts(xv, g)) } catch { failure.pointee = failure.pointee ?? error }
                return
            }
            let B = xv.rows, d = xv.cols
            var plus = xv, minus = xv, h = [Float](repeating: 0, count: B)
            for r in 0..<B {
                var xx: Float = 0, gg: Float = 0
                for c in 0..<d { xx += xv[r, c] * xv[r, c]; gg += g[r, c] * g[r, c] }
                guard gg > 0 else { continue }
                h[r] = 1e-2 * max(1, (xx / Float(d)).squareRoot()) / (gg / Float(d)).squareRoot()
                for c in 0..<d { plus[r, c] += h[r] * g[r, c]; minus[r, c] -= h[r] * g[r, c] }
            }
            do {
                let gp = try target.logDensityAndGradient(plus).gradient, gm = try target.logDensityAndGradient(minus).gradient
                var out = Matrix(rows: B, cols: d)
                for r in 0..<B where h[r] > 0 {
                    for c in 0..<d { out[r, c] = (gp[r, c] - gm[r, c]) / (2 * h[r]) }
                }
                tape.accumulate(x, out)
            } catch { failure.pointee = failure.pointee ?? error }
        }
    }

    /// log R at the rows of `x` minus a constant (B × 1), whose pullback adds cotangent · ∇log R to `x`.
    func targetLogDensity(_ x: Variable, logDensity: [Double], offset: Double, gradient: Matrix) -> Variable {
        record(Matrix(rows: logDensity.count, cols: 1, storage: logDensity.map { Float($0 - offset) })) { g, tape in
            var gx = gradient
            for r in 0..<gradient.rows { for c in 0..<gradient.cols { gx[r, c] *= g.storage[r] } }
            tape.accumulate(x, gx)
        }
    }

    /// The batch variance of the rows of `a` (B × 1) as 1 × 1: the log-variance loss.
    func batchVariance(_ a: Variable) -> Variable {
        let av = value(a).storage.map(Double.init), n = Double(av.count)
        let mean = av.reduce(0, +) / n
        let variance = av.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
        return record(Matrix(scalar: Float(variance))) { g, tape in
            tape.accumulate(a, Matrix(rows: av.count, cols: 1, storage: av.map { Float(2 * ($0 - mean) / n) * g.scalar }))
        }
    }
}

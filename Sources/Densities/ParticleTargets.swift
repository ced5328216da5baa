import Foundation
import Numerics

/// How a target's coordinates group into particles: x = (x₁, …, x_N), each x_i ∈ ℝ^D.
public struct ParticleStructure: Sendable, Equatable {
    /// Number of particles N.
    public let count: Int
    /// Spatial dimension D.
    public let spatialDimension: Int

    /// N particles in D dimensions.
    public init(count: Int, spatialDimension: Int) {
        self.count = count
        self.spatialDimension = spatialDimension
    }
}

/// The 4-particle double-well system in 2-D (Köhler et al. 2020): E = Σ_{i<j} [0.9(d_ij − 4)⁴ − 4(d_ij − 4)²].
/// Invariant under rotation, translation and permutation; log Z unknown.
public struct DoubleWellParticles: Target {
    public let name: String
    /// Particle count and spatial dimension of a configuration.
    public let particles: ParticleStructure
    public var dimension: Int { particles.count * particles.spatialDimension }
    public var particleStructure: ParticleStructure? { particles }
    public let defaultSigma2: Float

    /// N particles in D dimensions (DW4: 4 in 2-D).
    public init(name: String = "dw4", count: Int = 4, spatialDimension: Int = 2, defaultSigma2: Float = 3) {
        self.name = name
        particles = ParticleStructure(count: count, spatialDimension: spatialDimension)
        self.defaultSigma2 = defaultSigma2
    }

    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) {
        let n = particles.count, dd = particles.spatialDimension, d = dimension
        for r in 0..<count {
            let xr = x + r * d
            let g = gradient.map { $0 + r * d }
            if let g { for k in 0..<d { g[k] = 0 } }
            var energy = 0.0
            forEachPair(n) { i, j in
                var s = 0.0
                for k in 0..<dd { let diff = Double(xr[i * dd + k] - xr[j * dd + k]); s += diff * diff }
                let dist = s.squareRoot(), u = dist - 4
                energy += 0.9 * u * u * u * u - 4 * u * u
                guard let g, dist > 0 else { return }
                let dE = (3.6 * u * u * u - 8 * u) / dist  // dE/d(dist) · 1/dist
                for k in 0..<dd {
                    let f = Float(dE * Double(xr[i * dd + k] - xr[j * dd + k]))
                    g[i * dd + k] -= f  // ∇ log R = −∇E
                    g[j * dd + k] += f
                }
            }
            logDensity[r] = -energy
        }
    }
}

/// Lennard-Jones clusters (LJ13, LJ55) in 3-D with a harmonic tether to the centre of mass:
/// E = Σ_{i≠j} [r_ij⁻¹² − 2 r_ij⁻⁶] + ½ Σ_i ‖x_i − x̄‖², r_ij = sqrt(‖x_i − x_j‖² + 10⁻⁶).
///
/// The pair sum runs over ordered pairs (each pair twice): under this convention the public reference
/// samples are Boltzmann at T = 1 (virial ⟨x·∇E⟩ = 3(N−1)). Samples live in the centre-of-mass-free subspace.
public struct LennardJones: Target {
    public let name: String
    /// Particle count and spatial dimension of a configuration.
    public let particles: ParticleStructure
    public var dimension: Int { particles.count * particles.spatialDimension }
    public var particleStructure: ParticleStructure? { particles }
    public let defaultSigma2: Float
    /// Softening added to squared distances.
    public static let softening = 1e-6

    /// N particles in 3-D.
    public init(name: String, count: Int, defaultSigma2: Float = 1) {
        self.name = name
        particles = ParticleStructure(count: count, spatialDimension: 3)
        self.defaultSigma2 = defaultSigma2
    }

    /// Eight configurations at a time, one per SIMD lane (a trailing group is padded with copies of its last row):
    /// each lane performs the same operations in the same order as one configuration alone, so the values do not
    /// depend on how rows are grouped. Particle i's force accumulates in registers over its partners j > i (the
    /// same sequence of subtractions as in memory); the scratch is raw, so the pair loop has no bounds or
    /// uniqueness checks.
    public func evaluate(_ x: UnsafePointer<Float>, count: Int, logDensity: UnsafeMutablePointer<Double>,
                         gradient: UnsafeMutablePointer<Float>?) {
        typealias D8 = SIMD8<Double>
        typealias F8 = SIMD8<Float>
        let n = particles.count, d = dimension
        // Lane-major scratch: coordinate c of the group's configurations is the vector at c·8.
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 2 * d * MemoryLayout<F8>.stride,
                                                       alignment: MemoryLayout<F8>.alignment)
        defer { scratch.deallocate() }
        let coordinates = scratch.bindMemory(to: Float.self, capacity: 16 * d), forces = coordinates + 8 * d
        @inline(__always) func load(_ p: UnsafeMutablePointer<Float>, _ c: Int) -> F8 {
            UnsafeRawPointer(p + 8 * c).load(as: F8.self)
        }
        @inline(__always) func store(_ v: F8, _ p: UnsafeMutablePointer<Float>, _ c: Int) {
            UnsafeMutableRawPointer(p + 8 * c).storeBytes(of: v, as: F8.self)
        }
        for first in stride(from: 0, to: count, by: 8) {
            let lanes = min(8, count - first)
            for lane in 0..<8 {  // pointer steps: no overflow checks in the transposes
                let row = x + (first + min(lane, lanes - 1)) * d
                var slot = coordinates + lane
                for c in 0..<d { slot.pointee = row[c]; slot += 8 }
            }
            var cx = D8.zero, cy = D8.zero, cz = D8.zero
            for i in 0..<n {
                cx = cx + D8(load(coordinates, i * 3)); cy = cy + D8(load(coordinates, i * 3 + 1))
                cz = cz + D8(load(coordinates, i * 3 + 2))
            }
            let centre = (cx / Double(n), cy / Double(n), cz / Double(n))
            var energy = D8.zero
            for i in 0..<n {
                for k in 0..<3 {
                    let offset = D8(load(coordinates, i * 3 + k)) - (k == 0 ? centre.0 : k == 1 ? centre.1 : centre.2)
                    energy = energy + 0.5 * offset * offset
                    store(F8(-offset), forces, i * 3 + k)  // the x̄ terms cancel because Σ_i (x_i − x̄) = 0
                }
            }
            for i in 0..<n {
                let xi = load(coordinates, i * 3), yi = load(coordinates, i * 3 + 1), zi = load(coordinates, i * 3 + 2)
                var fi = (load(forces, i * 3), load(forces, i * 3 + 1), load(forces, i * 3 + 2))
                for j in (i + 1)..<n {
                    let dx = D8(xi - load(coordinates, j * 3)), dy = D8(yi - load(coordinates, j * 3 + 1))
                    let dz = D8(zi - load(coordinates, j * 3 + 2))
                    let s = dx * dx + dy * dy + dz * dz + Self.softening
                    let inv6 = 1 / (s * s * s)
                    energy = energy + 2 * (inv6 * inv6 - 2 * inv6)  // ordered pairs: twice per unordered pair
                    guard gradient != nil else { continue }
                    // d/ds of 2(s⁻⁶ − 2s⁻³) is 2(−6s⁻⁷ + 6s⁻⁴); ds/dx_i = 2(x_i − x_j).
                    let dEds = 2 * (-6 * inv6 * inv6 + 6 * inv6) / s
                    let fx = F8(2 * dEds * dx), fy = F8(2 * dEds * dy), fz = F8(2 * dEds * dz)
                    fi.0 -= fx; fi.1 -= fy; fi.2 -= fz
                    store(load(forces, j * 3) + fx, forces, j * 3)
                    store(load(forces, j * 3 + 1) + fy, forces, j * 3 + 1)
                    store(load(forces, j * 3 + 2) + fz, forces, j * 3 + 2)
                }
                store(fi.0, forces, i * 3); store(fi.1, forces, i * 3 + 1); store(fi.2, forces, i * 3 + 2)
            }
            for lane in 0..<lanes {
                logDensity[first + lane] = -energy[lane]
                guard let gradient else { continue }
                let row = gradient + (first + lane) * d
                var slot = UnsafePointer(forces + lane)
                for c in 0..<d { row[c] = slot.pointee; slot += 8 }
            }
        }
    }
}

/// Calls `body(i, j)` for every unordered pair i < j of `n` particles.
@inline(__always)
func forEachPair(_ n: Int, _ body: (Int, Int) -> Void) {
    for i in 0..<n { for j in (i + 1)..<n { body(i, j) } }
}

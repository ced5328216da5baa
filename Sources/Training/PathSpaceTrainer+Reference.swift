import NeuralSDE
import Densities

extension PathSpaceTrainer {
    /// The reference process of `settings` for `target`, after checking the settings that depend on it.
    static func reference(_ settings: PathSpaceSettings, target: any Target) throws -> any ReferenceProcess {
        let method = settings.method, kind = settings.reference.kind ?? method.reference
        let reference = settings.reference.process(for: method, sigma2: settings.sigma2 ?? target.defaultSigma2)
        if kind != .brownian {
            if settings.sigma2 != nil {
                throw TrainingError.unsupportedSettings("sigma2 sets the Brownian reference's noise; reference=\(kind.rawValue) "
                    + "(objective=\(method.name)) takes prior_std and \(kind == .vp ? "max_diffusion" : "noise_scale") instead")
            }
            if method.forwardLooking {
                throw TrainingError.unsupportedSettings("objective=\(method.name)'s forward-looking flows use the Brownian "
                    + "reference's marginals; use reference=brownian")
            }
        }
        // The other references' parameters would be ignored silently.
        let defaults = ReferenceSettings(), given = settings.reference
        let unused = [("prior_std", given.priorStd != defaults.priorStd && kind == .brownian),
                      ("max_diffusion", given.maxDiffusion != nil && kind != .vp),
                      ("noise_scale", given.noiseScale != defaults.noiseScale && kind != .vpExponential)].first { $0.1 }
        if let (key, _) = unused {
            throw TrainingError.unsupportedSettings("\(key) is not a parameter of reference=\(kind.rawValue) (objective=\(method.name)); "
                + "remove it, or choose the reference it belongs to (prior_std: vp, vp-exponential; max_diffusion: vp; noise_scale: vp-exponential)")
        }
        if !reference.acceptsAnyGrid && settings.grid != .uniform {
            throw TrainingError.unsupportedSettings("reference=\(kind.rawValue) tabulates its noise per step of a uniform grid; "
                + "use grid=uniform")
        }
        return reference
    }
}

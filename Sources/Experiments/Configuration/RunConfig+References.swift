import Training

extension RunConfig {
    /// The keys of the path-space methods' reference process (listed after the training keys).
    static let referenceKeys: [Key] = [
        Key(name: "reference", help: "path-space methods: reference process, " + ReferenceKind.names.joined(separator: ", ")
                + " (default: the method's — vp for dis, vp-exponential for dds, brownian otherwise)",
            set: { c, v in
                c.reference.kind = v == "default" ? nil : ReferenceKind(rawValue: try choice("reference", v, ReferenceKind.names + ["default"]))
            },
            get: { $0.reference.kind?.rawValue ?? "default" }),
        Key(name: "prior_std", help: "reference=vp/vp-exponential and ula/mcd/cmcd: standard deviation s of the initial N(0, s²I), "
                + "up to 10⁶ (the benchmark's init_std)",
            set: { c, v in c.reference.priorStd = try bounded("prior_std", v, max: 1e6) }, get: { "\($0.reference.priorStd)" }),
        Key(name: "max_diffusion", help: "reference=vp: the cosine β schedule runs from 0.005 at the target to max_diffusion/2 at "
                + "the prior (default 10, the benchmark's DIS); ula/mcd/cmcd: the Langevin step shape g is max_diffusion/2 at "
                + "the prior, falling to 0.005 at the target (default 1); up to 10⁴",
            set: { c, v in c.reference.maxDiffusion = v == "default" ? nil : try bounded("max_diffusion", v, max: 1e4) },
            get: { $0.reference.maxDiffusion.map { "\($0)" } ?? "default" }),
        Key(name: "noise_scale", help: "reference=vp-exponential: scale of the cumulative cos⁴ noise profile, up to 10⁴ (the "
                + "benchmark's DDS uses 6: its noise then sits in the first ~N/16 steps, the rest are identity steps)",
            set: { c, v in c.reference.noiseScale = try bounded("noise_scale", v, max: 1e4) }, get: { "\($0.reference.noiseScale)" }),
    ]
}

// swift-tools-version:6.0
import PackageDescription

// Dependency arrows point one way: C shims → Numerics → Densities → NeuralSDE → Objectives (pure losses) →
// Training (trainers, replay, local search) and Evaluation → Experiments (settings, jobs, run files, reports,
// sweeps) → dsampler. RunStore (HDF5) sits beside them and is used only by Experiments.
let package = Package(
    name: "DiffusionSamplers",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dsampler", targets: ["dsampler"]),
        .library(name: "Densities", targets: ["Densities"]),
        .library(name: "Experiments", targets: ["Experiments"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev", "pkg-config"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev", "pkg-config"])]),
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3",
                       providers: [.apt(["libfftw3-dev", "pkg-config"])]),
        .systemLibrary(name: "CPython", pkgConfig: "python3-embed",
                       providers: [.apt(["python3-dev", "python3-numpy", "pkg-config"])]),
        .target(name: "CBuildInfo"),
        // libxsmm (Debian's libxsmm-dev, a static library): JIT-generated kernels for the layers' narrow products.
        .target(name: "CSmallGEMM", linkerSettings: [.linkedLibrary("xsmm"), .linkedLibrary("dl"), .linkedLibrary("pthread")]),
        .target(name: "PythonBridge", dependencies: ["CPython"]),
        .target(name: "Numerics", dependencies: ["CBLAS", "CSmallGEMM"]),
        .target(name: "Densities", dependencies: ["Numerics"]),
        .target(name: "PythonTargets", dependencies: ["Densities", "PythonBridge"]),
        .target(name: "NeuralSDE", dependencies: ["Numerics", "Densities"]),
        .target(name: "Objectives", dependencies: ["Numerics", "Densities", "NeuralSDE"]),
        .target(name: "Training", dependencies: ["Numerics", "Densities", "NeuralSDE", "Objectives"]),
        .target(name: "Evaluation", dependencies: ["Numerics", "Densities", "NeuralSDE"]),
        .target(name: "RunStore", dependencies: ["CHDF5"]),
        .target(name: "Experiments",
                dependencies: ["CBuildInfo", "Numerics", "Densities", "PythonTargets", "NeuralSDE", "Objectives", "Training", "Evaluation", "RunStore",
                               .product(name: "Yams", package: "Yams")]),
        .executableTarget(name: "dsampler", dependencies: [
            "Experiments", "Evaluation", "Objectives", "Training", "Densities", "RunStore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Test support shared by the test targets: the bounded-error finite-difference check, building C plug-ins.
        .target(name: "TestSupport", dependencies: ["Numerics"], path: "Tests/TestSupport"),
        .testTarget(name: "NumericsTests", dependencies: ["Numerics", "CFFTW", "CSmallGEMM", "TestSupport"]),
        .testTarget(name: "DensitiesTests", dependencies: ["Densities", "RunStore", "TestSupport"]),
        .testTarget(name: "NeuralSDETests", dependencies: ["NeuralSDE", "Objectives", "Training", "TestSupport"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation"]),
        .testTarget(name: "RunStoreTests", dependencies: ["RunStore", "TestSupport"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "RunStore", "Evaluation", "TestSupport"],
                    exclude: ["Golden"]),
    ]
)

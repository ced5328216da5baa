// swift-tools-version:6.0
// A program of your own that trains the toolkit's samplers on energies it defines. It depends on a clone of the
// toolkit by path: the package name in `.product(package:)` is that folder's name (Scripts/test-example builds
// this example against the repository linked as `dsampler`).
import PackageDescription

let package = Package(
    name: "CustomTarget",
    platforms: [.macOS(.v13)],
    dependencies: [.package(path: "../dsampler")],
    targets: [
        .executableTarget(name: "CustomTarget", dependencies: [
            .product(name: "Experiments", package: "dsampler"),
            .product(name: "Densities", package: "dsampler"),
        ]),
    ]
)

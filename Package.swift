// swift-tools-version:6.0
// Reel: convert, quantise, validate and run video-language models on CPU from one mmap-able file.
import PackageDescription

let package = Package(
    name: "Reel",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "reel", targets: ["reel"]),
        .library(name: "ReelRuntime", targets: ["ReelRuntime"]),
        .library(name: "ReelConvert", targets: ["ReelConvert"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries: module maps only; every call goes through one thin Swift file in ReelCore/ReelRuntime.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),
        .systemLibrary(name: "CJSONC", pkgConfig: "json-c",
                       providers: [.apt(["libjson-c-dev"]), .brew(["json-c"])]),

        // C: the hot kernels, each with a scalar twin; ISA chosen at run time (never -march).
        .target(name: "CKernels"),

        // Swift libraries, bottom to top.
        .target(name: "ReelCore", dependencies: ["CJSONC", "CZstd", "CKernels"]),
        .target(name: "ReelQuant", dependencies: ["ReelCore", "CKernels"]),
        .target(name: "ReelFormat", dependencies: ["ReelCore", "ReelQuant"]),
        .target(name: "ReelSafetensors", dependencies: ["ReelCore"]),
        .target(name: "ReelTokenizer", dependencies: ["ReelCore"]),
        .target(name: "ReelRuntime", dependencies: ["ReelCore", "ReelQuant", "ReelFormat", "ReelTokenizer", "CBLAS", "CKernels"]),
        .target(name: "ReelModels", dependencies: ["ReelCore", "ReelQuant", "ReelFormat", "ReelRuntime", "ReelMedia"]),
        .target(name: "ReelMedia", dependencies: ["ReelCore", "CBLAS"]),
        .target(name: "ReelConvert", dependencies: ["ReelCore", "ReelQuant", "ReelFormat", "ReelSafetensors", "ReelTokenizer", "ReelModels", "ReelMedia"]),
        .executableTarget(name: "reel", dependencies: [
            "ReelCore", "ReelQuant", "ReelFormat", "ReelSafetensors", "ReelTokenizer", "ReelRuntime", "ReelModels", "ReelConvert",
            "ReelMedia",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Tests: one target per library; fixtures live next to the tests that use them.
        .testTarget(name: "ReelCoreTests", dependencies: ["ReelCore"]),
        .testTarget(name: "ReelQuantTests", dependencies: ["ReelQuant", "CKernels"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ReelFormatTests", dependencies: ["ReelFormat", "ReelQuant", "ReelCore"]),
        .testTarget(name: "ReelSafetensorsTests", dependencies: ["ReelSafetensors", "ReelCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ReelTokenizerTests", dependencies: ["ReelTokenizer", "ReelCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ReelConvertTests", dependencies: ["ReelConvert", "ReelFormat", "ReelSafetensors", "ReelQuant", "ReelCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ReelCLITests", dependencies: ["ReelCore", "ReelFormat", "ReelSafetensors"]),
        .testTarget(name: "ReelMediaTests", dependencies: ["ReelMedia", "ReelCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ReelModelsTests", dependencies: ["ReelModels", "ReelMedia", "ReelRuntime", "ReelConvert", "ReelFormat", "ReelCore"], resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)

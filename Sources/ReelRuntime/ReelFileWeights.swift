import ReelFormat

/// A `.reel` file provides its tensors in place: a `WeightTensor` points into the mapping and keeps the file open.
extension ReelFile: WeightProvider {
    public func weight(_ name: String) throws -> WeightTensor {
        let v = try tensor(name)
        return try WeightTensor(name: name, encoding: v.encoding, shape: v.shape, data: v.bytes, owner: self)
    }

    public func contains(_ name: String) -> Bool { tensorInfo(name) != nil }

    public var weightNames: [String] { tensors.map(\.name) }
}

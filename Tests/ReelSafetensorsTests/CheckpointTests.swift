import Foundation
import ReelCore
import ReelSafetensors
import XCTest

/// Checkpoint directories: discovery, the 2-shard fixture, and indexes that disagree with their shards.
final class CheckpointTests: XCTestCase {
    private let shard1 = "model-00001-of-00002.safetensors"
    private let shard2 = "model-00002-of-00002.safetensors"

    /// A scratch copy of the sharded fixture, with the index replaced by `weightMap` if given.
    private func shardedCopy(weightMap: [(String, String)]? = nil) throws -> String {
        let dir = try scratchDirectory(self)
        for name in [shard1, shard2, "model.safetensors.index.json"] {
            try FileManager.default.copyItem(atPath: Fixture.path("sharded/" + name), toPath: dir + "/" + name)
        }
        if let weightMap {
            let index: JSON = .object(JSONObject([("weight_map", .object(JSONObject(weightMap.map { ($0.0, JSON.string($0.1)) })))]))
            try FileManager.default.removeItem(atPath: dir + "/model.safetensors.index.json")
            try writeBytes(Array(index.serialized().utf8), to: dir + "/model.safetensors.index.json")
        }
        return dir
    }

    private func fixtureWeightMap() throws -> [(String, String)] {
        let index = try JSON.parse(readWholeFile(Fixture.path("sharded/model.safetensors.index.json")), source: "index")
        return try XCTUnwrap(index["weight_map"]?.object).map { ($0.key, $0.value.string!) }
    }

    func testShardedFixtureMatchesTheReferenceValues() throws {
        let ckpt = try SafetensorsCheckpoint(path: Fixture.path("sharded"))
        XCTAssertEqual(ckpt.indexPath, Fixture.path("sharded/model.safetensors.index.json"))
        XCTAssertEqual(ckpt.files.map(\.path), [Fixture.path("sharded/" + shard1), Fixture.path("sharded/" + shard2)])
        let expected = try XCTUnwrap(Fixture.expected()["sharded"]?["tensors"]?.object)
        XCTAssertEqual(Set(ckpt.names), Set(expected.keys))
        XCTAssertEqual(ckpt.names.count, expected.count)
        // Stable order: shard by shard, storage order within each.
        XCTAssertEqual(ckpt.names, ckpt.files.flatMap(\.names))
        for (name, e) in expected {
            let t = try ckpt.tensor(name)
            XCTAssertEqual(t.dtype.rawValue, e["dtype"]?.string)
            XCTAssertEqual(t.shape, e["shape"]?.array?.compactMap(\.int))
            XCTAssertEqual(try ckpt.file(for: name).path, Fixture.path("sharded/" + e["shard"]!.string!))
            XCTAssertEqual(try ckpt.rawBytes(name).count, t.byteCount)
            let want = try XCTUnwrap(e["f32"]?.array).map { expectedFloat($0)! }
            XCTAssertTrue(zip(try ckpt.float32(name), want).allSatisfy(sameFloat), name)
            XCTAssertEqual(try ckpt.nonFiniteCount(name), NonFiniteCount())
        }
        XCTAssertEqual(thrownError { try ckpt.tensor("absent") },
                       .tensorNotFound(source: Fixture.path("sharded/model.safetensors.index.json"), tensor: "absent"))
    }

    func testDiscovery() throws {
        // The index file itself, and a single file given directly.
        XCTAssertEqual(try SafetensorsCheckpoint(path: Fixture.path("sharded/model.safetensors.index.json")).files.count, 2)
        XCTAssertEqual(try SafetensorsCheckpoint(path: Fixture.path("special.safetensors")).names.count, 7)

        let dir = try scratchDirectory(self)
        XCTAssertEqual(thrownError { try SafetensorsCheckpoint(path: dir) }, .noCheckpoint(directory: dir))
        // A lone *.safetensors is taken.
        try FileManager.default.copyItem(atPath: Fixture.path("special.safetensors"), toPath: dir + "/weights.safetensors")
        XCTAssertEqual(try SafetensorsCheckpoint(path: dir).files.map(\.path), [dir + "/weights.safetensors"])
        // Two without an index are ambiguous.
        try FileManager.default.copyItem(atPath: Fixture.path("dtypes.safetensors"), toPath: dir + "/other.safetensors")
        XCTAssertEqual(thrownError { try SafetensorsCheckpoint(path: dir) },
                       .ambiguousCheckpoint(directory: dir, candidates: ["other.safetensors", "weights.safetensors"]))
        // model.safetensors wins over the others.
        try FileManager.default.copyItem(atPath: Fixture.path("dtypes.safetensors"), toPath: dir + "/model.safetensors")
        XCTAssertEqual(try SafetensorsCheckpoint(path: dir).files.map(\.path), [dir + "/model.safetensors"])
    }

    func testMissingShard() throws {
        let dir = try shardedCopy()
        try FileManager.default.removeItem(atPath: dir + "/" + shard2)
        let e = thrownError { try SafetensorsCheckpoint(path: dir) }
        guard case let .missingShard(index, shard, tensor)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(index, dir + "/model.safetensors.index.json")
        XCTAssertEqual(shard, shard2)
        XCTAssertTrue(try fixtureWeightMap().contains { $0 == (tensor, shard2) })
    }

    func testIndexListsATensorItsShardLacks() throws {
        let dir = try shardedCopy(weightMap: try fixtureWeightMap() + [("model.ghost.weight", shard1)])
        XCTAssertEqual(thrownError { try SafetensorsCheckpoint(path: dir) },
                       .tensorMissingFromShard(index: dir + "/model.safetensors.index.json", tensor: "model.ghost.weight", shard: shard1))
        // Listed in the wrong shard.
        let moved = try fixtureWeightMap().map { $0.0 == "lm_head.weight" ? ($0.0, shard1) : $0 }
        let dir2 = try shardedCopy(weightMap: moved)
        XCTAssertEqual(thrownError { try SafetensorsCheckpoint(path: dir2) },
                       .tensorMissingFromShard(index: dir2 + "/model.safetensors.index.json", tensor: "lm_head.weight", shard: shard1))
    }

    func testShardHoldsATensorTheIndexOmits() throws {
        let dir = try shardedCopy(weightMap: try fixtureWeightMap().filter { $0.0 != "model.embed.weight" })
        XCTAssertEqual(thrownError { try SafetensorsCheckpoint(path: dir) },
                       .tensorNotInIndex(index: dir + "/model.safetensors.index.json", tensor: "model.embed.weight", shard: shard1))
    }

    func testSameTensorInTwoShards() throws {
        let dir = try shardedCopy()
        // Replace shard 2 with a file that also holds a shard-1 tensor.
        var w = SafetensorsWriter()
        try w.add("model.embed.weight", float32: [1, 2], shape: [2])
        try w.write(to: dir + "/" + shard2, force: true)
        XCTAssertEqual(thrownError { try SafetensorsCheckpoint(path: dir) },
                       .tensorInTwoShards(tensor: "model.embed.weight", first: shard1, second: shard2))
    }

    func testMalformedIndexes() throws {
        let dir = try shardedCopy()
        let index = dir + "/model.safetensors.index.json"
        func rewrite(_ text: String) throws {
            try FileManager.default.removeItem(atPath: index)
            try writeBytes(Array(text.utf8), to: index)
        }
        try rewrite(#"{"metadata":{}}"#)
        XCTAssertEqual(thrownError { try SafetensorsCheckpoint(path: dir) },
                       .invalidIndex(path: index, key: "weight_map", reason: "missing or not an object"))
        try rewrite(#"{"weight_map":{"a":"../../etc/passwd"}}"#)
        XCTAssertEqual(thrownError { try SafetensorsCheckpoint(path: dir) },
                       .invalidIndex(path: index, key: "weight_map.a", reason: "not a relative shard file name"))
        try rewrite(#"{"weight_map":{"lm_head.weight":"\#(shard1)","lm_head.weight":"\#(shard2)"}}"#)
        XCTAssertEqual(thrownError { try SafetensorsCheckpoint(path: dir) },
                       .invalidIndex(path: index, key: "weight_map", reason: "\"lm_head.weight\" is listed twice"))
        try rewrite("not json")
        guard case .invalidIndex(index, "(document)", _)? = thrownError({ try SafetensorsCheckpoint(path: dir) }) else { return XCTFail() }
    }
}

/// An owned, 64-byte-aligned f32 activation buffer with a shape that can change within its capacity.
/// Allocate once, reuse every step: `reshape` never allocates.
public final class Tensor: @unchecked Sendable {
    /// f32 [capacity]
    public let data: UnsafeMutablePointer<Float>
    public let capacity: Int
    public private(set) var shape: [Int]

    /// A zeroed buffer of `shape`; `capacity` (elements) defaults to the shape's element count.
    public init(shape: [Int], capacity: Int? = nil) {
        let n = shape.reduce(1, *)
        self.capacity = max(capacity ?? n, n, 1)
        self.shape = shape
        let raw = UnsafeMutableRawPointer.allocate(byteCount: self.capacity * 4, alignment: 64)
        data = raw.bindMemory(to: Float.self, capacity: self.capacity)
        data.initialize(repeating: 0, count: self.capacity)
    }

    /// A buffer holding a copy of `values` with `shape`.
    public convenience init(_ values: [Float], shape: [Int]) throws {
        guard shape.reduce(1, *) == values.count else {
            throw RuntimeError.invalidArgument("\(values.count) values do not fill shape \(shape)")
        }
        self.init(shape: shape)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { UnsafeMutableRawPointer(data).deallocate() }

    public var count: Int { shape.reduce(1, *) }
    /// The last dimension (a row's length).
    public var rowLength: Int { shape.last ?? 1 }
    /// Rows: the product of all dimensions but the last.
    public var rows: Int { shape.dropLast().reduce(1, *) }

    /// Changes the shape in place; throws if it needs more than the capacity.
    public func reshape(_ newShape: [Int]) throws {
        let n = newShape.reduce(1, *)
        guard n <= capacity, newShape.allSatisfy({ $0 >= 0 }) else {
            throw RuntimeError.bufferTooSmall(what: "tensor reshape to \(newShape)", needed: n, capacity: capacity)
        }
        shape = newShape
    }

    /// Pointer to row `i` (of `rowLength` elements).
    @inline(__always) public func row(_ i: Int) -> UnsafeMutablePointer<Float> { data + i * rowLength }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }
    /// A copy of the current contents.
    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }
    /// A copy of row `i`.
    public func rowArray(_ i: Int) -> [Float] { Array(UnsafeBufferPointer(start: row(i), count: rowLength)) }
}

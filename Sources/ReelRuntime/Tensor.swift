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

    // Plain loops, not reduce/last: these run several times per op in the per-token path.
    public var count: Int {
        var n = 1
        for d in shape { n *= d }
        return n
    }
    /// The last dimension (a row's length).
    public var rowLength: Int { shape.isEmpty ? 1 : shape[shape.count - 1] }
    /// Rows: the product of all dimensions but the last.
    public var rows: Int {
        var n = 1
        for i in 0..<max(shape.count - 1, 0) { n *= shape[i] }
        return n
    }

    /// Changes the shape in place; throws if it needs more than the capacity.
    public func reshape(_ newShape: [Int]) throws {
        let n = newShape.reduce(1, *)
        guard n <= capacity, newShape.allSatisfy({ $0 >= 0 }) else {
            throw RuntimeError.bufferTooSmall(what: "tensor reshape to \(newShape)", needed: n, capacity: capacity)
        }
        shape = newShape
    }

    /// Sets a 2-D shape `[rows, columns]` in place (no allocation when the tensor is already 2-D: the per-token path).
    public func reshape(rows: Int, columns: Int) throws {
        guard rows >= 0, columns >= 0, rows * columns <= capacity else {
            throw RuntimeError.bufferTooSmall(what: "tensor reshape to [\(rows), \(columns)]", needed: rows * columns, capacity: capacity)
        }
        if shape.count == 2 {
            shape[0] = rows
            shape[1] = columns
        } else {
            shape = [rows, columns]
        }
    }

    /// Pointer to row `i` (of `rowLength` elements).
    @inline(__always) public func row(_ i: Int) -> UnsafeMutablePointer<Float> { data + i * rowLength }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }
    /// A copy of the current contents.
    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }
    /// A copy of row `i`.
    public func rowArray(_ i: Int) -> [Float] { Array(UnsafeBufferPointer(start: row(i), count: rowLength)) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Persistent worker threads that split one operation's index range across all cores.
///
/// No thread is created per operation: workers spin briefly on a generation counter, then sleep on a condition
/// variable. An operation is a set of chunks that the caller and the workers claim from a shared counter, so the
/// caller never waits for a share it could do itself: on a machine where a worker is descheduled (other processes
/// on the cores), the caller takes the remaining chunks and the operation ends without it. Workers take part only
/// while the operation is open (a Dekker-style handshake on `open`/`active`), so a late worker never touches a
/// finished operation. One operation at a time (a pool belongs to one model instance; not reentrant).
public final class ThreadPool: @unchecked Sendable {
    /// Threads taking part in an operation, the caller included.
    public let threadCount: Int

    private var threads: [pthread_t] = []
    private let generation = Atomic<Int>(0)
    private let sleeping = Atomic<Int>(0)
    /// 1 while the current operation accepts helpers.
    private let open = Atomic<Int>(0)
    /// Workers inside the current operation (registered before reading `open`).
    private let active = Atomic<Int>(0)
    /// The next unclaimed chunk, and chunks finished, of the current operation.
    private let nextChunk = Atomic<Int>(0)
    private let doneChunks = Atomic<Int>(0)
    private var chunkCount = 0
    private var stopping = false
    /// job(chunk, thread): runs one chunk on the calling thread (0 = the caller, 1… = workers).
    private var job: ((Int, Int) -> Void)?
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    // One slot per worker, allocated once: each worker touches only its own slot, so no lock (and no Swift array
    // whose copy-on-write check could race).
    private let scratchSlots: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>
    private let scratchCounts: UnsafeMutablePointer<Int>
    private var shared: UnsafeMutableRawPointer?
    private var sharedBytes = 0
    /// Spin iterations before a worker sleeps (about 20–50 µs): long enough to cover the gap between the ops of a
    /// forward pass, short enough not to steal cores from other processes when idle.
    private static let spinLimit = 20_000
    /// `parallelFor`'s guided schedule: each chunk is this fraction, per thread, of the units not yet handed out
    /// (1/(2·threads) of the rest), so chunks shrink toward the end of an operation and the last to finish are
    /// short; …
    public static let guidedShare = 2
    /// … but no chunk is smaller than 1/(this·threads) of the whole, which bounds their number (9 for 2
    /// threads) and keeps each a stream long enough for the prefetchers.
    public static let guidedLeast = 8
    /// Room for chunk bounds (the schedule above needs far fewer).
    private static let maxChunks = 64
    /// Chunk c of the current `parallelFor` is units bounds[c]..<bounds[c+1]; written by the caller before the
    /// operation opens, read by every thread during it.
    private let bounds = UnsafeMutablePointer<Int>.allocate(capacity: ThreadPool.maxChunks + 1)

    /// - Parameter threads: participating threads; defaults to the number of online cores.
    public init(threads: Int? = nil) {
        let n = max(1, threads ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        threadCount = n
        scratchSlots = .allocate(capacity: n)
        scratchSlots.initialize(repeating: nil, count: n)
        scratchCounts = .allocate(capacity: n)
        scratchCounts.initialize(repeating: 0, count: n)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
        Kernels.configureBLAS()
        for w in 1..<max(n, 1) {
            let box = Unmanaged.passRetained(WorkerStart(pool: self, index: w))
            var t = pthread_t()
            #if canImport(Glibc)
            let rc = pthread_create(&t, nil, { arg in
                let s = Unmanaged<WorkerStart>.fromOpaque(arg!).takeRetainedValue()
                s.pool.workerLoop(s.index)
                return nil
            }, box.toOpaque())
            #else
            let rc = pthread_create(&t, nil, { arg in
                let s = Unmanaged<WorkerStart>.fromOpaque(arg).takeRetainedValue()
                s.pool.workerLoop(s.index)
                return nil
            }, box.toOpaque())
            #endif
            if rc == 0 { self.threads.append(t) } else { box.release() }
        }
    }

    private final class WorkerStart {
        unowned(unsafe) let pool: ThreadPool  // deinit joins the workers before the pool is freed
        let index: Int
        init(pool: ThreadPool, index: Int) { self.pool = pool; self.index = index }
    }

    /// Stops and joins the workers. Called by `deinit`; safe to call twice.
    public func shutdown() {
        guard !threads.isEmpty else { return }
        pthread_mutex_lock(&mutex)
        stopping = true
        generation.add(1, ordering: .sequentiallyConsistent)
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
        for t in threads { pthread_join(t, nil) }
        threads = []
    }

    deinit {
        shutdown()
        for w in 0..<threadCount { scratchSlots[w].map { UnsafeMutableRawPointer($0).deallocate() } }
        scratchSlots.deallocate()
        scratchCounts.deallocate()
        bounds.deallocate()
        shared?.deallocate()
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&cond)
    }

    private func workerLoop(_ index: Int) {
        var seen = 0
        while true {
            var spins = 0
            var g = generation.load(ordering: .acquiring)
            while g == seen {
                spins += 1
                if spins > Self.spinLimit {
                    pthread_mutex_lock(&mutex)
                    sleeping.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(&cond, &mutex) }
                    sleeping.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(&mutex)
                    spins = 0
                }
                g = generation.load(ordering: .acquiring)
            }
            seen = g
            if stopping { return }
            help(index)
        }
    }

    /// Takes chunks of the open operation, if any, until none are left.
    private func help(_ thread: Int) {
        active.add(1, ordering: .sequentiallyConsistent)
        if open.load(ordering: .sequentiallyConsistent) == 1 {
            claimChunks(thread)
        }
        active.subtract(1, ordering: .sequentiallyConsistent)
    }

    @inline(__always) private func claimChunks(_ thread: Int) {
        let n = chunkCount
        while true {
            let c = nextChunk.add(1, ordering: .relaxed).oldValue
            if c >= n { return }
            job!(c, thread)
            doneChunks.add(1, ordering: .releasing)
        }
    }

    /// Runs `body(worker)` once for each worker index 0..<threadCount and waits for all. Calls may run on fewer
    /// threads than `threadCount` (a descheduled worker's index is taken by another), never two at once per index.
    public func run(_ body: (Int) -> Void) {
        dispatch(chunks: threadCount) { c, _ in body(c) }
    }

    /// Runs `job(chunk, thread)` for every chunk in 0..<chunks across the caller and the workers; returns when all
    /// have finished. `thread` is unique among the calls running at one time (for per-thread scratch).
    private func dispatch(chunks: Int, _ body: (Int, Int) -> Void) {
        if threads.isEmpty || chunks <= 1 {
            for c in 0..<chunks { body(c, 0) }
            return
        }
        withoutActuallyEscaping(body) { b in
            job = b
            chunkCount = chunks
            nextChunk.store(0, ordering: .relaxed)
            doneChunks.store(0, ordering: .relaxed)
            open.store(1, ordering: .sequentiallyConsistent)  // publishes job, chunkCount and the counters
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleeping.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&cond)
                pthread_mutex_unlock(&mutex)
            }
            claimChunks(0)
            var spins = 0
            while doneChunks.load(ordering: .acquiring) < chunks {
                spins += 1
                if spins > 1000 { sched_yield() }
            }
            // Close, then wait out helpers that registered while it was open (they claim nothing more).
            open.store(0, ordering: .sequentiallyConsistent)
            while active.load(ordering: .sequentiallyConsistent) > 0 { sched_yield() }
            job = nil
        }
    }

    /// Splits `0..<count` into contiguous chunks (multiples of `granularity`, except the last), shrinking toward the
    /// end (`guidedShare`, `guidedLeast`), and runs `body(range, thread)` on them in parallel; `thread` indexes
    /// per-thread scratch. A thread may run several chunks. Empty ranges are not passed to `body`.
    public func parallelFor(_ count: Int, granularity: Int = 1, _ body: (Range<Int>, Int) -> Void) {
        guard count > 0 else { return }
        let g = max(1, granularity)
        let units = (count + g - 1) / g
        if threadCount <= 1 || units <= 1 { body(0..<count, 0); return }
        let share = Self.guidedShare * threadCount, least = max(1, units / (Self.guidedLeast * threadCount))
        var chunks = 0, at = 0
        while at < units && chunks < Self.maxChunks - 1 {
            bounds[chunks] = at
            at += min(units - at, max(least, (units - at + share - 1) / share))
            chunks += 1
        }
        bounds[chunks] = units
        let b = bounds
        dispatch(chunks: chunks) { c, thread in
            let lo = min(count, b[c] * g), hi = min(count, b[c + 1] * g)
            if lo < hi { body(lo..<hi, thread) }
        }
    }

    /// Scratch of at least `bytes` bytes shared by all workers (64-byte aligned), kept and reused: fill it on the
    /// calling thread before `run`/`parallelFor`, read it inside. Not for use inside a parallel body.
    public func sharedScratch(bytes: Int) -> UnsafeMutableRawPointer {
        if sharedBytes < bytes {
            shared?.deallocate()
            shared = .allocate(byteCount: bytes, alignment: 64)
            sharedBytes = bytes
        }
        return shared!
    }

    /// Per-worker scratch of at least `count` floats, kept and reused across operations (grows only when asked for
    /// more). Call only from inside `body`, with that body's own worker index.
    public func scratch(_ worker: Int, count: Int) -> UnsafeMutablePointer<Float> {
        if scratchCounts[worker] < count {
            scratchSlots[worker].map { UnsafeMutableRawPointer($0).deallocate() }
            let raw = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64)
            scratchSlots[worker] = raw.bindMemory(to: Float.self, capacity: count)
            scratchCounts[worker] = count
        }
        return scratchSlots[worker]!
    }
}

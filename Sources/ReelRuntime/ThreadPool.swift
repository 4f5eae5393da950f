#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Persistent worker threads that split one operation's index range across all cores.
///
/// No thread is created per operation: workers spin briefly on a generation counter, then sleep on a condition
/// variable. An operation's range is split into one contiguous share per thread, which its thread reads front to
/// back and the others take from the back of once their own is done (`parallelFor`), so the caller never waits for
/// work it could do itself: on a machine where a worker is descheduled (other processes on the cores), the caller
/// takes the rest of that worker's share and the operation ends without it. Workers take part only
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
    /// Units of the current operation finished.
    private let doneUnits = Atomic<Int>(0)
    /// Each thread's share of the current operation's units not yet taken, as lo | hi << 32.
    private let spans: UnsafeMutablePointer<Atomic<UInt64>>
    private var stopping = false
    /// work(thread): takes and runs pieces of the current operation on the calling thread (0 = the caller, 1… =
    /// workers) until none is left.
    private var work: ((Int) -> Void)?
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
    /// - Parameter threads: participating threads; defaults to the number of online cores.
    public init(threads: Int? = nil) {
        let n = max(1, threads ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        threadCount = n
        scratchSlots = .allocate(capacity: n)
        scratchSlots.initialize(repeating: nil, count: n)
        scratchCounts = .allocate(capacity: n)
        scratchCounts.initialize(repeating: 0, count: n)
        spans = .allocate(capacity: n)
        for t in 0..<n { (spans + t).initialize(to: Atomic<UInt64>(0)) }
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
        spans.deinitialize(count: threadCount)
        spans.deallocate()
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

    /// Runs the open operation's work, if it is still open, on this worker.
    private func help(_ thread: Int) {
        active.add(1, ordering: .sequentiallyConsistent)
        if open.load(ordering: .sequentiallyConsistent) == 1 {
            work!(thread)
        }
        active.subtract(1, ordering: .sequentiallyConsistent)
    }

    /// Runs `body(worker)` once for each worker index 0..<threadCount and waits for all. Calls may run on fewer
    /// threads than `threadCount` (a descheduled worker's index is taken by another), never two at once per index.
    public func run(_ body: (Int) -> Void) {
        parallelFor(threadCount) { indices, _ in for i in indices { body(i) } }
    }

    /// Splits `0..<count` into one contiguous share per thread (in multiples of `granularity`) and runs
    /// `body(range, thread)` over all of it in parallel; `thread` indexes per-thread scratch and is unique among the
    /// calls running at one time. Empty ranges are not passed to `body`.
    ///
    /// Each thread reads its own share front to back, in pieces that halve down to `least` units, so its rows are
    /// one address stream (the hardware prefetchers and the kernels' prefetches run on across pieces) and the
    /// piece it holds at the end is short. A thread whose share is done takes pieces from the back of the share
    /// with the most left (half of what is left, at least `least` units): threads that started late or run slowly
    /// (a descheduled worker) are relieved, and a thread waits at the end for at most the piece another holds.
    /// The shared-counter schedule this replaced handed out guided chunks in address order: every chunk a new
    /// stream, and the last one 1/16 of the operation, for which the caller waited 430–500 µs of each 11.8 ms q4
    /// decode step (docs/performance.md).
    public func parallelFor(_ count: Int, granularity: Int = 1, _ body: (Range<Int>, Int) -> Void) {
        guard count > 0 else { return }
        let g = max(1, granularity)
        let units = (count + g - 1) / g
        if threads.isEmpty || units <= 1 { body(0..<count, 0); return }
        precondition(units < 1 << 31, "parallelFor: too many units")
        let n = threadCount
        for t in 0..<n { spans[t].store(Self.span(units * t / n, units * (t + 1) / n), ordering: .relaxed) }
        let least = max(1, units / (Self.leastShare * n))
        dispatch(units: units) { thread in
            var done = 0
            // Its own share first; once that is empty (others only ever shrink it), pieces of the others'.
            while let r = self.takeFront(thread, least: least) ?? self.steal(least: least) {
                body(min(count, r.lowerBound * g)..<min(count, r.upperBound * g), thread)
                done += r.count
            }
            self.doneUnits.add(done, ordering: .releasing)
        }
    }

    /// The smallest piece is 1/(this·threads) of an operation's units: the piece a thread may be waited for at the end.
    /// Measured step by step against 4, 16, 256 and 1024 (docs/runtime.md): 64 beat 16 (q8 decode +1–3%) and 4,
    /// and 256 or 1024 were no better.
    public static let leastShare = 64

    @inline(__always) private static func span(_ lo: Int, _ hi: Int) -> UInt64 { UInt64(lo) | UInt64(hi) << 32 }
    @inline(__always) private static func bounds(_ s: UInt64) -> (Int, Int) { (Int(s & 0xffff_ffff), Int(s >> 32)) }

    /// The next piece from the front of share `t`: half of what is left, at least `least` units.
    @inline(__always) private func takeFront(_ t: Int, least: Int) -> Range<Int>? {
        var s = spans[t].load(ordering: .relaxed)
        while true {
            let (lo, hi) = Self.bounds(s)
            if lo >= hi { return nil }
            let end = min(hi, lo + max(least, (hi - lo) / 2))
            let (ok, seen) = spans[t].compareExchange(expected: s, desired: Self.span(end, hi), ordering: .relaxed)
            if ok { return lo..<end }
            s = seen
        }
    }

    /// A piece from the back of the share with the most units left: half of them, at least `least`.
    private func steal(least: Int) -> Range<Int>? {
        while true {
            var best = -1, most = 0, bs: UInt64 = 0
            for t in 0..<threadCount {
                let s = spans[t].load(ordering: .relaxed)
                let (lo, hi) = Self.bounds(s)
                if hi - lo > most { best = t; most = hi - lo; bs = s }
            }
            if best < 0 { return nil }
            let (lo, hi) = Self.bounds(bs)
            let start = max(lo, hi - max(least, (hi - lo) / 2))
            if spans[best].compareExchange(expected: bs, desired: Self.span(lo, start), ordering: .relaxed).exchanged {
                return start..<hi
            }
        }
    }

    /// Runs `work(thread)` on the caller (thread 0) and on every worker that arrives while the operation is open;
    /// returns when `units` units have been reported done (`doneUnits`).
    private func dispatch(units: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { b in
            work = b
            doneUnits.store(0, ordering: .relaxed)
            open.store(1, ordering: .sequentiallyConsistent)  // publishes work, the spans and the counter
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleeping.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&cond)
                pthread_mutex_unlock(&mutex)
            }
            b(0)
            var spins = 0
            while doneUnits.load(ordering: .acquiring) < units {
                spins += 1
                if spins > 1000 { sched_yield() }
            }
            // Close, then wait out helpers that registered while it was open (they find no piece left).
            open.store(0, ordering: .sequentiallyConsistent)
            while active.load(ordering: .sequentiallyConsistent) > 0 { sched_yield() }
            work = nil
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

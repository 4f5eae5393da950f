#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Persistent worker threads that split one operation's index range across all cores.
///
/// No thread is created per operation: workers spin briefly on a generation counter, then sleep on a condition
/// variable; the caller runs the first share itself and spins until the others finish. One operation at a time
/// (a pool belongs to one model instance; `parallelFor` is not reentrant).
public final class ThreadPool: @unchecked Sendable {
    /// Threads taking part in an operation, the caller included.
    public let threadCount: Int

    private var threads: [pthread_t] = []
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let sleeping = Atomic<Int>(0)
    private var stopping = false
    private var job: ((Int) -> Void)?
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
            job?(index)
            pending.subtract(1, ordering: .releasing)
        }
    }

    /// Runs `body(worker)` once on each of the `threadCount` threads (worker 0 is the caller) and waits for all.
    public func run(_ body: (Int) -> Void) {
        if threads.isEmpty {
            for w in 0..<threadCount { body(w) }  // no workers could be started: run the shares in turn
            return
        }
        withoutActuallyEscaping(body) { b in
            job = b
            pending.store(threads.count, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleeping.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&cond)
                pthread_mutex_unlock(&mutex)
            }
            b(0)
            var spins = 0
            while pending.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins > 1000 { sched_yield() }
            }
            job = nil
        }
    }

    /// Splits `0..<count` into one contiguous range per thread (a multiple of `granularity` each, except the last)
    /// and runs `body(range, worker)` on them in parallel. Ranges may be empty; `body` is not called for those.
    public func parallelFor(_ count: Int, granularity: Int = 1, _ body: (Range<Int>, Int) -> Void) {
        guard count > 0 else { return }
        let g = max(1, granularity)
        let units = (count + g - 1) / g
        let t = min(threadCount, units)
        if t <= 1 { body(0..<count, 0); return }
        run { w in
            guard w < t else { return }
            let lo = min(count, (units * w / t) * g)
            let hi = min(count, (units * (w + 1) / t) * g)
            if lo < hi { body(lo..<hi, w) }
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

#ifndef SLUICE_BENCH_LM_BANDWIDTH_HPP
#define SLUICE_BENCH_LM_BANDWIDTH_HPP

// The machine's memory bandwidth, STREAM-style: copy (c = a), triad (a = b + s c) and read (sum of
// a) over three arrays much larger than the caches, split over `threads` threads (each touches its
// own slice first, so its pages are its own), best of `runs`. Bytes are counted as STREAM counts
// them: copy 16 per element, triad 24, read 8 (the write-allocate reads of the stores are not
// counted, so copy and triad understate the traffic the memory sees).

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace sluice::bench::lm {

struct bandwidth_result {
    double copy_gbs = 0, triad_gbs = 0, read_gbs = 0; // 1e9 bytes per second
    std::size_t array_bytes = 0;
    unsigned threads = 0, runs = 0;
};

inline bandwidth_result measure_bandwidth(std::size_t array_bytes, unsigned threads, unsigned runs) {
    using clock_type = std::chrono::steady_clock;
    const std::size_t n = array_bytes / sizeof(double);
    // Not value-initialised: each thread first-touches its own slice.
    std::unique_ptr<double[]> a(new double[n]), b(new double[n]), c(new double[n]);
    threads = std::max(1u, threads);
    std::vector<double> sums(threads * 8, 0.0); // one cache line apart

    enum class op { init, copy, triad, read, stop };
    op current = op::init;
    std::barrier sync(std::ptrdiff_t(threads) + 1);
    auto worker = [&](unsigned t) {
        const std::size_t begin = n * t / threads, end = n * (t + 1) / threads;
        double* __restrict pa = a.get();
        double* __restrict pb = b.get();
        double* __restrict pc = c.get();
        for (;;) {
            sync.arrive_and_wait(); // go
            const op o = current;
            if (o == op::stop) return;
            switch (o) {
            case op::init:
                for (std::size_t i = begin; i < end; ++i) pa[i] = 1.0, pb[i] = 2.0, pc[i] = 0.0;
                break;
            case op::copy:
                for (std::size_t i = begin; i < end; ++i) pc[i] = pa[i];
                break;
            case op::triad:
                for (std::size_t i = begin; i < end; ++i) pa[i] = pb[i] + 3.0 * pc[i];
                break;
            case op::read: {
                double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                std::size_t i = begin;
                for (; i + 4 <= end; i += 4) s0 += pa[i], s1 += pa[i + 1], s2 += pa[i + 2], s3 += pa[i + 3];
                for (; i < end; ++i) s0 += pa[i];
                sums[t * 8] += s0 + s1 + s2 + s3;
                break;
            }
            case op::stop: break;
            }
            sync.arrive_and_wait(); // done
        }
    };
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker, t);

    auto timed = [&](op o) {
        current = o;
        const auto start = clock_type::now();
        sync.arrive_and_wait();
        sync.arrive_and_wait();
        return std::chrono::duration<double>(clock_type::now() - start).count();
    };
    timed(op::init);
    bandwidth_result r;
    r.array_bytes = n * sizeof(double);
    r.threads = threads;
    r.runs = runs;
    double best_copy = 1e30, best_triad = 1e30, best_read = 1e30;
    for (unsigned i = 0; i < runs; ++i) {
        best_copy = std::min(best_copy, timed(op::copy));
        best_triad = std::min(best_triad, timed(op::triad));
        best_read = std::min(best_read, timed(op::read));
    }
    current = op::stop;
    sync.arrive_and_wait();
    pool.clear();
    const double bytes = double(n) * sizeof(double);
    r.copy_gbs = 2 * bytes / best_copy / 1e9;
    r.triad_gbs = 3 * bytes / best_triad / 1e9;
    r.read_gbs = bytes / best_read / 1e9;
    volatile double keep = sums[0]; // the read loop's result is used
    (void)keep;
    return r;
}

} // namespace sluice::bench::lm

#endif

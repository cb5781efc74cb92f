#ifndef SLUICE_METERING_PIPELINE_HPP
#define SLUICE_METERING_PIPELINE_HPP

// usage event -> bounded queue -> spool (group commit) -> one delivery thread per sink.
//
// record() is what the request path calls: it moves the event into a queue and returns; the
// writer thread turns queued events into spool records and fsyncs them in groups; each sink's
// thread reads the spool from its cursor, delivers in batches, and backs off while the sink is
// down. Nothing is dropped: a full queue makes record() write to the spool itself (overflowed()),
// and a sink that is down only grows the backlog on disk.
//
//   std::vector<std::unique_ptr<metering::sink>> sinks;
//   sinks.push_back(*metering::make_sink("redis://127.0.0.1:6379/usage"));
//   metering::pipeline usage({.spool_dir = "var/spool/usage"}, std::move(sinks));
//   usage.record(event);   // on the request path, after the response is written

#include <sluice/core/error.hpp>
#include <sluice/core/log.hpp>
#include <sluice/core/result.hpp>
#include <sluice/metering/event.hpp>
#include <sluice/metering/sinks.hpp>
#include <sluice/metering/spool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sluice::metering {

struct pipeline_options {
    std::filesystem::path spool_dir = "var/spool/usage";
    std::chrono::milliseconds fsync_interval{20}; // group commit: the longest an event waits for its fsync
    std::size_t fsync_records = 4096;             // ... or this many events, whichever comes first
    std::size_t queue_capacity = 65536;           // events in memory before record() spools them itself
    std::uint64_t segment_bytes = std::uint64_t(64) << 20;
    std::size_t batch_records = 512; // events per deliver() call
    std::chrono::milliseconds retry_min{100}; // backoff while a sink is down, doubling up to retry_max
    std::chrono::milliseconds retry_max{10000};
    std::chrono::milliseconds drain_timeout{2000}; // how long stop() goes on delivering
};

class pipeline {
public:
    using clock = std::chrono::steady_clock;

    /// Opens the spool and starts the threads; an unusable spool directory is the error.
    static core::result<std::unique_ptr<pipeline>> open(pipeline_options opt,
                                                        std::vector<std::unique_ptr<sink>> sinks) {
        auto s = open_spool(opt, sinks);
        if (!s) return std::move(s).error();
        return std::unique_ptr<pipeline>(new pipeline(std::move(opt), std::move(*s), std::move(sinks)));
    }

    /// As open(), throwing std::runtime_error when the spool cannot be opened.
    pipeline(pipeline_options opt, std::vector<std::unique_ptr<sink>> sinks)
        : pipeline(opt, open_spool_or_throw(opt, sinks), std::move(sinks)) {}

    pipeline(const pipeline&) = delete;
    pipeline& operator=(const pipeline&) = delete;

    ~pipeline() {
        stop();
        std::lock_guard w(write_m_);
        if (!pending_.empty())
            log::error("metering.events_lost", {{"events", std::uint64_t(pending_.size())},
                                                {"reason", "the spool refused them until shutdown"}});
    }

    /// Takes one event for billing. Cheap and never blocks on I/O unless the queue is full, when
    /// it writes to the spool itself rather than drop the event.
    void record(usage_event e) noexcept {
        try {
            bool stopping;
            {
                std::unique_lock lock(q_m_);
                stopping = stopping_;
                if (!stopping && queue_.size() < opt_.queue_capacity) {
                    queue_.push_back(std::move(e));
                    const bool first = queue_.size() == 1;
                    lock.unlock();
                    recorded_.fetch_add(1, std::memory_order_relaxed);
                    if (first) q_cv_.notify_one();
                    return;
                }
            }
            if (!stopping) overflowed_.fetch_add(1, std::memory_order_relaxed);
            std::lock_guard w(write_m_);
            // The queue goes first: the spool keeps events in the order they were recorded.
            spool_events_locked(&e);
            recorded_.fetch_add(1, std::memory_order_relaxed);
            {
                std::lock_guard lock(q_m_);
                stopping = stopping_; // the writer may have finished meanwhile
                wake_ = !stopping;    // the writer owns the group commit while it runs
            }
            if (stopping) sync_locked();
            else q_cv_.notify_one();
        } catch (const std::exception& x) {
            lost_.fetch_add(1, std::memory_order_relaxed);
            log::error("metering.record_failed", {{"error", x.what()}});
        } catch (...) {
            lost_.fetch_add(1, std::memory_order_relaxed);
        }
    }

    /// Spools and fsyncs everything recorded, delivers what it can within drain_timeout, and joins
    /// the threads. Later record() calls write to the spool synchronously.
    void stop() noexcept {
        if (stopped_.exchange(true)) return;
        {
            std::lock_guard lock(q_m_);
            stopping_ = true;
            writer_deadline_ = clock::now() + opt_.drain_timeout;
        }
        q_cv_.notify_all();
        if (writer_.joinable()) writer_.join();
        {
            std::lock_guard lock(d_m_);
            draining_ = true;
            drain_deadline_ = clock::now() + opt_.drain_timeout;
        }
        d_cv_.notify_all();
        for (auto& l : lanes_)
            if (l->thread.joinable()) l->thread.join();
    }

    // ---------------------------------------------------------------- counters for /metrics
    std::uint64_t recorded() const noexcept { return recorded_.load(std::memory_order_relaxed); }
    /// Events on disk (fsync'd) by this process.
    std::uint64_t durable() const noexcept { return spool_->durable(); }
    std::uint64_t delivered(std::size_t sink) const {
        return lanes_.at(sink)->delivered.load(std::memory_order_relaxed);
    }
    /// Durable events the slowest sink has not been delivered.
    std::uint64_t backlog() const { return spool_->backlog(); }
    std::uint64_t sink_errors() const noexcept { return sink_errors_.load(std::memory_order_relaxed); }
    /// Events record() spooled itself because the queue was full.
    std::uint64_t overflowed() const noexcept { return overflowed_.load(std::memory_order_relaxed); }
    /// Events that could not be kept: out of memory, or one too large for a spool record.
    std::uint64_t lost() const noexcept { return lost_.load(std::memory_order_relaxed); }

    std::size_t sink_count() const noexcept { return lanes_.size(); }
    std::string sink_name(std::size_t i) const { return lanes_.at(i)->s->name(); }

private:
    struct lane {
        std::unique_ptr<sink> s;
        std::thread thread;
        std::atomic<std::uint64_t> delivered{0};
    };

    static core::result<std::unique_ptr<spool>> open_spool(const pipeline_options& opt,
                                                           const std::vector<std::unique_ptr<sink>>& sinks) {
        std::vector<std::string> names;
        for (const auto& s : sinks) {
            if (!s) return core::error{core::error_kind::invalid_request, "metering: a sink is null", "sink", {}};
            names.push_back(s->name());
        }
        return spool::open(spool_options{opt.spool_dir, opt.segment_bytes, opt.fsync_interval, opt.fsync_records},
                           std::move(names));
    }

    static std::unique_ptr<spool> open_spool_or_throw(const pipeline_options& opt,
                                                      const std::vector<std::unique_ptr<sink>>& sinks) {
        auto s = open_spool(opt, sinks);
        if (!s) throw std::runtime_error(s.error().message);
        return std::move(*s);
    }

    // Sinks by rvalue reference: the spool is opened from their names before they are moved.
    pipeline(pipeline_options opt, std::unique_ptr<spool> s, std::vector<std::unique_ptr<sink>>&& sinks)
        : opt_(std::move(opt)), spool_(std::move(s)) {
        opt_.batch_records = std::max<std::size_t>(opt_.batch_records, 1);
        for (auto& sk : sinks) {
            auto l = std::make_unique<lane>();
            l->s = std::move(sk);
            lanes_.push_back(std::move(l));
        }
        writer_ = std::thread([this] { write_loop(); });
        for (std::size_t i = 0; i < lanes_.size(); ++i)
            lanes_[i]->thread = std::thread([this, i] { deliver_loop(i); });
    }

    // ---------------------------------------------------------------- the writer (under write_m_)
    // Moves the queue, then `extra`, into the spool in order; what the spool refuses waits in
    // pending_ for the next try.
    bool spool_events_locked(usage_event* extra) {
        {
            std::lock_guard lock(q_m_);
            std::swap(queue_, taken_); // taken_ is empty and keeps its capacity for the next swap
        }
        for (auto& e : taken_) pending_.push_back(std::move(e));
        taken_.clear();
        if (extra) pending_.push_back(std::move(*extra));
        while (!pending_.empty()) {
            auto r = spool_->append(to_json(pending_.front()));
            if (!r && r.error().kind == core::error_kind::invalid_request) {
                // No retry can store it (over the record limit): it would block every event behind it.
                lost_.fetch_add(1, std::memory_order_relaxed);
                const std::string_view rid = pending_.front().request_id;
                log::error("metering.event_dropped",
                           {{"request_id", rid.substr(0, 128)}, {"error", r.error().message}});
            } else if (!r) {
                spool_trouble(r.error().message);
                return false;
            }
            pending_.pop_front();
        }
        return true;
    }

    bool sync_locked() {
        if (spool_->unsynced() == 0) return true;
        auto r = spool_->sync();
        if (!r) {
            spool_trouble(r.error().message);
            return false;
        }
        if (spool_failing_) {
            spool_failing_ = false;
            log::info("metering.spool_ok", {{"dir", spool_->dir().string()}});
        }
        {
            std::lock_guard lock(d_m_);
            ++generation_;
        }
        d_cv_.notify_all();
        return true;
    }

    void spool_trouble(const std::string& message) {
        if (spool_failing_) return; // one line per outage, not per event
        spool_failing_ = true;
        log::error("metering.spool_failing", {{"dir", spool_->dir().string()}, {"error", message}});
    }

    void write_loop() {
        std::optional<clock::time_point> wake_at;
        for (;;) {
            bool stopping;
            clock::time_point deadline;
            {
                std::unique_lock lock(q_m_);
                auto ready = [&] { return !queue_.empty() || stopping_ || wake_; };
                if (wake_at) q_cv_.wait_until(lock, *wake_at, ready);
                else q_cv_.wait(lock, ready);
                wake_ = false;
                stopping = stopping_;
                deadline = writer_deadline_;
            }
            std::lock_guard w(write_m_);
            bool ok = spool_events_locked(nullptr);
            if (stopping || spool_->sync_due(clock::now())) ok = sync_locked() && ok;
            if (ok) {
                // Once stopping_ is seen no event enters the queue, so this pass took the last.
                if (stopping) return;
                wake_at = spool_->sync_deadline();
            } else {
                if (stopping && clock::now() >= deadline) return; // the destructor reports pending_
                wake_at = clock::now() + opt_.retry_min;
            }
        }
    }

    // ---------------------------------------------------------------- delivery, one thread per sink
    void deliver_loop(std::size_t i) {
        lane& l = *lanes_[i];
        std::optional<spool_batch> held; // read and not yet accepted: offered again as it is
        auto backoff = opt_.retry_min;
        bool down = false;
        std::uint64_t failures = 0;
        for (;;) {
            std::uint64_t gen;
            {
                std::lock_guard lock(d_m_);
                if (draining_ && clock::now() >= drain_deadline_) return;
                gen = generation_;
            }
            if (!held) {
                const auto from = spool_->cursor(i);
                auto r = spool_->read(from, opt_.batch_records);
                if (!r) {
                    log::warn("metering.spool_read_failed", {{"sink", l.s->name()}, {"error", r.error().message}});
                    if (!pause(backoff)) return;
                    continue;
                }
                if (r->payloads.empty()) {
                    if (!(r->next == from)) commit(i, r->next); // stepped past a finished segment
                    std::unique_lock lock(d_m_);
                    if (draining_) return; // caught up with a spool that no longer grows
                    d_cv_.wait(lock, [&] { return generation_ != gen || draining_; });
                    continue;
                }
                held = std::move(*r);
            }
            bool ok = false;
            std::string why;
            try {
                ok = l.s->deliver(held->payloads);
                if (!ok) why = l.s->last_error();
            } catch (const std::exception& x) {
                why = x.what();
            } catch (...) {
                why = "unknown exception";
            }
            if (ok) {
                l.delivered.fetch_add(held->payloads.size(), std::memory_order_relaxed);
                commit(i, held->next);
                held.reset();
                backoff = opt_.retry_min;
                if (down) {
                    down = false;
                    log::info("metering.sink_up", {{"sink", l.s->name()}, {"failures", failures}});
                    failures = 0;
                }
                continue;
            }
            sink_errors_.fetch_add(1, std::memory_order_relaxed);
            ++failures;
            if (!down) {
                down = true;
                log::warn("metering.sink_down",
                          {{"sink", l.s->name()}, {"error", why}, {"backlog", spool_->backlog()}});
            }
            if (!pause(backoff)) return;
            backoff = std::min(backoff * 2, opt_.retry_max);
        }
    }

    void commit(std::size_t i, const spool_position& next) {
        // A cursor that does not persist means a replay after a restart, never a loss.
        if (auto r = spool_->commit(i, next); !r)
            log::warn("metering.cursor_write_failed", {{"sink", lanes_[i]->s->name()}, {"error", r.error().message}});
    }

    // Waits `d`, cut short by the drain deadline; false when that has passed.
    bool pause(std::chrono::milliseconds d) {
        const auto start = clock::now();
        std::unique_lock lock(d_m_);
        for (;;) {
            auto until = start + d;
            if (draining_) until = std::min(until, drain_deadline_);
            if (clock::now() >= until) break;
            d_cv_.wait_until(lock, until);
        }
        return !(draining_ && clock::now() >= drain_deadline_);
    }

    pipeline_options opt_;
    std::unique_ptr<spool> spool_;
    std::vector<std::unique_ptr<lane>> lanes_;

    // The request side.
    std::mutex q_m_;
    std::condition_variable q_cv_;
    std::vector<usage_event> queue_;
    bool stopping_ = false;
    bool wake_ = false; // record() spooled events itself: the writer owes them an fsync
    clock::time_point writer_deadline_{};

    // The writer side: the spool's append/sync and everything below run under write_m_.
    std::mutex write_m_;
    std::vector<usage_event> taken_;
    std::deque<usage_event> pending_;
    bool spool_failing_ = false;
    std::thread writer_;

    // The delivery side.
    std::mutex d_m_;
    std::condition_variable d_cv_;
    std::uint64_t generation_ = 0; // bumped at each fsync: new records to read
    bool draining_ = false;
    clock::time_point drain_deadline_{};

    std::atomic<bool> stopped_{false};
    std::atomic<std::uint64_t> recorded_{0};
    std::atomic<std::uint64_t> overflowed_{0};
    std::atomic<std::uint64_t> sink_errors_{0};
    std::atomic<std::uint64_t> lost_{0};
};

} // namespace sluice::metering

#endif

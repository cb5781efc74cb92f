#ifndef SLUICE_METERING_SPOOL_HPP
#define SLUICE_METERING_SPOOL_HPP

// The durable local spool: usage events are on disk before any sink sees them, so a sink that is
// down, a crash or a SIGKILL loses nothing that was acknowledged (durable()).
//
//   <dir>/00000000000000000000.seg   append-only segments, named by the sequence number of their
//   <dir>/00000000000000004096.seg   first record, rolled at segment_bytes
//   <dir>/<sink>-<hash>.cursor       "segment offset\n": where each sink has been delivered up to
//
// A record is [u32 length LE][u32 crc32c(payload) LE][payload]. On open every segment is checked;
// the first bad record (short, bad length, bad crc) ends it: a torn tail is cut off, and appends
// go on after the last good record. Segments every sink has passed are deleted.
//
// One writer (append, sync) at a time; read, commit and the counters may run on other threads.

#include <sluice/core/error.hpp>
#include <sluice/core/log.hpp>
#include <sluice/core/result.hpp>
#include <sluice/metering/crc32c.hpp>
#include <sluice/metering/segment.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sluice::metering {

struct spool_options {
    std::filesystem::path dir;
    std::uint64_t segment_bytes = std::uint64_t(64) << 20;
    // Group commit: an appended record waits at most this long, or for this many others, before
    // the fsync that makes it durable.
    std::chrono::milliseconds fsync_interval{20};
    std::size_t fsync_records = 4096;
};

/// A place in the spool: a segment (its base sequence number), a byte offset in it, and the
/// sequence number of the record that starts there.
struct spool_position {
    std::uint64_t segment = 0;
    std::uint64_t offset = 0;
    std::uint64_t seq = 0;
    friend bool operator==(const spool_position&, const spool_position&) = default;
};

struct spool_batch {
    std::vector<std::string> payloads;
    spool_position next; // commit this once the payloads are delivered
};

namespace detail {

/// A file name for a sink's cursor: readable, and distinct for distinct names.
inline std::string cursor_file_name(std::string_view sink) {
    std::uint32_t h = 2166136261u; // FNV-1a
    std::string out;
    for (char c : sink) {
        h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                           c == '-' || c == '_';
        if (out.size() < 64) out += plain ? c : '_';
    }
    char hex[16];
    std::snprintf(hex, sizeof hex, "-%08x", h);
    return out + hex + ".cursor";
}

} // namespace detail

class spool {
public:
    using clock = std::chrono::steady_clock;
    // Written records wait in memory for the next sync; this much makes a sync due at once.
    static constexpr std::size_t write_buffer_bytes = std::size_t(1) << 20;
    static_assert(write_buffer_bytes >= detail::record_header_bytes);

    /// Opens (creating) the spool in `opt.dir` with one cursor per reader name (a sink's name):
    /// recovers from a torn tail, and deletes segments every reader has passed.
    static core::result<std::unique_ptr<spool>> open(spool_options opt, std::vector<std::string> readers) {
        std::unique_ptr<spool> s(new spool(std::move(opt)));
        if (auto r = s->recover(std::move(readers)); !r) return std::move(r).error();
        return s;
    }

    spool(const spool&) = delete;
    spool& operator=(const spool&) = delete;

    ~spool() {
        if (fd_ < 0) return;
        if (auto r = sync(); !r) log::error("metering.spool_sync_failed", {{"error", r.error().message}});
        ::close(fd_);
    }

    // ---------------------------------------------------------------- the writer
    /// Adds a record; it is durable after the next sync(). Fails only when a segment roll fails.
    core::result<void> append(std::string_view payload) {
        if (payload.empty() || payload.size() > detail::max_record_bytes)
            return core::error{core::error_kind::invalid_request, "spool: a record is 1 byte to 16 MiB", {}, {}};
        const std::uint64_t size = detail::record_header_bytes + payload.size();
        const std::uint64_t active_bytes = written_ + buffer_.size();
        if (active_bytes > 0 && active_bytes + size > opt_.segment_bytes) {
            if (auto r = roll(); !r) return r;
        }
        detail::store_le32(buffer_, std::uint32_t(payload.size()));
        detail::store_le32(buffer_, crc32c(payload));
        buffer_.append(payload);
        if (unsynced_++ == 0) first_unsynced_ = clock::now();
        ++active_records_;
        appended_.fetch_add(1, std::memory_order_relaxed);
        return {};
    }

    /// Writes and fsyncs what was appended; on failure nothing of it counts as written, and the
    /// next sync writes it again.
    core::result<void> sync() {
        if (unsynced_ == 0) return {};
        if (int err = detail::write_all(fd_, buffer_, written_); err != 0) {
            (void)!::ftruncate(fd_, off_t(written_)); // no half-written record left for the retry to follow
            return detail::spool_error("write " + detail::segment_name(active_), err);
        }
        if (::fdatasync(fd_) != 0) {
            int err = errno;
            // After a failed fsync the page cache cannot be trusted: drop the bytes, write them again.
            (void)!::ftruncate(fd_, off_t(written_));
            return detail::spool_error("fsync " + detail::segment_name(active_), err);
        }
        written_ += buffer_.size();
        buffer_.clear();
        {
            std::lock_guard lock(m_);
            segments_[active_].end = written_;
            end_seq_ = active_ + active_records_;
        }
        durable_.fetch_add(unsynced_, std::memory_order_release);
        unsynced_ = 0;
        return {};
    }

    /// Records appended and not yet synced.
    std::size_t unsynced() const noexcept { return unsynced_; }

    /// Whether group commit wants a sync now.
    bool sync_due(clock::time_point now) const noexcept {
        return unsynced_ > 0 && (unsynced_ >= opt_.fsync_records || buffer_.size() >= write_buffer_bytes ||
                                 now - first_unsynced_ >= opt_.fsync_interval);
    }

    /// When the oldest unsynced record must be synced; none when nothing waits.
    std::optional<clock::time_point> sync_deadline() const noexcept {
        if (unsynced_ == 0) return std::nullopt;
        return first_unsynced_ + opt_.fsync_interval;
    }

    // ---------------------------------------------------------------- the readers
    std::size_t reader_count() const noexcept { return readers_.size(); }
    const std::string& reader_name(std::size_t i) const { return readers_.at(i).name; }

    /// Where reader `i` has been delivered up to (its persisted cursor).
    spool_position cursor(std::size_t i) const {
        std::lock_guard lock(m_);
        return readers_.at(i).cursor;
    }

    /// Up to `max_records` durable records from `from` on (at least one when any, however large).
    core::result<spool_batch> read(spool_position from, std::size_t max_records,
                                   std::size_t max_bytes = std::size_t(1) << 20) const {
        spool_batch b;
        std::size_t bytes = 0;
        spool_position pos = from;
        while (b.payloads.size() < max_records && bytes < max_bytes) {
            std::uint64_t end = 0;
            bool sealed = false;
            {
                std::lock_guard lock(m_);
                auto it = segments_.lower_bound(pos.segment);
                if (it == segments_.end()) break;
                if (it->first != pos.segment) pos = {it->first, 0, it->first};
                end = it->second.end;
                sealed = it->second.sealed;
                if (pos.offset >= end) {
                    auto next = std::next(it);
                    if (!sealed || next == segments_.end()) break;
                    pos = {next->first, 0, next->first};
                    continue;
                }
            }
            const auto path = opt_.dir / detail::segment_name(pos.segment);
            detail::fd_guard f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
            if (f.fd < 0) return detail::spool_error("open " + path.string(), errno);
            detail::window_reader w(f.fd);
            while (pos.offset < end && b.payloads.size() < max_records && bytes < max_bytes) {
                auto r = detail::read_record(w, pos.offset, end);
                if (r.err) return detail::spool_error("read " + path.string(), r.err);
                if (r.torn) {
                    // Damaged after it was checked on open: nothing to resync on, skip the rest.
                    log::error("metering.spool_damaged",
                               {{"segment", path.string()}, {"offset", pos.offset}, {"reason", r.torn}});
                    pos.offset = end;
                    break;
                }
                b.payloads.emplace_back(r.payload);
                bytes += r.payload.size();
                pos.offset = r.next;
                ++pos.seq;
            }
            if (pos.offset < end || !sealed) break;
        }
        b.next = pos;
        return b;
    }

    /// Persists reader `i`'s cursor at `next` (temp file + rename), then deletes the segments
    /// that every reader has passed.
    core::result<void> commit(std::size_t i, spool_position next) {
        reader& rd = readers_.at(i);
        if (auto r = write_cursor(rd, next); !r) return r;
        std::vector<std::uint64_t> drop;
        {
            std::lock_guard lock(m_);
            rd.cursor = next;
            drop = collect_passed_locked();
        }
        remove_segments(drop);
        return {};
    }

    // ---------------------------------------------------------------- counters
    /// Records appended by this process.
    std::uint64_t appended() const noexcept { return appended_.load(std::memory_order_relaxed); }
    /// Records appended by this process and fsync'd: acknowledged.
    std::uint64_t durable() const noexcept { return durable_.load(std::memory_order_acquire); }
    /// Good records found in the spool when it was opened.
    std::uint64_t recovered() const noexcept { return recovered_; }
    /// Durable records the slowest reader has not been delivered.
    std::uint64_t backlog() const {
        std::lock_guard lock(m_);
        if (readers_.empty()) return 0;
        std::uint64_t low = end_seq_;
        for (const auto& r : readers_) low = std::min(low, r.cursor.seq);
        return end_seq_ - low;
    }
    std::size_t segment_count() const {
        std::lock_guard lock(m_);
        return segments_.size();
    }
    const std::filesystem::path& dir() const noexcept { return opt_.dir; }

private:
    struct segment {
        std::uint64_t end = 0; // durable bytes: readers stop here
        bool sealed = false;   // no more appends; readers go on to the next segment
    };
    struct reader {
        std::string name;
        std::filesystem::path file;
        spool_position cursor;
    };

    explicit spool(spool_options opt) : opt_(std::move(opt)) {}

    core::result<void> recover(std::vector<std::string> names) {
        std::error_code ec;
        std::filesystem::create_directories(opt_.dir, ec);
        if (ec) return detail::spool_error("create " + opt_.dir.string(), ec.value());

        std::vector<std::uint64_t> bases;
        for (const auto& entry : std::filesystem::directory_iterator(opt_.dir, ec)) {
            const auto name = entry.path().filename().string();
            if (auto base = detail::parse_segment_name(name)) bases.push_back(*base);
            else if (name.ends_with(".cursor.tmp")) std::filesystem::remove(entry.path(), ec);
        }
        if (ec) return detail::spool_error("list " + opt_.dir.string(), ec.value());
        std::sort(bases.begin(), bases.end());

        for (std::size_t k = 0; k < bases.size(); ++k) {
            const bool last = k + 1 == bases.size();
            const auto path = opt_.dir / detail::segment_name(bases[k]);
            detail::fd_guard f{::open(path.c_str(), (last ? O_RDWR : O_RDONLY) | O_CLOEXEC)};
            struct stat st {};
            if (f.fd < 0 || ::fstat(f.fd, &st) != 0) return detail::spool_error("open " + path.string(), errno);
            const auto size = std::uint64_t(st.st_size);
            auto scan = detail::scan_segment(f.fd, size, size);
            if (scan.err) return detail::spool_error("read " + path.string(), scan.err);
            if (scan.torn) {
                log::warn(last ? "metering.spool_torn_tail" : "metering.spool_damaged",
                          {{"segment", path.string()},
                           {"offset", scan.end},
                           {"dropped_bytes", size - scan.end},
                           {"reason", scan.torn}});
                if (last) {
                    if (::ftruncate(f.fd, off_t(scan.end)) != 0 || ::fdatasync(f.fd) != 0)
                        return detail::spool_error("truncate " + path.string(), errno);
                }
            }
            segments_[bases[k]] = segment{scan.end, !last};
            recovered_ += scan.records;
            if (last) {
                active_ = bases[k];
                active_records_ = scan.records;
                written_ = scan.end;
            }
        }
        if (bases.empty() || written_ >= opt_.segment_bytes) {
            const std::uint64_t base = bases.empty() ? 0 : active_ + active_records_;
            if (!bases.empty()) segments_[active_].sealed = true;
            if (auto r = create_segment(base); !r) return r;
        } else {
            const auto path = opt_.dir / detail::segment_name(active_);
            fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
            if (fd_ < 0) return detail::spool_error("open " + path.string(), errno);
        }
        end_seq_ = active_ + active_records_;

        for (auto& name : names) {
            for (const auto& r : readers_)
                if (r.name == name)
                    return core::error{core::error_kind::invalid_request,
                                       "spool: two sinks are named '" + name + "'; a cursor needs one owner", {}, {}};
            reader rd{name, opt_.dir / detail::cursor_file_name(name), {}};
            if (auto r = load_cursor(rd); !r) return r;
            readers_.push_back(std::move(rd));
        }
        remove_segments(collect_passed_locked()); // no other thread sees the spool yet
        if (recovered_ > 0)
            log::info("metering.spool_recovered", {{"dir", opt_.dir.string()},
                                                   {"records", recovered_},
                                                   {"segments", std::uint64_t(segments_.size())},
                                                   {"backlog", backlog()}});
        return {};
    }

    // A missing or unreadable cursor starts at the oldest record: a replay, never a loss.
    core::result<void> load_cursor(reader& rd) {
        const auto oldest = segments_.begin()->first;
        rd.cursor = {oldest, 0, oldest};
        std::FILE* f = std::fopen(rd.file.c_str(), "r");
        if (!f) return {};
        unsigned long long seg = 0, off = 0;
        const int n = std::fscanf(f, "%llu %llu", &seg, &off);
        std::fclose(f);
        if (n != 2) {
            log::warn("metering.spool_cursor_unreadable", {{"file", rd.file.string()}});
            return {};
        }
        auto it = segments_.lower_bound(seg);
        if (it == segments_.end()) {
            log::warn("metering.spool_cursor_ahead", {{"file", rd.file.string()}, {"segment", std::uint64_t(seg)}});
            return {};
        }
        if (it->first != seg) { // its segment is gone: it had been passed
            rd.cursor = {it->first, 0, it->first};
            return {};
        }
        const auto path = opt_.dir / detail::segment_name(seg);
        detail::fd_guard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
        if (fd.fd < 0) return detail::spool_error("open " + path.string(), errno);
        auto scan = detail::scan_segment(fd.fd, it->second.end, off);
        if (scan.err) return detail::spool_error("read " + path.string(), scan.err);
        if (scan.end != off)
            log::warn("metering.spool_cursor_moved",
                      {{"file", rd.file.string()}, {"offset", std::uint64_t(off)}, {"now", scan.end}});
        rd.cursor = {seg, scan.end, seg + scan.records};
        return {};
    }

    core::result<void> write_cursor(const reader& rd, const spool_position& p) {
        auto tmp = rd.file;
        tmp += ".tmp";
        char text[64];
        const int n = std::snprintf(text, sizeof text, "%llu %llu\n", static_cast<unsigned long long>(p.segment),
                                    static_cast<unsigned long long>(p.offset));
        {
            detail::fd_guard f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
            if (f.fd < 0) return detail::spool_error("open " + tmp.string(), errno);
            if (int err = detail::write_all(f.fd, std::string_view(text, std::size_t(n)), 0); err != 0)
                return detail::spool_error("write " + tmp.string(), err);
            if (::fdatasync(f.fd) != 0) return detail::spool_error("fsync " + tmp.string(), errno);
        }
        if (::rename(tmp.c_str(), rd.file.c_str()) != 0) return detail::spool_error("rename " + tmp.string(), errno);
        if (int err = detail::fsync_dir(opt_.dir); err != 0)
            return detail::spool_error("fsync " + opt_.dir.string(), err);
        return {};
    }

    core::result<void> create_segment(std::uint64_t base) {
        const auto path = opt_.dir / detail::segment_name(base);
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) return detail::spool_error("create " + path.string(), errno);
        if (int err = detail::fsync_dir(opt_.dir); err != 0) {
            ::close(fd);
            ::unlink(path.c_str());
            return detail::spool_error("fsync " + opt_.dir.string(), err);
        }
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
        std::lock_guard lock(m_);
        if (auto it = segments_.find(active_); it != segments_.end()) it->second.sealed = true;
        segments_[base] = segment{0, false};
        active_ = base;
        active_records_ = 0;
        written_ = 0;
        return {};
    }

    core::result<void> roll() {
        if (auto r = sync(); !r) return r;
        return create_segment(active_ + active_records_);
    }

    // Sealed segments below every reader's cursor. With no readers the spool is an archive.
    std::vector<std::uint64_t> collect_passed_locked() {
        std::vector<std::uint64_t> drop;
        if (readers_.empty()) return drop;
        std::uint64_t low = readers_.front().cursor.segment;
        for (const auto& r : readers_) low = std::min(low, r.cursor.segment);
        for (auto it = segments_.begin(); it != segments_.end() && it->first < low && it->second.sealed;) {
            drop.push_back(it->first);
            it = segments_.erase(it);
        }
        return drop;
    }

    void remove_segments(const std::vector<std::uint64_t>& bases) {
        for (auto base : bases) {
            const auto path = opt_.dir / detail::segment_name(base);
            if (::unlink(path.c_str()) != 0 && errno != ENOENT)
                log::warn("metering.spool_remove_failed",
                          {{"segment", path.string()}, {"error", std::strerror(errno)}});
        }
    }

    spool_options opt_;

    // The writer's own state.
    int fd_ = -1;
    std::uint64_t active_ = 0;         // base of the segment appends go to
    std::uint64_t active_records_ = 0; // records in it, synced or not
    std::uint64_t written_ = 0;        // bytes of it in the file
    std::string buffer_;               // appended, not yet written
    std::size_t unsynced_ = 0;
    clock::time_point first_unsynced_{};
    std::atomic<std::uint64_t> appended_{0};
    std::atomic<std::uint64_t> durable_{0};
    std::uint64_t recovered_ = 0;

    // Shared with the readers.
    mutable std::mutex m_;
    std::map<std::uint64_t, segment> segments_;
    std::vector<reader> readers_; // the list is fixed at open; cursors change under m_
    std::uint64_t end_seq_ = 0;   // sequence number after the last durable record
};

} // namespace sluice::metering

#endif

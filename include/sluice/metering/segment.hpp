#ifndef SLUICE_METERING_SEGMENT_HPP
#define SLUICE_METERING_SEGMENT_HPP

// The spool's bytes on disk: segment files of records [u32 length LE][u32 crc32c(payload) LE]
// [payload], and the checks that tell a good record from a torn or damaged one.

#include <sluice/core/error.hpp>
#include <sluice/metering/crc32c.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <memory>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

namespace sluice::metering::detail {

inline core::error spool_error(std::string what, int err) {
    return core::error{core::error_kind::internal, "spool: " + what + ": " + std::strerror(err), {}, {}};
}

inline std::uint32_t load_le32(const char* p) noexcept {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return std::uint32_t(u[0]) | std::uint32_t(u[1]) << 8 | std::uint32_t(u[2]) << 16 | std::uint32_t(u[3]) << 24;
}

inline void store_le32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out += char((v >> (8 * i)) & 0xFFu);
}

inline int write_all(int fd, std::string_view bytes, std::uint64_t at) noexcept {
    while (!bytes.empty()) {
        ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), off_t(at));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        bytes.remove_prefix(std::size_t(n));
        at += std::uint64_t(n);
    }
    return 0;
}

inline int fsync_dir(const std::filesystem::path& dir) noexcept {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    int rc = ::fsync(fd) == 0 ? 0 : errno;
    ::close(fd);
    return rc;
}

// Closes a descriptor on every path out of a scope.
struct fd_guard {
    int fd = -1;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

// Reads a file forward through one buffer, so walking small records costs one pread per chunk.
class window_reader {
public:
    static constexpr std::size_t chunk_bytes = std::size_t(1) << 20;

    explicit window_reader(int fd) : fd_(fd) {}

    /// The bytes [pos, pos + n), fewer where the file ends first; 0 or an errno. The view lives
    /// until the next call.
    int view(std::uint64_t pos, std::size_t n, std::string_view& out) {
        if (pos < start_ || pos + n > start_ + size_) {
            // An uninitialised buffer: the delivery thread refills it for every batch of new
            // records, and zeroing a megabyte each time cost more than the rest of a request.
            const std::size_t want = std::max(n, chunk_bytes);
            if (want > capacity_) {
                buf_.reset(new char[want]);
                capacity_ = want;
            }
            std::size_t got = 0;
            while (got < want) {
                ssize_t r = ::pread(fd_, buf_.get() + got, want - got, off_t(pos + got));
                if (r < 0 && errno == EINTR) continue;
                if (r < 0) {
                    size_ = 0;
                    return errno;
                }
                if (r == 0) break;
                got += std::size_t(r);
            }
            size_ = got;
            start_ = pos;
        }
        const std::size_t skip = std::size_t(pos - start_);
        out = std::string_view(buf_.get() + skip, std::min(n, size_ - skip));
        return 0;
    }

private:
    int fd_;
    std::unique_ptr<char[]> buf_;
    std::size_t capacity_ = 0;
    std::size_t size_ = 0;
    std::uint64_t start_ = 0;
};

struct record_view {
    std::string_view payload;
    std::uint64_t next = 0;     // offset of the record after it
    const char* torn = nullptr; // why the bytes at pos are not a record; null when they are
    int err = 0;                // a read error
};

inline constexpr std::size_t record_header_bytes = 8;
inline constexpr std::uint32_t max_record_bytes = std::uint32_t(16) << 20;
static_assert(max_record_bytes < (std::uint64_t(1) << 32), "length fits the u32 header");

/// The record at `pos`, where the good bytes end at `end` (pos < end).
inline record_view read_record(window_reader& w, std::uint64_t pos, std::uint64_t end) {
    record_view r;
    std::string_view head;
    if ((r.err = w.view(pos, record_header_bytes, head)) != 0) return r;
    if (head.size() < record_header_bytes || pos + record_header_bytes > end) {
        r.torn = "short header";
        return r;
    }
    const std::uint32_t len = load_le32(head.data());
    const std::uint32_t crc = load_le32(head.data() + 4);
    // Zero is never written: a zero length is the zero-filled tail a crash can leave.
    if (len == 0 || len > max_record_bytes) {
        r.torn = "bad length";
        return r;
    }
    if (pos + record_header_bytes + len > end) {
        r.torn = "short record";
        return r;
    }
    std::string_view payload;
    if ((r.err = w.view(pos + record_header_bytes, len, payload)) != 0) return r;
    if (payload.size() < len) {
        r.torn = "short record";
        return r;
    }
    if (crc32c(payload) != crc) {
        r.torn = "bad crc";
        return r;
    }
    r.payload = payload;
    r.next = pos + record_header_bytes + len;
    return r;
}

struct segment_scan {
    std::uint64_t end = 0;     // where the good records end
    std::uint64_t records = 0; // how many good records lie before it
    const char* torn = nullptr;
    int err = 0;
};

/// Walks good records from the start of a segment until `stop` (or the first bad one); a record
/// that would cross `stop` is not counted, so `end` is the last record boundary at or before it.
inline segment_scan scan_segment(int fd, std::uint64_t size, std::uint64_t stop) {
    segment_scan s;
    window_reader w(fd);
    while (s.end < std::min(size, stop)) {
        auto r = read_record(w, s.end, size);
        if (r.err) {
            s.err = r.err;
            return s;
        }
        if (r.torn) {
            s.torn = r.torn;
            return s;
        }
        if (r.next > stop) return s;
        s.end = r.next;
        ++s.records;
    }
    return s;
}

inline std::string segment_name(std::uint64_t base) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%020llu.seg", static_cast<unsigned long long>(base));
    return buf;
}

inline std::optional<std::uint64_t> parse_segment_name(const std::string& name) {
    if (name.size() != 24 || !name.ends_with(".seg")) return std::nullopt;
    std::uint64_t v = 0;
    auto r = std::from_chars(name.data(), name.data() + 20, v);
    if (r.ec != std::errc{} || r.ptr != name.data() + 20) return std::nullopt;
    return v;
}

} // namespace sluice::metering::detail

#endif

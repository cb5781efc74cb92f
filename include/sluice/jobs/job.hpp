#ifndef SLUICE_JOBS_JOB_HPP
#define SLUICE_JOBS_JOB_HPP

// One async job (a video generation, an /v1/async-invoke call) as every store keeps it: who
// owns it, which upstream job it follows, and where it stands. Stored as one JSON object, so
// the memory, file and Redis stores hold the same thing.
//
//   processing --(upstream completed)--> completed --(ttl)--> expired --(ttl)--> gone
//              \-(upstream failed, job vanished, unreachable too long)--> failed --(ttl)--> ...
//
// An expired job is kept as a tombstone for another ttl, so a late reader hears that it
// expired rather than that it never existed.

#include <sluice/core/result.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace sluice::jobs {

enum class status : std::uint8_t { processing, completed, failed };

constexpr std::string_view to_string(status s) noexcept {
    switch (s) {
    case status::processing: return "processing";
    case status::completed: return "completed";
    case status::failed: return "failed";
    }
    return "processing";
}

constexpr std::optional<status> status_from_string(std::string_view s) noexcept {
    if (s == "processing") return status::processing;
    if (s == "completed") return status::completed;
    if (s == "failed") return status::failed;
    return std::nullopt;
}

/// Unix milliseconds; every time in a job is one.
using millis = std::int64_t;

/// Where the stores and the service take the time from: the system clock, or a test's
/// core::manual_clock_of<std::chrono::system_clock>.
using clock_fn = std::function<std::chrono::system_clock::time_point()>;

inline millis to_millis(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

struct job {
    std::string id;           // ours: "video_" + 32 hex digits
    std::string kind;         // the route that made it: "video" or "async"
    std::string account;      // the owner; nobody else reads it
    std::string key_id;       // the key it was made with, for metering
    std::string model;        // the public model id
    std::string provider;     // the provider that runs it
    std::string upstream_id;  // the upstream's id of its job
    enum status status = status::processing;
    std::optional<int> progress; // percent, when the upstream says
    std::string seconds;      // as requested ("4"), empty when not given
    std::string size;         // as requested ("720x1280"), empty when not given
    std::string error_code;   // failed only
    std::string error_message;
    millis created_at = 0;
    millis completed_at = 0;  // completed or failed; 0 before
    millis expires_at = 0;    // completed_at + ttl; 0 before
    millis polled_at = 0;     // the last upstream poll, by any replica
    millis unreachable_since = 0; // the first of the failed polls in a row; 0 when the last poll answered
    bool metered = false;     // its usage event has been recorded

    bool finished() const noexcept { return status != status::processing; }
    /// Past its expiry: readers get 404 "expired".
    bool expired(millis now) const noexcept { return finished() && expires_at != 0 && now >= expires_at; }
    /// When a store may forget it: a tombstone for one more ttl after it expired.
    millis purge_at(millis ttl) const noexcept { return finished() ? expires_at + ttl : 0; }

    friend bool operator==(const job&, const job&) = default;
};

/// A fresh id: "video_" and 128 random bits in hex, which nobody can guess.
inline std::string new_job_id(std::string_view prefix = "video_") {
    thread_local std::mt19937_64 rng{std::random_device{}() ^ (std::uint64_t(std::random_device{}()) << 32)};
    static constexpr char digits[] = "0123456789abcdef";
    std::string id(prefix);
    for (int half = 0; half < 2; ++half) {
        auto v = rng();
        for (int i = 0; i < 16; ++i, v >>= 4) id += digits[v & 15];
    }
    return id;
}

inline boost::json::object to_json(const job& j) {
    boost::json::object o;
    o["id"] = j.id;
    o["kind"] = j.kind;
    o["account"] = j.account;
    o["key_id"] = j.key_id;
    o["model"] = j.model;
    o["provider"] = j.provider;
    o["upstream_id"] = j.upstream_id;
    o["status"] = to_string(j.status);
    if (j.progress) o["progress"] = *j.progress;
    if (!j.seconds.empty()) o["seconds"] = j.seconds;
    if (!j.size.empty()) o["size"] = j.size;
    if (!j.error_code.empty()) o["error_code"] = j.error_code;
    if (!j.error_message.empty()) o["error_message"] = j.error_message;
    o["created_at"] = j.created_at;
    o["completed_at"] = j.completed_at;
    o["expires_at"] = j.expires_at;
    o["polled_at"] = j.polled_at;
    o["unreachable_since"] = j.unreachable_since;
    o["metered"] = j.metered;
    return o;
}

inline std::string serialize(const job& j) { return boost::json::serialize(to_json(j)); }

/// The job a store wrote; nullopt for anything else (a torn line of a crashed write).
inline std::optional<job> parse_job(std::string_view text) {
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.as_object();
    auto str = [&](std::string_view k) -> std::string {
        auto* f = o.if_contains(k);
        return f && f->is_string() ? std::string(f->as_string()) : std::string();
    };
    auto num = [&](std::string_view k) -> std::int64_t {
        auto* f = o.if_contains(k);
        return f && f->is_int64() ? f->as_int64() : f && f->is_uint64() ? std::int64_t(f->as_uint64()) : 0;
    };
    job j;
    j.id = str("id");
    auto st = status_from_string(str("status"));
    if (j.id.empty() || !st) return std::nullopt;
    j.status = *st;
    j.kind = str("kind");
    j.account = str("account");
    j.key_id = str("key_id");
    j.model = str("model");
    j.provider = str("provider");
    j.upstream_id = str("upstream_id");
    if (o.contains("progress")) j.progress = int(num("progress"));
    j.seconds = str("seconds");
    j.size = str("size");
    j.error_code = str("error_code");
    j.error_message = str("error_message");
    j.created_at = num("created_at");
    j.completed_at = num("completed_at");
    j.expires_at = num("expires_at");
    j.polled_at = num("polled_at");
    j.unreachable_since = num("unreachable_since");
    if (auto* f = o.if_contains("metered"); f && f->is_bool()) j.metered = f->as_bool();
    return j;
}

} // namespace sluice::jobs

#endif

#ifndef SLUICE_CORE_LOG_HPP
#define SLUICE_CORE_LOG_HPP

// One JSON object per line on stderr: easy for people to read and for log shippers to parse.
//
//   sluice::log::info("request", {{"request_id", id}, {"status", 200}, {"latency_ms", 1.25}});
//   -> {"ts":"2026-11-22T02:15:53.123Z","level":"info","event":"request","request_id":"..",...}

#include <sluice/core/json_text.hpp>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace sluice::log {

enum class level : int { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

/// A field of a log line. Values are copied into the line at once, so views may be temporaries.
struct field {
    using value_type = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;
    std::string_view key;
    value_type value;

    template <class S>
        requires std::is_convertible_v<const S&, std::string_view>
    field(std::string_view k, const S& v) : key(k), value(std::string_view(v)) {}
    field(std::string_view k, bool v) : key(k), value(v) {}
    field(std::string_view k, double v) : key(k), value(v) {}
    template <class I>
        requires(std::is_integral_v<I> && !std::is_same_v<I, bool>)
    field(std::string_view k, I v)
        : key(k), value(std::is_signed_v<I> ? value_type(std::int64_t(v)) : value_type(std::uint64_t(v))) {}
};

namespace detail {

inline level level_from_env() noexcept {
    const char* v = std::getenv("SLUICE_LOG_LEVEL");
    if (!v) return level::info;
    std::string_view s(v);
    if (s == "debug") return level::debug;
    if (s == "warn") return level::warn;
    if (s == "error") return level::error;
    if (s == "off") return level::off;
    return level::info;
}

inline std::atomic<level>& threshold() noexcept {
    static std::atomic<level> t{level_from_env()};
    return t;
}

inline std::mutex& sink_mutex() noexcept {
    static std::mutex m;
    return m;
}

inline void append_escaped(std::string& out, std::string_view s) { core::append_json_string(out, s); }

inline void append_value(std::string& out, const field::value_type& v) {
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string_view>) append_escaped(out, x);
            else if constexpr (std::is_same_v<T, bool>) out += x ? "true" : "false";
            else if constexpr (std::is_same_v<T, double>) {
                // The same digits as printf's "%.3f", without its format parsing and locale.
                char buf[64];
                auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed, 3);
                out.append(buf, r.ec == std::errc{} ? std::size_t(r.ptr - buf) : 0);
            } else {
                char buf[24];
                auto r = std::to_chars(buf, buf + sizeof buf, x);
                out.append(buf, std::size_t(r.ptr - buf));
            }
        },
        v);
}

/// RFC 3339 UTC with milliseconds. The date and time of day are formatted once per second per
/// thread: gmtime and strftime on every line were a good part of an access log line's cost.
inline void append_timestamp(std::string& out) {
    using namespace std::chrono;
    const auto ms_since_epoch = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    const std::time_t t = std::time_t(ms_since_epoch / 1000);
    const int ms = int(ms_since_epoch % 1000);
    thread_local std::time_t cached_second = -1;
    thread_local char cached[24];
    thread_local std::size_t cached_size = 0;
    if (t != cached_second) {
        std::tm tm{};
        gmtime_r(&t, &tm);
        cached_size = std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_second = t;
    }
    out.append(cached, cached_size);
    const char frac[6] = {'.', char('0' + ms / 100), char('0' + ms / 10 % 10), char('0' + ms % 10), 'Z', 0};
    out.append(frac, 5);
}

inline constexpr std::string_view level_name(level l) noexcept {
    switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
    default: return "off";
    }
}

} // namespace detail

inline void set_level(level l) noexcept { detail::threshold().store(l, std::memory_order_relaxed); }
inline bool enabled(level l) noexcept { return l >= detail::threshold().load(std::memory_order_relaxed); }

/// Formats the whole line first, then writes it with one call, so lines from threads never interleave.
inline void write(level l, std::string_view event, std::initializer_list<field> fields = {}) {
    if (!enabled(l)) return;
    std::string line;
    line.reserve(320); // an access log line fits: one allocation
    line += "{\"ts\":\"";
    detail::append_timestamp(line);
    line += "\",\"level\":\"";
    line += detail::level_name(l);
    line += "\",\"event\":";
    detail::append_escaped(line, event);
    for (const auto& f : fields) {
        line += ',';
        detail::append_escaped(line, f.key);
        line += ':';
        detail::append_value(line, f.value);
    }
    line += "}\n";
    std::lock_guard lock(detail::sink_mutex());
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

inline void debug(std::string_view e, std::initializer_list<field> f = {}) { write(level::debug, e, f); }
inline void info(std::string_view e, std::initializer_list<field> f = {}) { write(level::info, e, f); }
inline void warn(std::string_view e, std::initializer_list<field> f = {}) { write(level::warn, e, f); }
inline void error(std::string_view e, std::initializer_list<field> f = {}) { write(level::error, e, f); }

} // namespace sluice::log

#endif

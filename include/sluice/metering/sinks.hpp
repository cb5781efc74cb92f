#ifndef SLUICE_METERING_SINKS_HPP
#define SLUICE_METERING_SINKS_HPP

// Where spooled usage events go: a JSON-lines file, a Redis stream, or your own sink. Sinks run on
// their own delivery thread, never on the request path, so they may block; a sink that is down
// answers false and is offered the same batch again later. Delivery is at least once: a sink
// either tolerates a replayed event (the Redis sink drops it by request id) or its reader does.
//
//   make_sink("file://./var/usage.jsonl")       relative path
//   make_sink("file:///var/lib/sluice/usage.jsonl")
//   make_sink("redis://127.0.0.1:6379/usage")    stream key "usage", db 0
//   make_sink("redis://:secret@redis:6379/usage")

#include <sluice/core/error.hpp>
#include <sluice/core/log.hpp>
#include <sluice/core/result.hpp>
#include <sluice/metering/spool.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <hiredis/hiredis.h>

#include <charconv>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

namespace sluice::metering {

/// \concept usage_sink
/// s.deliver(payloads) -> bool: true when every payload (one usage event as JSON) is accepted;
///                        false when any is not (the whole batch is offered again).
/// s.name() -> string:    stable across restarts: it keys the sink's cursor in the spool.
template <class S>
concept usage_sink = requires(S& s, const S& cs, std::span<const std::string> payloads) {
    { s.deliver(payloads) } -> std::convertible_to<bool>;
    { cs.name() } -> std::convertible_to<std::string>;
};

/// The run-time face of a sink. Virtual on purpose: sinks are chosen from config URLs at run time,
/// and one call per batch on a background thread costs nothing that matters.
class sink {
public:
    virtual ~sink() = default;
    virtual std::string name() const = 0;
    virtual bool deliver(std::span<const std::string> payloads) = 0;
    /// Why the last deliver failed, for the "sink down" log line.
    virtual std::string last_error() const { return {}; }
};

/// Any usage_sink as a sink.
template <usage_sink S>
class sink_adapter final : public sink {
public:
    explicit sink_adapter(S s) : s_(std::move(s)) {}
    std::string name() const override { return std::string(s_.name()); }
    bool deliver(std::span<const std::string> payloads) override { return bool(s_.deliver(payloads)); }
    S& get() noexcept { return s_; }

private:
    S s_;
};

template <usage_sink S>
std::unique_ptr<sink> wrap_sink(S s) {
    if constexpr (std::derived_from<S, sink>) return std::make_unique<S>(std::move(s));
    else return std::make_unique<sink_adapter<S>>(std::move(s));
}

// ---------------------------------------------------------------- jsonl_file_sink

/// Appends one line per event and fsyncs each batch. A line cut short by a crash is removed before
/// the next append (its batch was never acknowledged, so it comes again whole). One process
/// writes a file: give each gateway replica its own path.
class jsonl_file_sink final : public sink {
public:
    explicit jsonl_file_sink(std::filesystem::path path) : path_(std::move(path)) {}
    jsonl_file_sink(jsonl_file_sink&& o) noexcept : path_(std::move(o.path_)), fd_(o.fd_), error_(std::move(o.error_)) {
        o.fd_ = -1;
    }
    jsonl_file_sink& operator=(jsonl_file_sink&&) = delete;
    ~jsonl_file_sink() override { close(); }

    std::string name() const override { return "file:" + path_.string(); }
    std::string last_error() const override { return error_; }
    const std::filesystem::path& path() const noexcept { return path_; }

    bool deliver(std::span<const std::string> payloads) override {
        if (fd_ >= 0 && replaced()) close(); // rotated away: write to the new file at that path
        if (fd_ < 0 && !open()) return false;
        std::string lines;
        std::size_t total = 0;
        for (const auto& p : payloads) total += p.size() + 1;
        lines.reserve(total);
        for (const auto& p : payloads) {
            lines += p;
            lines += '\n';
        }
        struct stat st {};
        if (::fstat(fd_, &st) != 0) return fail("stat", errno);
        const auto before = std::uint64_t(st.st_size);
        if (int err = detail::write_all(fd_, lines, before); err != 0) {
            (void)!::ftruncate(fd_, off_t(before));
            return fail("write", err);
        }
        if (::fdatasync(fd_) != 0) {
            const int err = errno;
            (void)!::ftruncate(fd_, off_t(before));
            return fail("fsync", err);
        }
        return true;
    }

private:
    bool open() {
        std::error_code ec;
        if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path(), ec);
        if (ec) return fail("create " + path_.parent_path().string(), ec.value());
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) return fail("open", errno);
        return cut_torn_line();
    }

    bool cut_torn_line() {
        struct stat st {};
        if (::fstat(fd_, &st) != 0) return fail("stat", errno);
        const auto size = std::uint64_t(st.st_size);
        std::uint64_t keep = size;
        char chunk[4096];
        while (keep > 0) {
            const std::uint64_t from = keep > sizeof chunk ? keep - sizeof chunk : 0;
            int rfd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
            if (rfd < 0) return fail("open", errno);
            const ssize_t n = ::pread(rfd, chunk, std::size_t(keep - from), off_t(from));
            ::close(rfd);
            if (n != ssize_t(keep - from)) return fail("read", n < 0 ? errno : EIO);
            std::size_t i = std::size_t(n);
            while (i > 0 && chunk[i - 1] != '\n') --i;
            if (i > 0) {
                keep = from + i;
                break;
            }
            keep = from;
        }
        if (keep == size) return true;
        log::warn("metering.file_sink_torn_line", {{"file", path_.string()}, {"dropped_bytes", size - keep}});
        if (::ftruncate(fd_, off_t(keep)) != 0 || ::fdatasync(fd_) != 0) return fail("truncate", errno);
        return true;
    }

    bool replaced() const {
        struct stat open_st {}, path_st {};
        if (::fstat(fd_, &open_st) != 0 || ::stat(path_.c_str(), &path_st) != 0) return true;
        return open_st.st_ino != path_st.st_ino || open_st.st_dev != path_st.st_dev;
    }

    bool fail(const std::string& op, int err) {
        error_ = op + " " + path_.string() + ": " + std::strerror(err);
        close();
        return false;
    }

    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    std::filesystem::path path_;
    int fd_ = -1;
    std::string error_;
};

// ---------------------------------------------------------------- redis_stream_sink

namespace detail {

// hiredis writes with write(2): a server gone away would raise SIGPIPE and kill the process.
// Blocks it on this thread for the scope, and swallows one that the scope raised.
class sigpipe_guard {
public:
    sigpipe_guard() noexcept {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        sigset_t pending;
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    }
    ~sigpipe_guard() {
        sigset_t pending;
        sigpending(&pending);
        if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
            const timespec zero{0, 0};
            while (sigtimedwait(&pipe_, nullptr, &zero) == -1 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    sigpipe_guard(const sigpipe_guard&) = delete;
    sigpipe_guard& operator=(const sigpipe_guard&) = delete;

private:
    sigset_t pipe_{};
    sigset_t old_{};
    bool was_pending_ = false;
};

} // namespace detail


struct redis_endpoint {
    std::string host = "127.0.0.1";
    unsigned port = 6379;
    std::string stream; // the stream key
    std::string username;
    std::string password; // AUTH when set
};

struct redis_sink_options {
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds command_timeout{5000};
    // How long a request id is remembered; a replay later than this would be added again.
    std::uint64_t dedupe_ttl_s = 7 * 24 * 3600;
};

/// XADDs each event to a stream with fields request_id and event, at most once per request id.
/// Blocking hiredis on the delivery thread; a failed connection is dropped and made again on the
/// next batch. One pipelined round trip per batch.
class redis_stream_sink final : public sink {
public:
    // Marks the request id seen and adds the entry in one atomic step: a replay adds nothing.
    static constexpr std::string_view add_once_script =
        "if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then "
        "return redis.call('XADD', KEYS[1], '*', 'request_id', ARGV[1], 'event', ARGV[2]) end "
        "return false";

    explicit redis_stream_sink(redis_endpoint ep, redis_sink_options opt = {}) : ep_(std::move(ep)), opt_(opt) {}
    redis_stream_sink(redis_stream_sink&& o) noexcept
        : ep_(std::move(o.ep_)), opt_(o.opt_), ctx_(o.ctx_), error_(std::move(o.error_)) {
        o.ctx_ = nullptr;
    }
    redis_stream_sink& operator=(redis_stream_sink&&) = delete;
    ~redis_stream_sink() override { disconnect(); }

    std::string name() const override {
        return "redis://" + ep_.host + ":" + std::to_string(ep_.port) + "/" + ep_.stream;
    }
    std::string last_error() const override { return error_; }
    const redis_endpoint& endpoint() const noexcept { return ep_; }

    bool deliver(std::span<const std::string> payloads) override {
        detail::sigpipe_guard no_sigpipe;
        if (!ctx_ && !connect()) return false;
        const std::string ttl = std::to_string(opt_.dedupe_ttl_s);
        for (const auto& p : payloads) {
            const std::string id = request_id_of(p);
            const std::string seen = ep_.stream + ":seen:" + id;
            int rc;
            if (id.empty()) { // nothing to key on: added as is
                const char* argv[] = {"XADD", ep_.stream.c_str(), "*", "request_id", "", "event", p.data()};
                const std::size_t lens[] = {4, ep_.stream.size(), 1, 10, 0, 5, p.size()};
                rc = redisAppendCommandArgv(ctx_, 7, argv, lens);
            } else {
                const char* argv[] = {"EVAL",      add_once_script.data(), "2",      ep_.stream.c_str(),
                                      seen.c_str(), id.c_str(),            p.data(), ttl.c_str()};
                const std::size_t lens[] = {4,           add_once_script.size(), 1,        ep_.stream.size(),
                                            seen.size(), id.size(),              p.size(), ttl.size()};
                rc = redisAppendCommandArgv(ctx_, 8, argv, lens);
            }
            if (rc != REDIS_OK) return fail_connection("append");
        }
        bool ok = true;
        for (std::size_t i = 0; i < payloads.size(); ++i) {
            void* raw = nullptr;
            if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) return fail_connection("reply");
            auto* reply = static_cast<redisReply*>(raw);
            if (reply->type == REDIS_REPLY_ERROR) {
                ok = false;
                error_ = std::string(reply->str, reply->len);
            }
            freeReplyObject(reply);
        }
        return ok;
    }

private:
    static timeval to_timeval(std::chrono::milliseconds ms) {
        return timeval{static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
    }

    static std::string request_id_of(const std::string& payload) {
        boost::system::error_code ec;
        auto v = boost::json::parse(payload, ec);
        if (ec || !v.is_object()) return {};
        const auto* id = v.get_object().if_contains("request_id");
        if (!id || !id->is_string()) return {};
        return std::string(id->get_string().data(), id->get_string().size());
    }

    bool connect() {
        ctx_ = redisConnectWithTimeout(ep_.host.c_str(), int(ep_.port), to_timeval(opt_.connect_timeout));
        if (!ctx_) {
            error_ = "connect: out of memory";
            return false;
        }
        if (ctx_->err) return fail_connection("connect");
        if (redisSetTimeout(ctx_, to_timeval(opt_.command_timeout)) != REDIS_OK) return fail_connection("timeout");
        if (!ep_.password.empty()) {
            std::vector<const char*> argv{"AUTH"};
            std::vector<std::size_t> lens{4};
            if (!ep_.username.empty()) {
                argv.push_back(ep_.username.c_str());
                lens.push_back(ep_.username.size());
            }
            argv.push_back(ep_.password.c_str());
            lens.push_back(ep_.password.size());
            auto* reply = static_cast<redisReply*>(redisCommandArgv(ctx_, int(argv.size()), argv.data(), lens.data()));
            if (!reply) return fail_connection("auth");
            const bool refused = reply->type == REDIS_REPLY_ERROR;
            if (refused) error_ = "auth: " + std::string(reply->str, reply->len);
            freeReplyObject(reply);
            if (refused) {
                disconnect();
                return false;
            }
        }
        return true;
    }

    bool fail_connection(const char* op) {
        error_ = std::string(op) + " " + ep_.host + ":" + std::to_string(ep_.port) + ": " +
                 (ctx_ && ctx_->errstr[0] ? ctx_->errstr : "connection lost");
        disconnect();
        return false;
    }

    void disconnect() {
        if (ctx_) redisFree(ctx_);
        ctx_ = nullptr;
    }

    redis_endpoint ep_;
    redis_sink_options opt_;
    redisContext* ctx_ = nullptr;
    std::string error_;
};

// ---------------------------------------------------------------- sink URLs

namespace detail {

inline core::error bad_sink_url(std::string_view url, std::string why) {
    return core::error{core::error_kind::invalid_request, "metering sink '" + std::string(url) + "': " + why, "sink",
                       {}};
}

inline std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        unsigned v = 0;
        if (i + 2 >= s.size()) return std::nullopt;
        auto r = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
        if (r.ec != std::errc{} || r.ptr != s.data() + i + 3) return std::nullopt;
        out += char(v);
        i += 2;
    }
    return out;
}

} // namespace detail

/// "file://./rel/path", "file://rel/path" or "file:///abs/path" -> the path.
inline core::result<std::filesystem::path> parse_file_url(std::string_view url) {
    constexpr std::string_view scheme = "file://";
    if (!url.starts_with(scheme)) return detail::bad_sink_url(url, "not a file:// URL");
    std::string_view rest = url.substr(scheme.size());
    if (rest.starts_with("localhost/")) rest.remove_prefix(9);
    auto path = detail::percent_decode(rest);
    if (!path) return detail::bad_sink_url(url, "bad percent escape");
    if (path->empty() || path->back() == '/') return detail::bad_sink_url(url, "needs a file path");
    return std::filesystem::path(*path).lexically_normal();
}

/// "redis://[user:password@]host[:port]/stream" -> where to connect and the stream key (db 0).
inline core::result<redis_endpoint> parse_redis_url(std::string_view url) {
    constexpr std::string_view scheme = "redis://";
    if (url.starts_with("rediss://")) return detail::bad_sink_url(url, "TLS to Redis (rediss://) is not supported");
    if (!url.starts_with(scheme)) return detail::bad_sink_url(url, "not a redis:// URL");
    std::string_view rest = url.substr(scheme.size());
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);

    redis_endpoint ep;
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
        std::string_view userinfo = authority.substr(0, at);
        authority.remove_prefix(at + 1);
        const auto colon = userinfo.find(':');
        auto user = detail::percent_decode(userinfo.substr(0, colon));
        auto pass = detail::percent_decode(colon == std::string_view::npos ? std::string_view{}
                                                                             : userinfo.substr(colon + 1));
        if (!user || !pass) return detail::bad_sink_url(url, "bad percent escape");
        if (colon == std::string_view::npos) pass.swap(user); // "redis://secret@host": a password alone
        ep.username = std::move(*user);
        ep.password = std::move(*pass);
    }
    std::string_view host = authority, port;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return detail::bad_sink_url(url, "unclosed '[' in the host");
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty() && !after.starts_with(':')) return detail::bad_sink_url(url, "bad host");
        if (!after.empty()) port = after.substr(1);
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty()) return detail::bad_sink_url(url, "needs a host");
    ep.host = std::string(host);
    if (!port.empty()) {
        unsigned p = 0;
        auto r = std::from_chars(port.data(), port.data() + port.size(), p);
        if (r.ec != std::errc{} || r.ptr != port.data() + port.size() || p == 0 || p > 65535)
            return detail::bad_sink_url(url, "bad port '" + std::string(port) + "'");
        ep.port = p;
    }
    auto stream = detail::percent_decode(path);
    if (!stream) return detail::bad_sink_url(url, "bad percent escape");
    if (stream->empty())
        return detail::bad_sink_url(url, "needs a stream key as its path, as in redis://host:6379/usage");
    ep.stream = std::move(*stream);
    return ep;
}

/// A sink from its config URL: file:// or redis://; anything else is a clear error.
inline core::result<std::unique_ptr<sink>> make_sink(std::string_view url, redis_sink_options redis = {}) {
    const auto colon = url.find("://");
    const std::string_view scheme = colon == std::string_view::npos ? std::string_view{} : url.substr(0, colon);
    if (scheme == "file") {
        auto path = parse_file_url(url);
        if (!path) return std::move(path).error();
        return std::unique_ptr<sink>(std::make_unique<jsonl_file_sink>(std::move(*path)));
    }
    if (scheme == "redis" || scheme == "rediss") {
        auto ep = parse_redis_url(url);
        if (!ep) return std::move(ep).error();
        return std::unique_ptr<sink>(std::make_unique<redis_stream_sink>(std::move(*ep), redis));
    }
    return detail::bad_sink_url(url, scheme.empty() ? "no scheme (use file:// or redis://)"
                                                    : "unknown scheme '" + std::string(scheme) +
                                                          "' (use file:// or redis://)");
}

} // namespace sluice::metering

#endif

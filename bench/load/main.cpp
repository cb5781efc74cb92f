// sluice-load: the load generator of the benchmarks. One thread, plain HTTP/1.1 keep-alive.
//
// Closed loop (--concurrency N): N connections, each sends its next request when the previous
// answer is complete. Open loop (--rate R): requests are due on a fixed timetable whatever the
// server does, and latency counts from the due time, so queueing shows instead of hiding
// (no coordinated omission). Every request is kept as a sample (bounded by the duration) and
// sorted at the end: exact percentiles, no histogram error.
//
// A request counts when it starts (closed) or is due (open) inside the measuring window, which
// follows the warm-up; requests still in flight at the end are waited for, up to --timeout.
// Throughput is the successful answers completed inside the window divided by its length.

#include <sluice/core/command_line.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t read_chunk_bytes = 16 * 1024;    // one body read; streams arrive in small events
constexpr std::size_t stream_tail_bytes = 128;         // enough to hold the last SSE event's name
static_assert(stream_tail_bytes >= sizeof("event: message_stop") && read_chunk_bytes >= 1024);

constexpr const char* usage_text =
    "usage: sluice-load --url URL (--body FILE | --body-json JSON) [--header K:V]...\n"
    "                   (--concurrency N | --rate R) (--duration S | --requests N) [--warmup S]\n"
    "                   [--timeout S] [--max-connections N] [--method M] [--stream] [--json]\n"
    "\n"
    "  --url URL            http://HOST:PORT/PATH (plain HTTP)\n"
    "  --body FILE          request body from a file; --body-json takes it inline\n"
    "  --header K:V         an extra request header (repeatable); Content-Type defaults to JSON\n"
    "  --concurrency N      closed loop: N keep-alive connections, one request in flight on each\n"
    "  --rate R             open loop: R requests/s on a fixed timetable, latency from the due time\n"
    "  --duration S         the measuring window in seconds (fractions allowed)\n"
    "  --requests N         closed loop: send exactly N requests, then stop (a fixed mix for\n"
    "                       instruction counts); instead of --duration, without --warmup\n"
    "  --warmup S           seconds of load before the window, not recorded (default 0)\n"
    "  --timeout S          one request's limit, connect to last byte (default 30)\n"
    "  --max-connections N  open loop: connections at most; beyond, requests queue (default 4096)\n"
    "  --method M           default POST with a body, GET without\n"
    "  --stream             the answer is SSE: time to first byte is the end of the first event,\n"
    "                       and a stream without [DONE] or message_stop counts as incomplete\n"
    "  --json               print the result as one JSON object instead of a table\n";

[[noreturn]] void usage_error(const std::string& why) {
    std::fprintf(stderr, "sluice-load: %s\n\n%s", why.c_str(), usage_text);
    std::exit(2);
}

double positive_seconds(std::string_view option, const std::string& v, bool zero_ok) {
    double d = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
    if (ec != std::errc{} || end != v.data() + v.size() || !std::isfinite(d) || d < 0 || (!zero_ok && d == 0))
        usage_error(std::string(option) + " takes a " + (zero_ok ? "non-negative" : "positive") + " number, got '" + v + "'");
    return d;
}

unsigned long count(std::string_view option, const std::string& v, unsigned long hi) {
    unsigned long n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || end != v.data() + v.size() || n == 0 || n > hi)
        usage_error(std::string(option) + " takes a number from 1 to " + std::to_string(hi) + ", got '" + v + "'");
    return n;
}

struct command_line {
    std::string url, host, port, target;
    std::optional<std::string> body;
    std::string method;
    std::vector<std::pair<std::string, std::string>> headers;
    unsigned long concurrency = 0;
    unsigned long requests = 0; // 0: run for the duration
    double rate = 0;
    double duration = 0, warmup = 0, timeout = 30;
    unsigned long max_connections = 4096;
    bool stream = false, json = false;
};

void parse_url(command_line& cl) {
    std::string_view u = cl.url;
    if (!u.starts_with("http://")) usage_error("--url must start with http:// (plain HTTP only), got '" + cl.url + "'");
    u.remove_prefix(7);
    auto slash = u.find('/');
    std::string_view authority = u.substr(0, slash);
    cl.target = slash == std::string_view::npos ? "/" : std::string(u.substr(slash));
    std::string_view host = authority, port = "80";
    if (authority.starts_with('[')) { // [::1]:8080
        auto close = authority.find(']');
        if (close == std::string_view::npos) usage_error("bad IPv6 host in --url");
        host = authority.substr(1, close - 1);
        if (close + 1 < authority.size() && authority[close + 1] == ':') port = authority.substr(close + 2);
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty() || port.empty()) usage_error("--url needs a host, got '" + cl.url + "'");
    cl.host = host;
    cl.port = port;
}

command_line parse(int argc, char** argv) {
    command_line cl;
    sluice::core::option_reader args(argc, argv);
    while (args.next()) {
        std::string_view a = args.name();
        auto next = [&]() -> std::string {
            auto v = args.value();
            if (!v) usage_error(std::string(a) + " needs a value");
            return *v;
        };
        if (a == "--help" || a == "-h") {
            std::fputs(usage_text, stdout);
            std::exit(0);
        } else if (a == "--url") {
            cl.url = next();
        } else if (a == "--body") {
            auto path = next();
            std::ifstream in(path, std::ios::binary);
            if (!in) usage_error("--body: cannot read " + path);
            std::ostringstream s;
            s << in.rdbuf();
            cl.body = s.str();
        } else if (a == "--body-json") {
            cl.body = next();
        } else if (a == "--header" || a == "-H") {
            auto h = next();
            auto colon = h.find(':');
            if (colon == std::string::npos || colon == 0) usage_error("--header takes NAME:VALUE, got '" + h + "'");
            auto v = std::string_view(h).substr(colon + 1);
            while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
            cl.headers.emplace_back(h.substr(0, colon), std::string(v));
        } else if (a == "--concurrency" || a == "-c") {
            cl.concurrency = count(a, next(), 1'000'000);
        } else if (a == "--rate") {
            cl.rate = positive_seconds(a, next(), false);
        } else if (a == "--duration" || a == "-d") {
            cl.duration = positive_seconds(a, next(), false);
        } else if (a == "--requests") {
            cl.requests = count(a, next(), 1'000'000'000);
        } else if (a == "--warmup") {
            cl.warmup = positive_seconds(a, next(), true);
        } else if (a == "--timeout") {
            cl.timeout = positive_seconds(a, next(), false);
        } else if (a == "--max-connections") {
            cl.max_connections = count(a, next(), 1'000'000);
        } else if (a == "--method") {
            cl.method = next();
        } else if (a == "--stream") {
            cl.stream = true;
        } else if (a == "--json") {
            cl.json = true;
        } else {
            usage_error("unknown option " + std::string(a));
        }
    }
    if (cl.url.empty()) usage_error("--url is required");
    if ((cl.concurrency == 0) == (cl.rate == 0)) usage_error("give one of --concurrency and --rate");
    if ((cl.duration == 0) == (cl.requests == 0)) usage_error("give one of --duration and --requests");
    if (cl.requests && (cl.rate || cl.warmup)) usage_error("--requests goes with --concurrency and no --warmup");
    if (cl.method.empty()) cl.method = cl.body ? "POST" : "GET";
    parse_url(cl);
    return cl;
}

/// The request on the wire, serialized once: every request of a run is the same bytes.
std::string request_bytes(const command_line& cl) {
    std::string r = cl.method + " " + cl.target + " HTTP/1.1\r\nHost: " + cl.host + ":" + cl.port + "\r\n";
    bool has_type = false, has_accept = false;
    for (const auto& [k, v] : cl.headers) {
        auto lower = k;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        has_type |= lower == "content-type";
        has_accept |= lower == "accept";
        r += k + ": " + v + "\r\n";
    }
    if (cl.body) {
        if (!has_type) r += "Content-Type: application/json\r\n";
        r += "Content-Length: " + std::to_string(cl.body->size()) + "\r\n";
    }
    if (cl.stream && !has_accept) r += "Accept: text/event-stream\r\n";
    r += "\r\n";
    if (cl.body) r += *cl.body;
    return r;
}

// status: not 2xx; socket: connect, write or read failed; timeout: --timeout passed;
// incomplete: the connection closed mid-answer, or a stream ended without its last event.
enum class failure { none, status, socket, timeout, incomplete };

struct sample {
    nanoseconds latency{}; // start (closed) or due time (open) to the last byte
    nanoseconds ttfb{};    // to the response header; for --stream, to the end of the first SSE event
    failure fail = failure::none;
};

struct outcome {
    failure fail = failure::none;
    time_point first_byte{}, done{};
    std::uint64_t body_bytes = 0;
};

struct connection {
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;

    void close() {
        if (stream) {
            beast::error_code ec;
            stream->socket().shutdown(tcp::socket::shutdown_both, ec);
            stream->socket().close(ec);
            stream.reset();
        }
        buffer.clear();
    }
};

failure classify(const beast::error_code& ec) {
    if (ec == beast::error::timeout) return failure::timeout;
    if (ec == http::error::partial_message) return failure::incomplete; // closed before the end
    return failure::socket;
}

/// Everything the workers share. One thread: no locks.
struct run_state {
    command_line cl;
    std::string request;
    tcp::resolver::results_type endpoints;
    time_point start{}, window_begin{}, window_end{};
    nanoseconds timeout{};

    std::vector<sample> samples;
    std::uint64_t completed_in_window = 0;   // successful answers finished inside the window
    std::uint64_t issued = 0;                // closed loop with --requests: requests sent so far
    time_point last_done{};
    std::uint64_t body_bytes = 0;
    std::uint64_t connects = 0;
    std::uint64_t dispatched_late = 0;       // open loop: requests sent more than 1 ms after they were due

    // Open loop: pooled idle connections, how many exist, and requests waiting for one.
    std::vector<std::unique_ptr<connection>> idle;
    std::size_t open_connections = 0;
    std::size_t peak_connections = 0;
    struct waiter {
        net::steady_timer wake;
        std::unique_ptr<connection> handed;
        explicit waiter(net::any_io_executor ex) : wake(ex, time_point::max()) {}
    };
    std::deque<std::shared_ptr<waiter>> waiters;

    bool in_window(time_point t) const { return t >= window_begin && t < window_end; }

    bool keep_sending() {
        if (!cl.requests) return clock_type::now() < window_end;
        if (issued == cl.requests) return false;
        ++issued;
        return true;
    }

    /// The window's length in seconds: the duration, or with --requests until the last answer.
    double window_seconds() const {
        if (!cl.requests) return cl.duration;
        return last_done > window_begin ? std::chrono::duration<double>(last_done - window_begin).count() : 0;
    }

    void record(time_point began, const outcome& o) {
        if (o.fail == failure::none && in_window(o.done)) ++completed_in_window;
        last_done = std::max(last_done, o.done);
        if (!in_window(began)) return;
        body_bytes += o.body_bytes;
        sample s;
        s.fail = o.fail;
        s.latency = duration_cast<nanoseconds>(o.done - began);
        s.ttfb = o.first_byte == time_point{} ? s.latency : duration_cast<nanoseconds>(o.first_byte - began);
        samples.push_back(s);
    }
};

/// One request on connection `c`, opening it when closed; the connection is left open only when
/// the answer was read to its end and keep-alive holds.
net::awaitable<outcome> exchange(run_state& s, connection& c, time_point deadline) {
    outcome o;
    auto fail = [&](failure f) {
        c.close();
        o.fail = f;
        o.done = clock_type::now();
        return o;
    };
    if (!c.stream) {
        c.stream.emplace(co_await net::this_coro::executor);
        c.stream->expires_at(deadline);
        auto [ec, ep] = co_await c.stream->async_connect(s.endpoints, use_tuple);
        if (ec) co_return fail(classify(ec));
        c.stream->socket().set_option(tcp::no_delay(true), ec);
        ++s.connects;
    }
    c.stream->expires_at(deadline);
    auto [wec, wn] = co_await net::async_write(*c.stream, net::buffer(s.request), use_tuple);
    if (wec) co_return fail(classify(wec));

    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    auto [hec, hn] = co_await http::async_read_header(*c.stream, c.buffer, parser, use_tuple);
    if (hec) co_return fail(classify(hec));
    auto status = parser.get().result_int();
    bool ok_status = status >= 200 && status < 300;
    bool sse = s.cl.stream && ok_status;
    if (!sse) o.first_byte = clock_type::now();

    char chunk[read_chunk_bytes];
    bool at_line_start = false; // the first SSE event ends at an empty line: "\n\n" or "\n\r\n"
    std::string tail;           // the stream's last bytes, to see that it ended properly
    while (!parser.is_done()) {
        parser.get().body().data = chunk;
        parser.get().body().size = sizeof chunk;
        auto [ec, n] = co_await http::async_read_some(*c.stream, c.buffer, parser, use_tuple); // returns per arrival
        if (ec == http::error::need_buffer) ec = {};
        if (ec) co_return fail(classify(ec));
        std::size_t got = sizeof chunk - parser.get().body().size;
        o.body_bytes += got;
        if (!sse || got == 0) continue;
        for (std::size_t i = 0; o.first_byte == time_point{} && i < got; ++i) {
            if (chunk[i] == '\r') continue;
            if (chunk[i] == '\n' && at_line_start) o.first_byte = clock_type::now();
            at_line_start = chunk[i] == '\n';
        }
        tail.append(chunk, got);
        if (tail.size() > 2 * stream_tail_bytes) tail.erase(0, tail.size() - stream_tail_bytes);
    }
    o.done = clock_type::now();
    if (!parser.keep_alive()) c.close();
    if (!ok_status) o.fail = failure::status;
    else if (sse && tail.find("[DONE]") == std::string::npos && tail.find("message_stop") == std::string::npos)
        o.fail = failure::incomplete;
    co_return o;
}

/// Closed loop: one connection, the next request as soon as the previous answer is complete.
net::awaitable<void> closed_worker(run_state& s) {
    connection c;
    net::steady_timer pause(co_await net::this_coro::executor);
    while (s.keep_sending()) {
        auto began = clock_type::now();
        auto o = co_await exchange(s, c, began + s.timeout);
        s.record(began, o);
        if (o.fail == failure::socket) { // refused or reset: do not spin on a dead server
            pause.expires_after(std::chrono::milliseconds(10));
            co_await pause.async_wait(use_tuple);
        }
    }
    c.close();
}

/// A connection for an open-loop request: an idle one, a new one under the cap, or the next
/// one given back.
net::awaitable<std::unique_ptr<connection>> acquire(run_state& s) {
    if (!s.idle.empty()) {
        auto c = std::move(s.idle.back());
        s.idle.pop_back();
        co_return c;
    }
    if (s.open_connections < s.cl.max_connections) {
        ++s.open_connections;
        s.peak_connections = std::max(s.peak_connections, s.open_connections);
        co_return std::make_unique<connection>();
    }
    auto w = std::make_shared<run_state::waiter>(co_await net::this_coro::executor);
    s.waiters.push_back(w);
    co_await w->wake.async_wait(use_tuple);
    co_return std::move(w->handed);
}

void release(run_state& s, std::unique_ptr<connection> c) {
    if (!s.waiters.empty()) {
        auto w = std::move(s.waiters.front());
        s.waiters.pop_front();
        w->handed = std::move(c);
        w->wake.cancel();
        return;
    }
    s.idle.push_back(std::move(c));
}

net::awaitable<void> open_request(run_state& s, time_point due) {
    auto c = co_await acquire(s);
    if (clock_type::now() - due > std::chrono::milliseconds(1) && s.in_window(due)) ++s.dispatched_late;
    auto o = co_await exchange(s, *c, due + s.timeout);
    s.record(due, o);
    release(s, std::move(c));
}

/// Open loop: request i is due at start + i / rate, sent whether or not earlier ones are done.
net::awaitable<void> scheduler(run_state& s) {
    auto ex = co_await net::this_coro::executor;
    net::steady_timer timer(ex);
    auto interval = std::chrono::duration<double>(1.0 / s.cl.rate);
    for (std::uint64_t i = 0;; ++i) {
        auto due = s.start + duration_cast<clock_type::duration>(interval * double(i));
        if (due >= s.window_end) break;
        timer.expires_at(due);
        co_await timer.async_wait(use_tuple);
        net::co_spawn(ex, open_request(s, due), net::detached);
    }
}

struct percentiles {
    double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

double ms(nanoseconds d) { return double(d.count()) / 1e6; }

percentiles summarize(std::vector<nanoseconds> v) {
    percentiles p;
    if (v.empty()) return p;
    std::sort(v.begin(), v.end());
    auto rank = [&](double q) { // nearest rank
        auto i = std::size_t(std::ceil(q * double(v.size())));
        return ms(v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)]);
    };
    p.p50 = rank(0.50);
    p.p90 = rank(0.90);
    p.p99 = rank(0.99);
    p.max = ms(v.back());
    double sum = 0;
    for (auto d : v) sum += ms(d);
    p.mean = sum / double(v.size());
    return p;
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') out += '\\', out += char(c);
        else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else out += char(c);
    }
    return out + "\"";
}

std::string json_percentiles(const percentiles& p) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "{\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f,\"max\":%.4f,\"mean\":%.4f}", p.p50, p.p90,
                  p.p99, p.max, p.mean);
    return buf;
}

void report(const run_state& s) {
    const auto& cl = s.cl;
    std::vector<nanoseconds> latency, ttfb;
    std::uint64_t by_kind[5] = {};
    for (const auto& x : s.samples) {
        ++by_kind[int(x.fail)];
        if (x.fail != failure::none) continue;
        latency.push_back(x.latency);
        ttfb.push_back(x.ttfb);
    }
    auto lat = summarize(std::move(latency));
    auto fb = summarize(std::move(ttfb));
    std::uint64_t requests = s.samples.size(), ok = by_kind[0], errors = requests - ok;
    double seconds = s.window_seconds();
    double throughput = seconds > 0 ? double(s.completed_in_window) / seconds : 0;
    double bytes_per_request = requests ? double(s.body_bytes) / double(requests) : 0;
    if (cl.json) {
        std::printf("{\"url\":%s,\"mode\":\"%s\",\"concurrency\":%lu,\"rate\":%.3f,\"duration_s\":%.3f,\"warmup_s\":%.3f,"
                    "\"stream\":%s,\"requests\":%llu,\"ok\":%llu,\"errors\":%llu,"
                    "\"errors_by_kind\":{\"status\":%llu,\"socket\":%llu,\"timeout\":%llu,\"incomplete\":%llu},"
                    "\"throughput_rps\":%.2f,\"latency_ms\":%s,\"ttfb_ms\":%s,\"body_bytes_per_request\":%.1f,"
                    "\"connections_opened\":%llu,\"peak_connections\":%zu,\"dispatched_late\":%llu}\n",
                    json_string(cl.url).c_str(), cl.concurrency ? "closed" : "open", cl.concurrency, cl.rate, seconds,
                    cl.warmup, cl.stream ? "true" : "false", (unsigned long long)requests, (unsigned long long)ok,
                    (unsigned long long)errors, (unsigned long long)by_kind[1], (unsigned long long)by_kind[2],
                    (unsigned long long)by_kind[3], (unsigned long long)by_kind[4], throughput,
                    json_percentiles(lat).c_str(), json_percentiles(fb).c_str(), bytes_per_request,
                    (unsigned long long)s.connects, cl.concurrency ? std::size_t(cl.concurrency) : s.peak_connections,
                    (unsigned long long)s.dispatched_late);
        return;
    }
    if (cl.concurrency)
        std::printf("closed loop, %lu connections, %.2f s (+%.1f s warm-up): %s %s\n", cl.concurrency, seconds,
                    cl.warmup, cl.method.c_str(), cl.url.c_str());
    else
        std::printf("open loop, %.1f req/s, %.1f s (+%.1f s warm-up), %zu connections at peak: %s %s\n", cl.rate,
                    cl.duration, cl.warmup, s.peak_connections, cl.method.c_str(), cl.url.c_str());
    std::printf("  requests %llu   ok %llu   errors %llu (status %llu, socket %llu, timeout %llu, incomplete %llu)\n",
                (unsigned long long)requests, (unsigned long long)ok, (unsigned long long)errors,
                (unsigned long long)by_kind[1], (unsigned long long)by_kind[2], (unsigned long long)by_kind[3],
                (unsigned long long)by_kind[4]);
    std::printf("  throughput %.1f req/s\n", throughput);
    std::printf("  %-8s %10s %10s %10s %10s %10s\n", "ms", "p50", "p90", "p99", "max", "mean");
    std::printf("  %-8s %10.3f %10.3f %10.3f %10.3f %10.3f\n", "latency", lat.p50, lat.p90, lat.p99, lat.max, lat.mean);
    std::printf("  %-8s %10.3f %10.3f %10.3f %10.3f %10.3f\n", cl.stream ? "ttfe" : "ttfb", fb.p50, fb.p90, fb.p99, fb.max,
                fb.mean);
    if (!cl.concurrency && s.dispatched_late)
        std::printf("  %llu requests were sent more than 1 ms late (the generator or the connection cap)\n",
                    (unsigned long long)s.dispatched_late);
}

} // namespace

int main(int argc, char** argv) {
    run_state s;
    s.cl = parse(argc, argv);
    s.request = request_bytes(s.cl);
    s.timeout = duration_cast<nanoseconds>(std::chrono::duration<double>(s.cl.timeout));

    net::io_context ioc(1);
    try {
        tcp::resolver resolver(ioc);
        s.endpoints = resolver.resolve(s.cl.host, s.cl.port);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sluice-load: resolve %s:%s: %s\n", s.cl.host.c_str(), s.cl.port.c_str(), e.what());
        return 1;
    }
    auto expected = s.cl.requests ? double(s.cl.requests) : s.cl.rate ? s.cl.rate * s.cl.duration : 50'000.0 * s.cl.duration;
    s.samples.reserve(std::size_t(std::min(expected, 20e6)));

    s.start = clock_type::now();
    s.window_begin = s.start + duration_cast<clock_type::duration>(std::chrono::duration<double>(s.cl.warmup));
    s.window_end = s.cl.requests ? time_point::max()
                                 : s.window_begin + duration_cast<clock_type::duration>(std::chrono::duration<double>(s.cl.duration));
    if (s.cl.concurrency)
        for (unsigned long i = 0; i < s.cl.concurrency; ++i) net::co_spawn(ioc, closed_worker(s), net::detached);
    else
        net::co_spawn(ioc, scheduler(s), net::detached);
    ioc.run();
    s.idle.clear(); // their sockets belong to ioc: close them while it lives
    s.waiters.clear();
    report(s);
    return 0;
}

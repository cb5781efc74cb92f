// sluice-mock-upstream: an OpenAI- and Anthropic-compatible model server that answers at once,
// for the integration tests and the benchmarks. Per-request `mock:` directives in the last user
// message choose the answer (see README.md). The only Beast translation unit of the mock: the
// answers themselves are built by the Beast-free headers beside it.

#include "anthropic_shape.hpp"
#include "media.hpp"
#include "openai_shape.hpp"
#include "videos.hpp"

#include <sluice/core/command_line.hpp>
#include <sluice/config/listen.hpp>
#include <sluice/core/log.hpp>
#include <sluice/transport/route_table.hpp>
#include <sluice/transport/server.hpp>
#include <sluice/transport/sse.hpp>

#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

namespace mock = sluice::mock;
namespace transport = sluice::transport;
namespace net = transport::net;
namespace http = transport::http;
using transport::exchange;
using transport::sse_stream;

constexpr const char* usage_text =
    "usage: sluice-mock-upstream [--listen HOST:PORT] [--threads N] [--chunks N] [--gap-ms MS]\n"
    "                            [--text-bytes N] [--verbose]\n"
    "\n"
    "  --listen HOST:PORT  address to listen on (default 127.0.0.1:9100; port 0 picks a free one)\n"
    "  --threads N         io threads (default 1)\n"
    "  --chunks N          pieces of a streamed text answer (default 8)\n"
    "  --gap-ms MS         pause before each streamed piece but the first (default 0)\n"
    "  --text-bytes N      answer with N bytes of filler text instead of the short default\n"
    "  --verbose           log every request (info level); otherwise only warnings and errors\n"
    "\n"
    "Directives in the last user message, e.g. \"hi mock: tools=2 reasoning=1 cached=40\":\n"
    "  text=WORDS_WITH_UNDERSCORES tools=N reasoning=1 cached=N error=STATUS cut=K delay_ms=N\n"
    "  echo=1 length=1 chunks=N gap_ms=N   (see bench/mock-upstream/README.md)\n";

struct command_line {
    sluice::config::listen_address listen{"127.0.0.1", 9100};
    unsigned threads = 1;
    mock::mock_options options;
    bool verbose = false;
};

[[noreturn]] void usage_error(const std::string& why) {
    std::fprintf(stderr, "sluice-mock-upstream: %s\n\n%s", why.c_str(), usage_text);
    std::exit(2);
}

long long number(std::string_view option, const std::string& v, long long lo, long long hi) {
    long long n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || end != v.data() + v.size() || n < lo || n > hi)
        usage_error(std::string(option) + " takes a number from " + std::to_string(lo) + " to " + std::to_string(hi));
    return n;
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
        } else if (a == "--listen") {
            auto v = next();
            std::string why;
            auto addr = sluice::config::parse_listen_address(v, &why);
            if (!addr) usage_error("--listen " + v + ": " + why);
            cl.listen = *addr;
        } else if (a == "--threads") {
            cl.threads = unsigned(number(a, next(), 1, 256));
        } else if (a == "--chunks") {
            cl.options.chunks = int(number(a, next(), 1, mock::max_chunks));
        } else if (a == "--gap-ms") {
            cl.options.gap_ms = int(number(a, next(), 0, mock::max_delay_ms));
        } else if (a == "--text-bytes") {
            cl.options.text = mock::filler_text(std::size_t(number(a, next(), 0, 64ll << 20)));
        } else if (a == "--verbose" || a == "-v") {
            cl.verbose = true;
        } else {
            usage_error("unknown option " + std::string(a));
        }
    }
    return cl;
}

std::int64_t unix_seconds() { return std::int64_t(std::time(nullptr)); }

net::awaitable<void> pause(std::chrono::milliseconds d) {
    auto exec = co_await net::this_coro::executor;
    net::steady_timer timer(exec, d);
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    (void)ec; // cancelled: the client left, and the session ends the exchange
}

/// A JSON answer with any status, 529 included (Beast has no reason phrase for it).
net::awaitable<void> respond_status(exchange& ex, mock::api kind, unsigned status, std::string body) {
    transport::http_response res;
    res.result(status);
    if (status == 529) res.reason("Overloaded");
    res.set(http::field::content_type, "application/json");
    if (status == 429) res.set(http::field::retry_after, "1");
    if (kind == mock::api::anthropic) res.set("request-id", ex.request_id());
    res.body() = std::move(body);
    co_await ex.respond(std::move(res));
}

std::vector<std::pair<std::string, std::string>> lower_case_headers(const transport::http_request& req) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& c : name)
            if (c >= 'A' && c <= 'Z') c = char(c + 32);
        out.emplace_back(std::move(name), std::string(f.value()));
    }
    return out;
}

/// Everything up to the last queued event has reached the socket once the writer has taken a
/// marker queued behind it (the writer takes an event off the queue before writing it).
net::awaitable<void> flush(sse_stream& out) {
    bool ok = co_await out.comment("cut");
    if (!ok) co_return;
    auto exec = co_await net::this_coro::executor;
    net::steady_timer poll(exec);
    while (out.queued() > 0 && !out.closed()) {
        poll.expires_after(std::chrono::milliseconds(1));
        auto [ec] = co_await poll.async_wait(net::as_tuple(net::use_awaitable));
        if (ec) co_return;
    }
}

/// Sends the plan's events with the gap before each piece; a cut=K plan throws after K events,
/// and the server then closes the connection because the body is incomplete.
template <class Encoder>
net::awaitable<void> produce(sse_stream& out, const mock::answer_plan& plan, std::string_view request_id) {
    Encoder encoder(plan);
    mock::stream_event ev;
    auto exec = co_await net::this_coro::executor;
    net::steady_timer gap(exec);
    int sent = 0;
    bool first_piece = true;
    for (;;) {
        bool more = encoder.next(ev);
        if (!more) co_return;
        if (plan.cut >= 0 && sent >= plan.cut) {
            co_await flush(out);
            // The session logs the failure as "multiple exceptions" (the writer is cancelled too): say why here.
            sluice::log::warn("mock_cut", {{"request_id", request_id}, {"events", sent}});
            throw std::runtime_error("mock: stream cut after " + std::to_string(sent) + " events (cut directive)");
        }
        if (ev.token) {
            if (!first_piece && plan.gap_ms > 0) {
                gap.expires_after(std::chrono::milliseconds(plan.gap_ms));
                auto [ec] = co_await gap.async_wait(net::as_tuple(net::use_awaitable));
                if (ec) co_return;
            }
            first_piece = false;
        }
        bool ok = co_await out.send(ev.event, ev.data);
        if (!ok) co_return; // the client left
        ++sent;
    }
}

/// cut=K on a non-streaming request: the headers and half of the body, then the connection closes.
net::awaitable<void> respond_cut_body(exchange& ex, std::string body) {
    http::response<http::empty_body> head{http::status::ok, ex.request().version()};
    head.set(http::field::content_type, "application/json");
    auto ec = co_await ex.begin_chunked(std::move(head));
    if (ec) co_return;
    std::string_view half(body.data(), body.size() / 2);
    co_await ex.write_chunk(half);
    throw std::runtime_error("mock: body cut after " + std::to_string(half.size()) + " bytes (cut directive)");
}

/// POST /v1/chat/completions and POST /v1/messages.
net::awaitable<void> serve_completion(exchange& ex, const mock::mock_options& options, mock::api kind) {
    const bool openai = kind == mock::api::openai;
    auto parsed = mock::read_request(kind, ex.request().body());
    if (auto* bad = std::get_if<mock::request_error>(&parsed)) {
        std::string body = openai ? mock::openai_error_body(*bad) : mock::anthropic_error_body(*bad);
        co_await respond_status(ex, kind, unsigned(bad->status), std::move(body));
        co_return;
    }
    auto& req = std::get<mock::mock_request>(parsed);
    const auto& d = req.dir;
    if (d.delay_ms > 0) {
        co_await pause(std::chrono::milliseconds(d.delay_ms));
    }
    if (d.error != 0) {
        std::string body = openai ? mock::openai_error_body(d.error) : mock::anthropic_error_body(d.error);
        co_await respond_status(ex, kind, unsigned(d.error), std::move(body));
        co_return;
    }
    std::optional<std::string> echo;
    if (d.echo) echo = mock::echo_text(lower_case_headers(ex.request()), ex.request().body());
    auto plan = mock::make_answer(req, options, mock::new_answer_id(kind), unix_seconds(), std::move(echo));

    if (!plan.stream) {
        std::string body = openai ? mock::openai_body(plan) : mock::anthropic_body(plan);
        if (plan.cut >= 0) {
            co_await respond_cut_body(ex, std::move(body));
            co_return;
        }
        co_await respond_status(ex, kind, 200, std::move(body));
        co_return;
    }

    http::response<http::empty_body> head{http::status::ok, ex.request().version()};
    if (!openai) head.set("request-id", ex.request_id());
    transport::sse_producer producer;
    if (openai)
        producer = [&plan, &ex](sse_stream& s) { return produce<mock::openai_stream>(s, plan, ex.request_id()); };
    else
        producer = [&plan, &ex](sse_stream& s) { return produce<mock::anthropic_stream>(s, plan, ex.request_id()); };
    co_await transport::serve_sse(ex, std::move(producer), std::move(head));
}

/// GET /v1/models: OpenAI's list, or Anthropic's when the request carries anthropic-version.
net::awaitable<void> serve_models(exchange& ex) {
    const bool anthropic = ex.request().find("anthropic-version") != ex.request().end();
    std::string body = anthropic ? mock::anthropic_models_body() : mock::openai_models_body();
    co_await respond_status(ex, anthropic ? mock::api::anthropic : mock::api::openai, 200, std::move(body));
}

/// POST /v1/messages/count_tokens.
net::awaitable<void> serve_count_tokens(exchange& ex) {
    auto tokens = mock::rough_token_count(ex.request().body());
    std::string body = tokens ? mock::anthropic_count_tokens_body(*tokens)
                              : mock::anthropic_error_body("invalid_request_error",
                                                           "There was an error parsing the body of your request");
    co_await respond_status(ex, mock::api::anthropic, tokens ? 200 : 400, std::move(body));
}

net::awaitable<void> serve_health(exchange& ex) {
    std::string body = R"({"status":"ok"})";
    co_await respond_status(ex, mock::api::openai, 200, std::move(body));
}

} // namespace

int main(int argc, char** argv) {
    const auto cl = parse(argc, argv);
    const mock::mock_options& options = cl.options;
    try {
        transport::route_table routes;
        routes.add(http::verb::post, "/v1/chat/completions",
                   [&options](exchange& ex) { return serve_completion(ex, options, mock::api::openai); });
        routes.add(http::verb::post, "/v1/messages",
                   [&options](exchange& ex) { return serve_completion(ex, options, mock::api::anthropic); });
        routes.add(http::verb::post, "/v1/messages/count_tokens", serve_count_tokens);
        routes.add(http::verb::get, "/v1/models", serve_models);
        routes.add(http::verb::get, "/health", serve_health);
        mock::media::add_routes(routes); // embeddings, images, speech
        mock::videos::add_routes(routes); // the videos API: async jobs

        transport::server_options so;
        so.host = cl.listen.host;
        so.port = cl.listen.port;
        so.threads = cl.threads;
        so.drain_timeout = std::chrono::seconds(2);
        so.heartbeat_interval = std::chrono::hours(24); // providers send no SSE comments: neither does the mock
        transport::server srv(so, [&routes](exchange& ex) { return routes(ex); });

        // The listening line always shows: tests and scripts read the port from it. Then warnings
        // only (SLUICE_LOG_LEVEL may ask for less), or with --verbose every request (or debug).
        namespace log = sluice::log;
        const auto env_level = log::enabled(log::level::debug) ? log::level::debug
                               : log::enabled(log::level::info) ? log::level::info
                               : log::enabled(log::level::warn) ? log::level::warn
                               : log::enabled(log::level::error) ? log::level::error
                                                                 : log::level::off;
        log::set_level(std::min(env_level, log::level::info));
        srv.listen();
        log::set_level(cl.verbose ? std::min(env_level, log::level::info) : std::max(env_level, log::level::warn));

        // SIGINT/SIGTERM drains (requests in flight finish); a second signal stops at once.
        net::signal_set signals(srv.context(), SIGINT, SIGTERM);
        std::function<void(const transport::error_code&, int)> on_signal = [&](const transport::error_code& ec, int) {
            if (ec) return;
            if (srv.draining()) return srv.stop();
            srv.drain();
            signals.async_wait(on_signal);
        };
        signals.async_wait(on_signal);
        srv.on_drained([&srv] { srv.stop(); });
        srv.run();
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sluice-mock-upstream: %s\n", e.what());
    }
    return 1;
}

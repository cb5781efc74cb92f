#ifndef SLUICE_TRANSPORT_SESSION_HPP
#define SLUICE_TRANSPORT_SESSION_HPP

// One client connection: read a request, run the handler, write the answer, repeat while
// keep-alive holds. Each phase has its own deadline; every failure ends in a clear status or a close.

#include <sluice/core/log.hpp>
#include <sluice/transport/deadline.hpp>
#include <sluice/transport/exchange.hpp>
#include <sluice/transport/request_id.hpp>
#include <sluice/transport/server_options.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <memory>
#include <type_traits>

namespace sluice::transport {

using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

/// What the server needs of a session to drain it, whatever its stream type.
class session_base : public std::enable_shared_from_this<session_base> {
public:
    virtual ~session_base() = default;
    /// Close when idle; finish the request in flight first. Runs on the session's strand.
    virtual void drain() = 0;
    /// The drain deadline passed: cancel the handler and close now. Runs on the session's strand.
    virtual void abort() = 0;
    virtual net::any_io_executor executor() = 0;
};

/// Server-wide state a session reads: options, handler, live counters.
struct session_context {
    const server_options& options;
    const request_handler& handler;
    std::atomic<std::size_t>& in_flight;
};

template <class Stream>
class session final : public session_base, public response_channel {
    static constexpr bool is_tls = !std::is_same_v<Stream, plain_stream>;
    static constexpr std::size_t read_chunk = 4096;

public:
    session(Stream stream, tcp::endpoint remote, session_context ctx)
        : stream_(std::move(stream)), remote_(std::move(remote)), ctx_(ctx),
          deadline_(stream_.get_executor(), lowest().socket()) {}

    net::awaitable<void> run() {
        if constexpr (is_tls) {
            deadline_.expires_after(ctx_.options.header_timeout);
            auto [ec] = co_await stream_.async_handshake(net::ssl::stream_base::server, net::as_tuple(net::use_awaitable));
            deadline_.expires_never();
            if (ec) {
                log::debug("tls_handshake_failed", {{"remote", remote_string()}, {"error", ec.message()}});
                co_return close();
            }
        }
        // The first request must start within the header timeout; later ones within the idle timeout.
        auto wait = ctx_.options.header_timeout;
        while (!draining_) {
            if (buffer_.size() == 0) {
                bool more = co_await wait_for_next_request(wait);
                if (!more) break;
            }
            wait = ctx_.options.idle_timeout;
            bool keep = co_await serve_one();
            if (!keep) break;
        }
        co_await shutdown();
    }

    void drain() override {
        draining_ = true;
        if (idle_) lowest().socket().cancel();
    }

    void abort() override {
        draining_ = true;
        stop_.emit(net::cancellation_type::terminal);
        error_code ignored;
        lowest().socket().cancel(ignored);
    }

    net::any_io_executor executor() override { return stream_.get_executor(); }
    net::cancellation_slot cancellation_slot() { return stop_.slot(); }

    // ---- response_channel
    net::awaitable<error_code> write_response(http_response& res) override {
        deadline_.expires_after(ctx_.options.write_timeout);
        auto [ec, n] = co_await http::async_write(stream_, res, net::as_tuple(net::use_awaitable));
        co_return finished(ec);
    }

    net::awaitable<error_code> write_chunked_header(http::response<http::empty_body>& res) override {
        http::response_serializer<http::empty_body> sr{res};
        deadline_.expires_after(ctx_.options.write_timeout);
        auto [ec, n] = co_await http::async_write_header(stream_, sr, net::as_tuple(net::use_awaitable));
        co_return finished(ec);
    }

    net::awaitable<error_code> write_chunk(std::string_view data) override {
        deadline_.expires_after(ctx_.options.write_timeout);
        auto [ec, n] = co_await net::async_write(stream_, http::make_chunk(net::buffer(data.data(), data.size())),
                                                 net::as_tuple(net::use_awaitable));
        co_return finished(ec);
    }

    net::awaitable<error_code> write_last_chunk() override {
        deadline_.expires_after(ctx_.options.write_timeout);
        auto [ec, n] = co_await net::async_write(stream_, http::make_chunk_last(), net::as_tuple(net::use_awaitable));
        co_return finished(ec);
    }

    std::chrono::milliseconds heartbeat_interval() const noexcept override { return ctx_.options.heartbeat_interval; }
    bool closing() const noexcept override { return draining_; }

private:
    beast::tcp_stream& lowest() noexcept { return beast::get_lowest_layer(stream_); }

    /// Ends an operation's deadline; an operation the deadline cut short reports a timeout.
    error_code finished(error_code ec) noexcept {
        deadline_.expires_never();
        if (ec && deadline_.expired()) ec = beast::error::timeout;
        return ec;
    }

    /// Formatted once: every access log line of the connection carries it.
    const std::string& remote_string() {
        if (remote_text_.empty()) remote_text_ = remote_.address().to_string() + ":" + std::to_string(remote_.port());
        return remote_text_;
    }

    /// Waits for the first byte of the next request; a drain closes the connection here at once.
    net::awaitable<bool> wait_for_next_request(std::chrono::milliseconds timeout) {
        idle_ = true;
        deadline_.expires_after(timeout);
        auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(read_chunk), net::as_tuple(net::use_awaitable));
        deadline_.expires_never();
        idle_ = false;
        buffer_.commit(n);
        co_return !ec && !draining_;
    }

    /// Reads one request and answers it. False when the connection must close.
    net::awaitable<bool> serve_one() {
        http::request_parser<http::string_body> parser;
        parser.header_limit(std::uint32_t(std::min<std::size_t>(ctx_.options.header_limit, UINT32_MAX)));
        parser.body_limit(ctx_.options.body_limit);

        deadline_.expires_after(ctx_.options.header_timeout);
        auto [hec, hn] = co_await http::async_read_header(stream_, buffer_, parser, net::as_tuple(net::use_awaitable));
        hec = finished(hec);
        if (hec) co_return co_await refuse(hec, parser, "read_header");

        auto& head = parser.get();
        if (auto len = parser.content_length(); len && *len > ctx_.options.body_limit)
            co_return co_await refuse(http::error::body_limit, parser, "read_header");

        if (auto expect = head.find(http::field::expect); expect != head.end()) {
            if (!iequals(expect->value(), "100-continue"))
                co_return co_await refuse_with(417, "Expectation Failed", "unsupported Expect header", parser);
            http::response<http::empty_body> cont{http::status::continue_, head.version()};
            deadline_.expires_after(ctx_.options.write_timeout);
            auto [cec, cn] = co_await http::async_write(stream_, cont, net::as_tuple(net::use_awaitable));
            if (finished(cec)) co_return false;
        }

        if (!parser.is_done()) {
            deadline_.expires_after(ctx_.options.body_timeout);
            auto [bec, bn] = co_await http::async_read(stream_, buffer_, parser, net::as_tuple(net::use_awaitable));
            bec = finished(bec);
            if (bec) co_return co_await refuse(bec, parser, "read_body");
        }

        auto id_header = parser.get()["x-request-id"];
        std::string id = acceptable_request_id(id_header) ? std::string(id_header) : new_request_id();
        exchange ex(parser.release(), std::move(id), remote_, *this, !draining_);
        co_await handle(ex);
        co_return ex.keep_alive() && !draining_;
    }

    net::awaitable<void> handle(exchange& ex) {
        struct in_flight_count {
            std::atomic<std::size_t>& n;
            explicit in_flight_count(std::atomic<std::size_t>& c) : n(c) { ++n; }
            ~in_flight_count() { --n; }
        } counted{ctx_.in_flight};
        bool gone = false, threw = false;
        watch_for_hangup();
        try {
            co_await ctx_.handler(ex);
        } catch (const boost::system::system_error& e) {
            threw = true;
            gone = e.code() == net::error::operation_aborted; // cancelled by a hang-up or the drain deadline
            if (!gone && !hung_up_) log::error("handler_failed", {{"request_id", ex.request_id()}, {"error", e.what()}});
        } catch (const std::exception& e) {
            threw = true;
            if (!hung_up_) log::error("handler_failed", {{"request_id", ex.request_id()}, {"error", e.what()}});
        }
        ++watch_generation_; // the watch still pending, if any, now belongs to no request
        if (hung_up_) {
            gone = true;
            log::info("client_gone", {{"request_id", ex.request_id()}, {"path", ex.path()}});
        }
        // The cancellation (a hang-up, the drain deadline) was for the handler: closing the
        // connection must not throw on its first co_await.
        if (gone) co_await net::this_coro::reset_cancellation_state();
        if (gone || (threw && ex.responded())) {
            ex.close_after_response(); // the body may be incomplete: only a close tells the client
        } else if (!ex.responded() && !ex.failed()) {
            core::error e{core::error_kind::internal,
                          threw ? "internal error while handling the request" : "the request was not answered",
                          {}, {}};
            co_await ex.respond_error(e);
        }
        log_request(ex);
    }

    /// While the handler runs, a client that hangs up cancels it, and that cancellation reaches
    /// whatever upstream call it is waiting on. A completion handler on the socket, not a second
    /// coroutine: no frame, no parallel group, no exception per request. Pipelined bytes are left
    /// in the socket for the next request; a wait that outlives its request is ignored when it
    /// completes (the next read on the socket completes it, at no cost until then).
    void watch_for_hangup() {
        hung_up_ = false;
        lowest().socket().async_wait(
            tcp::socket::wait_read,
            [this, self = shared_from_this(), generation = ++watch_generation_](const error_code& ec) {
                if (ec || generation != watch_generation_) return;
                char probe;
                error_code pec;
                auto n = lowest().socket().receive(net::buffer(&probe, 1), tcp::socket::message_peek, pec);
                if (!pec && n > 0) return; // a pipelined request: never a hang-up
                if (pec == net::error::would_block || pec == net::error::try_again) return;
                hung_up_ = true;
                stop_.emit(net::cancellation_type::terminal);
            });
    }

    /// A request we cannot serve: answer with the right status, then close.
    net::awaitable<bool> refuse(error_code ec, http::request_parser<http::string_body>& parser, const char* op) {
        if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
            ec == net::error::operation_aborted || ec == net::ssl::error::stream_truncated)
            co_return false; // the client left between requests, or we are draining
        if (ec == http::error::body_limit)
            co_return co_await refuse_with(413, "Payload Too Large",
                                           "request body exceeds the limit of " +
                                               std::to_string(ctx_.options.body_limit) + " bytes",
                                           parser, core::error_kind::request_too_large);
        if (ec == http::error::header_limit)
            co_return co_await refuse_with(431, "Request Header Fields Too Large",
                                           "request headers exceed the limit of " +
                                               std::to_string(ctx_.options.header_limit) + " bytes",
                                           parser, core::error_kind::request_too_large);
        if (ec == beast::error::timeout) {
            // The deadline has closed the socket, as nginx does: nothing more to send.
            log::info("request_timeout", {{"remote", remote_string()}, {"phase", op}});
            co_return false;
        }
        log::info("bad_request", {{"remote", remote_string()}, {"phase", op}, {"error", ec.message()}});
        co_return co_await refuse_with(400, "Bad Request", "malformed HTTP request: " + ec.message(), parser);
    }

    net::awaitable<bool> refuse_with(unsigned status, std::string_view, std::string message,
                                     http::request_parser<http::string_body>& parser,
                                     core::error_kind kind = core::error_kind::invalid_request) {
        const http_request* req = parser.is_header_done() ? &parser.get() : nullptr;
        std::string target = req ? std::string(req->target()) : std::string();
        auto res = error_response({kind, std::move(message), {}, {}}, target, req);
        res.result(status);
        res.set(http::field::server, "sluice");
        res.set(http::field::connection, "close");
        res.keep_alive(false);
        res.prepare_payload();
        co_await write_response(res);
        log::info("request", {{"request_id", ""}, {"method", req ? std::string(req->method_string()) : ""},
                              {"path", target_path(target)}, {"status", status}, {"remote", remote_string()}});
        co_return false;
    }

    void log_request(const exchange& ex) {
        auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - ex.started()).count();
        log::info("request", {{"request_id", ex.request_id()},
                              {"method", ex.request().method_string()},
                              {"path", ex.path()},
                              {"status", ex.status()},
                              {"latency_ms", ms},
                              {"bytes", ex.bytes_sent()},
                              {"remote", remote_string()}});
    }

    net::awaitable<void> shutdown() {
        if constexpr (is_tls) {
            deadline_.expires_after(std::chrono::seconds(2));
            co_await stream_.async_shutdown(net::as_tuple(net::use_awaitable));
            deadline_.expires_never();
        }
        close();
    }

    void close() {
        error_code ignored;
        lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
        lowest().close();
    }

    Stream stream_;
    tcp::endpoint remote_;
    std::string remote_text_;
    session_context ctx_;
    socket_deadline deadline_; // every phase's time limit; Beast's per-operation timers are never set
    beast::flat_buffer buffer_;
    net::cancellation_signal stop_;
    std::uint64_t watch_generation_ = 0;
    bool hung_up_ = false;
    bool idle_ = false;
    bool draining_ = false;
};

} // namespace sluice::transport

#endif

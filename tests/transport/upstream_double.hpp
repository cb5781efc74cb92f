#ifndef SLUICE_TESTS_TRANSPORT_UPSTREAM_DOUBLE_HPP
#define SLUICE_TESTS_TRANSPORT_UPSTREAM_DOUBLE_HPP

// A loopback HTTP/1.1 server (plain or TLS) that misbehaves on command, for the client tests.
// It runs on its own thread; the request path picks the behaviour:
//
//   /ok             200 "hello", keep-alive
//   /echo           200, body "<method> <target>\n<host>\n<x-test>\n<body>"
//   /big?n=N        200, N bytes of 'x'
//   /slow           200 "hello" after 100 ms (overlaps concurrent calls)
//   /chunked        chunked "one" "two" "three"; before each later piece it waits until the test
//                   has counted the earlier ones in `client_progress` (gives up after 10 s)
//   /until-close    200 without length, Connection: close, body ends with the connection
//   /hang           reads the request, never answers, waits (30 s) for the client to close
//   /stream-hang    chunked header and "first", then waits (30 s) for the client to close
//   /truncate       Content-Length: 100, 10 bytes, close
//   /drop           closes the connection without an answer
//   /drop-reused    200 "hello" as the first request of a connection; later ones: close, no answer
//   /ok-then-close  200 "hello" (keep-alive by default), then closes the connection
//   /big-header     200 with a 100 KiB header field
//
// Counters are atomics the test reads from its own thread.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace sluice::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

/// Polls `done` every few milliseconds until it holds or `limit` passes; says whether it held.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

class upstream_double {
public:
    static constexpr auto hang_limit = 30s;
    static constexpr auto gate_limit = 10s;

    /// `address` may be any loopback address (Linux routes all of 127/8 to lo).
    explicit upstream_double(bool tls = false, std::string address = "127.0.0.1")
        : tls_(tls), address_(std::move(address)) {
        if (tls_) {
            tls_context_.use_certificate_chain_file(SLUICE_TEST_DATA_DIR "/tls/localhost.crt");
            tls_context_.use_private_key_file(SLUICE_TEST_DATA_DIR "/tls/localhost.key", net::ssl::context::pem);
        }
        acceptor_.open(tcp::v4());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind({net::ip::make_address(address_), 0});
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        net::co_spawn(io_, accept_loop(), net::detached);
        thread_ = std::thread([this] { io_.run(); });
    }

    ~upstream_double() {
        io_.stop();
        thread_.join();
    }

    std::uint16_t port() const { return port_; }
    /// An absolute URL on this server; `host` may also be "localhost" (when bound to 127.0.0.1).
    std::string url(std::string_view path, std::string_view host = {}) const {
        return std::string(tls_ ? "https://" : "http://") + std::string(host.empty() ? address_ : host) + ":" +
               std::to_string(port_) + std::string(path);
    }

    std::atomic<int> accepted{0};         // connections accepted
    std::atomic<int> open{0};             // connections open now
    std::atomic<int> max_open{0};         // the most open at once
    std::atomic<int> requests{0};         // requests read
    std::atomic<int> closed_by_client{0}; // /hang and /stream-hang exchanges the client closed
    std::atomic<int> client_progress{0};  // /chunked pieces the test has seen
    std::atomic<int> gate_timeouts{0};    // /chunked pieces sent without the test's go-ahead

private:
    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
            if (ec) co_return;
            ++accepted;
            int now = ++open;
            for (int seen = max_open.load(); now > seen && !max_open.compare_exchange_weak(seen, now);) {}
            net::co_spawn(io_, session(std::move(socket)), net::detached);
        }
    }

    net::awaitable<void> session(tcp::socket socket) {
        beast::tcp_stream tcp_stream(std::move(socket));
        if (!tls_) {
            co_await serve(tcp_stream);
        } else {
            beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(tcp_stream), tls_context_);
            beast::get_lowest_layer(tls_stream).expires_after(10s);
            auto [ec] = co_await tls_stream.async_handshake(net::ssl::stream_base::server,
                                                           net::as_tuple(net::use_awaitable));
            if (!ec) co_await serve(tls_stream);
        }
        --open;
    }

    template <class Stream>
    static net::awaitable<bool> write_raw(Stream& stream, const std::string& bytes) {
        beast::get_lowest_layer(stream).expires_after(10s);
        auto [ec, n] = co_await net::async_write(stream, net::buffer(bytes), net::as_tuple(net::use_awaitable));
        co_return !ec;
    }

    static std::string ok(std::string_view body, std::string_view extra = "") {
        return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n" + std::string(extra) + "\r\n" + std::string(body);
    }

    static std::string chunk(std::string_view piece) {
        char size[16];
        std::snprintf(size, sizeof size, "%zx", piece.size());
        return std::string(size) + "\r\n" + std::string(piece) + "\r\n";
    }

    template <class Stream>
    static void close(Stream& stream) {
        boost::system::error_code ec;
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
        beast::get_lowest_layer(stream).socket().close(ec);
    }

    // Waits for the client to close the connection (or the hang limit), and counts it.
    template <class Stream>
    net::awaitable<void> wait_for_client_close(Stream& stream) {
        char byte[64];
        beast::get_lowest_layer(stream).expires_after(hang_limit);
        for (;;) {
            auto [ec, n] = co_await stream.async_read_some(net::buffer(byte), net::as_tuple(net::use_awaitable));
            if (ec == beast::error::timeout) co_return;
            if (ec) break;
        }
        ++closed_by_client;
    }

    net::awaitable<bool> wait_for_progress(int pieces) {
        net::steady_timer timer(io_);
        auto until = std::chrono::steady_clock::now() + gate_limit;
        while (client_progress.load() < pieces) {
            if (std::chrono::steady_clock::now() > until) {
                ++gate_timeouts;
                break;
            }
            timer.expires_after(2ms);
            co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        }
        co_return true;
    }

    template <class Stream>
    net::awaitable<void> serve(Stream& stream) {
        beast::flat_buffer buffer;
        for (int nth = 0;; ++nth) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(16 * 1024 * 1024);
            beast::get_lowest_layer(stream).expires_after(hang_limit);
            auto [ec, n] = co_await http::async_read(stream, buffer, parser, net::as_tuple(net::use_awaitable));
            if (ec) co_return;
            ++requests;
            auto& req = parser.get();
            std::string target(req.target());
            std::string path = target.substr(0, target.find('?'));

            if (path == "/ok") {
                if (!co_await write_raw(stream, ok("hello"))) co_return;
            } else if (path == "/echo") {
                std::string body = std::string(req.method_string()) + " " + target + "\n" +
                                   std::string(req[http::field::host]) + "\n" + std::string(req["x-test"]) + "\n" +
                                   req.body();
                if (!co_await write_raw(stream, ok(body))) co_return;
            } else if (path == "/big") {
                auto at = target.find("n=");
                std::size_t size = at == std::string::npos ? 1000 : std::stoul(target.substr(at + 2));
                if (!co_await write_raw(stream, ok(std::string(size, 'x')))) co_return;
            } else if (path == "/slow") {
                net::steady_timer timer(io_, 100ms);
                co_await timer.async_wait(net::as_tuple(net::use_awaitable));
                if (!co_await write_raw(stream, ok("hello"))) co_return;
            } else if (path == "/chunked") {
                std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n";
                if (!co_await write_raw(stream, head + chunk("one"))) co_return;
                co_await wait_for_progress(1);
                if (!co_await write_raw(stream, chunk("two"))) co_return;
                co_await wait_for_progress(2);
                if (!co_await write_raw(stream, chunk("three") + "0\r\n\r\n")) co_return;
            } else if (path == "/until-close") {
                co_await write_raw(stream, std::string("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"));
                close(stream);
                co_return;
            } else if (path == "/hang") {
                co_await wait_for_client_close(stream);
                co_return;
            } else if (path == "/stream-hang") {
                std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
                if (!co_await write_raw(stream, head + chunk("first"))) co_return;
                co_await wait_for_client_close(stream);
                co_return;
            } else if (path == "/truncate") {
                co_await write_raw(stream, std::string("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"));
                close(stream);
                co_return;
            } else if (path == "/drop") {
                close(stream);
                co_return;
            } else if (path == "/drop-reused") {
                if (nth > 0) {
                    close(stream);
                    co_return;
                }
                if (!co_await write_raw(stream, ok("hello"))) co_return;
            } else if (path == "/ok-then-close") {
                co_await write_raw(stream, ok("hello"));
                close(stream);
                co_return;
            } else if (path == "/big-header") {
                if (!co_await write_raw(stream, ok("hello", "X-Big: " + std::string(100 * 1024, 'h') + "\r\n")))
                    co_return;
            } else {
                if (!co_await write_raw(stream, std::string("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")))
                    co_return;
            }
        }
    }

    bool tls_;
    std::string address_;
    net::io_context io_;
    net::ssl::context tls_context_{net::ssl::context::tls_server};
    tcp::acceptor acceptor_{io_};
    std::uint16_t port_ = 0;
    std::thread thread_;
};

/// A listening socket whose accept queue is full: a connect to it gets no answer (Linux drops
/// the SYN), which is how the tests reach the connect timeout without a non-routable address.
class full_backlog_listener {
public:
    full_backlog_listener() {
        acceptor_.open(tcp::v4());
        acceptor_.bind({net::ip::make_address("127.0.0.1"), 0});
        acceptor_.listen(0); // room for one connection, never accepted
        filler_.connect(acceptor_.local_endpoint());
    }
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

private:
    net::io_context io_;
    tcp::acceptor acceptor_{io_};
    tcp::socket filler_{io_};
};

} // namespace sluice::test

#endif

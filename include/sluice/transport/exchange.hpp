#ifndef SLUICE_TRANSPORT_EXCHANGE_HPP
#define SLUICE_TRANSPORT_EXCHANGE_HPP

// One request and its response, as a handler sees it. The handler answers with one complete
// response, or opens a chunked body (SSE and audio streams) and writes it piece by piece.

#include <sluice/core/error.hpp>
#include <sluice/transport/error_response.hpp>
#include <sluice/transport/http.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::transport {

/// What an exchange writes through: implemented by the connection, whatever its stream type.
/// Virtual on purpose: one indirect call per write is nothing next to a syscall, and it keeps
/// handlers free of the plain/TLS stream template.
class response_channel {
public:
    virtual ~response_channel() = default;
    virtual net::awaitable<error_code> write_response(http_response& res) = 0;
    virtual net::awaitable<error_code> write_chunked_header(http::response<http::empty_body>& res) = 0;
    virtual net::awaitable<error_code> write_chunk(std::string_view data) = 0;
    virtual net::awaitable<error_code> write_last_chunk() = 0;
    virtual std::chrono::milliseconds heartbeat_interval() const noexcept = 0;
    /// The server is draining: answers go out with Connection: close.
    virtual bool closing() const noexcept = 0;
};

class exchange {
public:
    exchange(http_request request, std::string request_id, tcp::endpoint remote, response_channel& channel,
             bool keep_alive_allowed)
        : request_(std::move(request)), request_id_(std::move(request_id)), remote_(std::move(remote)),
          channel_(&channel), keep_alive_(keep_alive_allowed && request_.keep_alive()),
          started_(std::chrono::steady_clock::now()) {}

    exchange(const exchange&) = delete;
    exchange& operator=(const exchange&) = delete;

    const http_request& request() const noexcept { return request_; }
    http_request& request() noexcept { return request_; }
    std::string_view path() const noexcept { return target_path(request_.target()); }
    std::string_view request_id() const noexcept { return request_id_; }
    const tcp::endpoint& remote() const noexcept { return remote_; }
    std::chrono::steady_clock::time_point started() const noexcept { return started_; }

    /// 0 until a status line has gone out.
    unsigned status() const noexcept { return status_; }
    bool responded() const noexcept { return status_ != 0; }
    bool keep_alive() const noexcept { return keep_alive_ && !failed_; }
    std::size_t bytes_sent() const noexcept { return bytes_sent_; }
    /// A write failed: the client is gone or too slow. Later writes are skipped.
    bool failed() const noexcept { return failed_; }
    /// Ask the connection to close after this response (e.g. the server is draining).
    void close_after_response() noexcept { keep_alive_ = false; }
    /// A header for whatever response goes out next (rate-limit headers, retry-after).
    void add_header(std::string name, std::string value) { extra_headers_.emplace_back(std::move(name), std::move(value)); }

    /// Sends one complete response; the exchange adds x-request-id, keep-alive and the length.
    net::awaitable<error_code> respond(http_response res) {
        decorate(res);
        res.prepare_payload();
        status_ = res.result_int();
        bytes_sent_ += res.body().size();
        auto ec = co_await channel_->write_response(res);
        co_return note(ec);
    }

    net::awaitable<error_code> respond_json(http::status status, std::string body) {
        http_response res{status, request_.version()};
        res.set(http::field::content_type, "application/json");
        res.body() = std::move(body);
        co_return co_await respond(std::move(res));
    }

    /// The error in the caller's API shape (OpenAI, or Anthropic for Anthropic clients).
    net::awaitable<error_code> respond_error(const core::error& e) {
        co_return co_await respond(error_response(e, request_.target(), &request_, request_.version()));
    }

    /// Opens a chunked response; the body follows with write_chunk and ends with end_chunked.
    net::awaitable<error_code> begin_chunked(http::response<http::empty_body> res) {
        decorate(res);
        res.chunked(true);
        status_ = res.result_int();
        auto ec = co_await channel_->write_chunked_header(res);
        co_return note(ec);
    }

    /// One chunk, written and flushed at once.
    net::awaitable<error_code> write_chunk(std::string_view data) {
        if (failed_) co_return make_error_code(net::error::broken_pipe);
        if (data.empty()) co_return error_code{}; // an empty chunk would end the body
        bytes_sent_ += data.size();
        auto ec = co_await channel_->write_chunk(data);
        co_return note(ec);
    }

    net::awaitable<error_code> end_chunked() {
        if (failed_) co_return make_error_code(net::error::broken_pipe);
        auto ec = co_await channel_->write_last_chunk();
        co_return note(ec);
    }

    std::chrono::milliseconds heartbeat_interval() const noexcept { return channel_->heartbeat_interval(); }

private:
    template <class Body>
    void decorate(http::response<Body>& res) {
        res.version(request_.version());
        res.set(http::field::server, "sluice");
        res.set("x-request-id", request_id_);
        for (const auto& [name, value] : extra_headers_) res.set(name, value);
        res.keep_alive(keep_alive_ && res.keep_alive() && !channel_->closing());
        keep_alive_ = res.keep_alive();
    }

    error_code note(error_code ec) noexcept {
        if (ec) failed_ = true;
        return ec;
    }

    http_request request_;
    std::string request_id_;
    tcp::endpoint remote_;
    response_channel* channel_;
    bool keep_alive_;
    bool failed_ = false;
    unsigned status_ = 0;
    std::size_t bytes_sent_ = 0;
    std::chrono::steady_clock::time_point started_;
    std::vector<std::pair<std::string, std::string>> extra_headers_;
};

/// A request handler: called once per request, on the connection's strand.
/// (g++ 12 destroys a braced temporary inside a co_await expression twice: name it first.)
using request_handler = std::function<net::awaitable<void>(exchange&)>;

} // namespace sluice::transport

#endif

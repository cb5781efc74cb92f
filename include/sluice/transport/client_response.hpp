#ifndef SLUICE_TRANSPORT_CLIENT_RESPONSE_HPP
#define SLUICE_TRANSPORT_CLIENT_RESPONSE_HPP

// An upstream response whose header has arrived and whose body is read as it comes (SSE streams).
//
//   auto [ec, resp] = co_await client.send(req);            // header received
//   for (;;) {
//       auto [ec, bytes] = co_await resp.read_some();       // next body bytes as they arrive
//       if (ec) break;                                      // failed: the connection is closed
//       if (bytes.empty()) break;                           // end of body: the connection is pooled
//       feed(bytes);                                        // valid until the next call
//   }
//
// The body may be content-length, chunked or until-close; `read_some` yields the body bytes only.
// The connection goes back to the pool when the body has been read to its end on a keep-alive
// connection; dropping the response earlier, an error, or a cancellation closes it instead.
// Reads are bounded by the exchange's total deadline. Not thread-safe: one reader at a time.

#include <sluice/transport/client_options.hpp>
#include <sluice/transport/connection_pool.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::transport {

namespace http = boost::beast::http;

/// One read of body bytes: an error, or bytes (empty at the end of the body).
struct body_chunk {
    boost::system::error_code ec;
    std::string_view bytes; // points into the response; valid until its next read
};

/// The whole body, or what had arrived before the error.
struct body_text {
    boost::system::error_code ec;
    std::string body;
};

class upstream_response {
public:
    using parser_type = http::response_parser<http::buffer_body>;

    /// Bytes asked of the connection per read: one SSE event is usually far smaller.
    static constexpr std::size_t body_chunk_bytes = 16 * 1024;
    static_assert(body_chunk_bytes >= 1024, "a read must hold at least a small SSE event");

    upstream_response() = default;
    upstream_response(connection_lease lease, std::unique_ptr<parser_type> parser,
                      std::chrono::steady_clock::time_point deadline)
        : lease_(std::move(lease)), parser_(std::move(parser)), deadline_(deadline) {
        if (parser_->is_done()) finish(); // no body (HEAD, 204, 304, Content-Length: 0)
    }

    upstream_response(upstream_response&&) noexcept = default;
    upstream_response& operator=(upstream_response&&) noexcept = default;

    /// False for the empty response that comes with a send error.
    explicit operator bool() const noexcept { return parser_ != nullptr; }

    unsigned status() const noexcept { return parser_ ? parser_->get().result_int() : 0; }
    std::string_view reason() const noexcept { return parser_ ? std::string_view(parser_->get().reason()) : std::string_view{}; }
    /// The first value of a header field, empty when absent. Names are case-insensitive.
    std::string_view header(std::string_view name) const {
        if (!parser_) return {};
        auto it = parser_->get().find(name);
        return it == parser_->get().end() ? std::string_view{} : std::string_view(it->value());
    }
    /// Every header field, for iteration (`for (auto& f : resp.headers()) f.name_string(), f.value()`).
    const http::fields& headers() const noexcept {
        static const http::fields none;
        return parser_ ? parser_->get().base() : none;
    }
    /// The body has been read to its end.
    bool done() const noexcept { return finished_; }

    /// The next body bytes as they arrive; empty bytes and no error at the end of the body.
    net::awaitable<body_chunk> read_some() {
        try {
            co_return co_await read_some_once();
        } catch (const boost::system::system_error& e) { // co_await after cancellation throws
            fail(e.code());
            co_return body_chunk{failed_, {}};
        }
    }

    /// The rest of the body, failing with body_too_large beyond `limit` bytes.
    net::awaitable<body_text> read_all(std::size_t limit) {
        body_text out;
        if (parser_ && !finished_ && !failed_) {
            if (auto length = parser_->content_length(); length && *length > limit) {
                fail(make_error_code(client_errc::body_too_large));
                out.ec = failed_;
                co_return out;
            }
        }
        for (;;) {
            auto [ec, bytes] = co_await read_some();
            if (ec) {
                out.ec = ec;
                co_return out;
            }
            if (bytes.empty()) co_return out;
            if (out.body.size() + bytes.size() > limit) {
                fail(make_error_code(client_errc::body_too_large));
                out.ec = failed_;
                co_return out;
            }
            out.body.append(bytes);
        }
    }

    /// Stops reading: the connection is closed, not pooled (unless the body was already read).
    void close() noexcept {
        if (!finished_ && !failed_) fail(net::error::operation_aborted);
    }

private:
    net::awaitable<body_chunk> read_some_once() {
        if (!parser_) co_return body_chunk{make_error_code(client_errc::no_response), {}};
        for (;;) {
            if (failed_) co_return body_chunk{failed_, {}};
            if (finished_ || parser_->is_done()) {
                finish();
                co_return body_chunk{};
            }
            if (!chunk_) chunk_.reset(new char[body_chunk_bytes]); // not make_unique: no 16 KiB memset per response
            auto& body = parser_->get().body();
            body.data = chunk_.get();
            body.size = body_chunk_bytes;
            lease_->deadline->expires_at(deadline_);
            auto [ec, n] = co_await lease_->with_stream([&](auto& stream) {
                return http::async_read_some(stream, lease_->buffer, *parser_, net::as_tuple(net::use_awaitable));
            });
            if (ec == http::error::need_buffer) ec = {};
            if (ec && lease_->deadline->expired()) ec = boost::beast::error::timeout;
            std::size_t got = body_chunk_bytes - body.size;
            if (ec) fail(ec); // bytes read before the error still go out; the error comes next
            else if (parser_->is_done()) finish();
            if (got > 0) co_return body_chunk{{}, std::string_view(chunk_.get(), got)};
        }
    }

    void finish() noexcept {
        finished_ = true;
        if (!lease_) return;
        ++lease_->exchanges;
        if (lease_->deadline) lease_->deadline->cancel(); // idle in the pool: no deadline, no timer
        // Bytes past the message would belong to no request of ours: do not reuse that socket.
        if (parser_->keep_alive() && lease_->buffer.size() == 0) lease_.recycle();
        else lease_.discard();
    }

    void fail(boost::system::error_code ec) noexcept {
        if (ec == boost::beast::error::timeout) ec = client_errc::total_timeout;
        else if (ec == http::error::partial_message || ec == net::ssl::error::stream_truncated ||
                 ec == net::error::eof)
            ec = client_errc::truncated_body;
        failed_ = ec;
        lease_.discard();
    }

    connection_lease lease_;
    std::unique_ptr<parser_type> parser_;
    std::chrono::steady_clock::time_point deadline_{};
    std::unique_ptr<char[]> chunk_;
    boost::system::error_code failed_;
    bool finished_ = false;
};

} // namespace sluice::transport

#endif

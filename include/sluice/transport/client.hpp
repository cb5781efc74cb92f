#ifndef SLUICE_TRANSPORT_CLIENT_HPP
#define SLUICE_TRANSPORT_CLIENT_HPP

// The upstream HTTP/1.1 client: the gateway reaches providers (OpenAI, Anthropic, vLLM…) with it.
//
//   sluice::transport::http_client client({.connect_timeout = 5s});
//   auto [ec, resp] = co_await client.send({http::verb::post, "https://api.openai.com/v1/chat/completions",
//                                          {{"authorization", "Bearer …"}, {"content-type", "application/json"}},
//                                          body});
//   if (ec) …                                   // client_errc codes for timeouts, TLS, truncation
//   resp.status(); resp.header("content-type");
//   co_await resp.read_some() / resp.read_all(limit)   (see client_response.hpp)
//
// - Errors come back as error_code, never as exceptions (see client_options.hpp for the codes).
// - Keep-alive connections are pooled per scheme+host+port (connection_pool.hpp). A pooled
//   connection the server has closed is noticed before use; if a reused connection still fails
//   on write or before any response byte (EOF, reset), the request is sent once more on a fresh
//   connection: the server has not seen it, so this is safe for POST too.
// - TLS (OpenSSL): SNI, certificate and host-name verification against the system store, or
//   `ca_file`, or not at all (`verify_peer = false`).
// - Time limits: connect, first byte, total (client_options), each its own error code.
// - Cancellation: when the awaiting coroutine is cancelled (asio per-operation cancellation, e.g.
//   `co_await (client.send(r) || timer.async_wait(use_awaitable))`), the operation in flight stops,
//   the connection is closed and not pooled, and the call returns operation_aborted.
// - Thread safety: one client (copies share it) serves coroutines on any number of io threads.
//   A connection's sockets live on the executor of the coroutine that opened it; destroy the
//   client and its responses before the io_contexts they ran on. As everywhere with Beast
//   timeouts, a calling coroutine on a multi-threaded io_context should run on a strand (Beast's
//   timer handler and the operation may otherwise race at a deadline); one io_context per
//   thread needs nothing.

#include <sluice/transport/client_options.hpp>
#include <sluice/transport/client_response.hpp>
#include <sluice/transport/connection_pool.hpp>
#include <sluice/version.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace sluice::transport {

struct upstream_request {
    http::verb method = http::verb::post;
    std::string url; // absolute http:// or https:// URL
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

/// The result of `send`: an error, or a response whose header has arrived.
struct send_result {
    boost::system::error_code ec;
    upstream_response response;
};

namespace detail {

struct upstream_target {
    bool tls = false;
    std::string host; // without IPv6 brackets
    std::uint16_t port = 0;
    std::string host_header; // host[:port] as in the URL
    std::string path;        // origin-form request target
    std::string origin_key() const { return (tls ? "https://" : "http://") + host_header + ':' + std::to_string(port); }
};

inline bool parse_upstream_url(std::string_view url, upstream_target& out) {
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed) return false;
    const auto& u = *parsed;
    if (u.scheme_id() == boost::urls::scheme::https) out.tls = true;
    else if (u.scheme_id() == boost::urls::scheme::http) out.tls = false;
    else return false;
    if (u.encoded_host().empty()) return false;
    out.host = u.host_address();
    out.port = u.has_port() ? u.port_number() : (out.tls ? 443 : 80);
    if (out.port == 0) return false;
    out.host_header = u.encoded_host_and_port();
    out.path = u.encoded_target();
    if (out.path.empty()) out.path = "/";
    return true;
}

inline bool is_certificate_error(const boost::system::error_code& ec) {
    return ec.category() == net::error::get_ssl_category() &&
           ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
}

// A failure that shows a reused connection was closed by the server before it saw the request.
inline bool is_stale_connection_error(const boost::system::error_code& ec) {
    return ec == net::error::eof || ec == http::error::end_of_stream || ec == net::error::connection_reset ||
           ec == net::error::connection_aborted || ec == net::error::broken_pipe ||
           ec == net::ssl::error::stream_truncated;
}

inline std::shared_ptr<net::ssl::context> make_tls_context(const client_options& options) {
    auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
    ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                     net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
    if (options.verify_peer) {
        ctx->set_verify_mode(net::ssl::verify_peer);
        if (options.ca_file.empty()) ctx->set_default_verify_paths();
        else ctx->load_verify_file(options.ca_file);
    } else {
        ctx->set_verify_mode(net::ssl::verify_none);
    }
    static constexpr unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(ctx->native_handle(), alpn, sizeof alpn);
    return ctx;
}

} // namespace detail

class http_client {
public:
    /// Throws boost::system::system_error when `ca_file` cannot be loaded (a configuration error).
    explicit http_client(client_options options = {})
        : core_(std::make_shared<core>(std::move(options))) {}

    /// Sends the request and waits for the response header. See the top of this file.
    net::awaitable<send_result> send(upstream_request request, request_timeouts timeouts = {}) {
        auto c = core_; // a copy: the client may go while a call runs
        try {
            co_return co_await c->send(std::move(request), timeouts);
        } catch (const boost::system::system_error& e) { // co_await after cancellation throws
            co_return send_result{e.code(), {}};
        }
    }

    pool_stats stats() const { return core_->pool->stats(); }
    /// Closes pooled connections past their idle expiry; see connection_pool::close_expired.
    std::size_t close_expired() { return core_->pool->close_expired(); }
    const client_options& options() const noexcept { return core_->options; }

private:
    using clock = std::chrono::steady_clock;

    struct deadlines {
        clock::time_point start, connect, total;
        std::chrono::milliseconds first_byte;
        // A Beast timeout means whichever deadline was the nearer one.
        boost::system::error_code timeout(clock::time_point phase, client_errc phase_errc) const {
            return make_error_code(phase < total ? phase_errc : client_errc::total_timeout);
        }
    };

    struct core {
        /// The connection buffer's room for a response header (and what follows it in the same
        /// read): Beast reads 512 bytes at a time into an empty buffer.
        static constexpr std::size_t upstream_read_bytes = 4096;
        static_assert(upstream_read_bytes >= 512);

        explicit core(client_options o)
            : options(std::move(o)), tls(detail::make_tls_context(options)),
              pool(std::make_shared<connection_pool>(options.max_connections_per_origin,
                                                     options.max_waiting_per_origin, options.idle_expiry)) {}

        client_options options;
        std::shared_ptr<net::ssl::context> tls;
        std::shared_ptr<connection_pool> pool;

        net::awaitable<send_result> send(upstream_request request, request_timeouts timeouts) {
            deadlines d;
            d.start = clock::now();
            d.total = d.start + timeouts.total.value_or(options.total_timeout);
            d.connect = std::min(d.total, d.start + timeouts.connect.value_or(options.connect_timeout));
            d.first_byte = timeouts.first_byte.value_or(options.first_byte_timeout);

            detail::upstream_target target;
            if (!parse_cached(request.url, target)) co_return send_result{make_error_code(client_errc::bad_url), {}};
            auto message = make_message(request, target);

            auto [ec, lease] = co_await pool->acquire(target.origin_key(), d.connect);
            if (ec) co_return send_result{ec, {}};
            for (bool retried = false;;) {
                if (!lease->is_open()) {
                    ec = co_await connect(*lease, target, d);
                    if (ec) co_return send_result{ec, {}};
                }
                bool reused = lease->exchanges > 0;
                auto parser = std::make_unique<upstream_response::parser_type>();
                parser->header_limit(static_cast<std::uint32_t>(
                    std::min<std::size_t>(options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
                parser->body_limit(boost::none); // the caller bounds the body (read_all)
                parser->skip(request.method == http::verb::head);
                ec = co_await exchange(*lease, message, *parser, d);
                if (!ec) co_return send_result{{}, upstream_response(std::move(lease), std::move(parser), d.total)};
                bool nothing_read = !parser->got_some() && lease->buffer.size() == 0;
                if (reused && !retried && nothing_read && detail::is_stale_connection_error(ec)) {
                    lease->close(); // same slot, fresh connection, a fresh connect budget
                    d.connect = std::min(d.total, clock::now() + timeouts.connect.value_or(options.connect_timeout));
                    retried = true;
                    continue;
                }
                co_return send_result{ec, {}}; // the lease closes the connection
            }
        }

        // A gateway sends every request of a provider to one URL: parsing it again each time
        // was more work than building the request line. Per thread, so no lock.
        static bool parse_cached(const std::string& url, detail::upstream_target& out) {
            thread_local std::string last_url;
            thread_local detail::upstream_target last;
            if (url.empty() || url != last_url) {
                if (!detail::parse_upstream_url(url, out)) return false;
                last_url = url;
                last = out;
                return true;
            }
            out = last;
            return true;
        }

        static http::request<http::string_body> make_message(upstream_request& request,
                                                             const detail::upstream_target& target) {
            http::request<http::string_body> m{request.method, target.path, 11};
            for (auto& [name, value] : request.headers) m.insert(name, value);
            if (m.find(http::field::host) == m.end()) m.set(http::field::host, target.host_header);
            if (m.find(http::field::user_agent) == m.end()) m.set(http::field::user_agent, "sluice/" SLUICE_VERSION_STRING);
            m.body() = std::move(request.body);
            m.prepare_payload();
            return m;
        }

        net::awaitable<boost::system::error_code> connect(upstream_connection& conn, const detail::upstream_target& target,
                                                         const deadlines& d) {
            auto executor = co_await net::this_coro::executor;
            auto [ec, endpoints] = co_await resolve(executor, target, d);
            if (ec) co_return ec;
            beast::tcp_stream tcp(executor);
            tcp.expires_at(d.connect);
            std::tie(ec, std::ignore) = co_await tcp.async_connect(endpoints, net::as_tuple(net::use_awaitable));
            if (ec == beast::error::timeout) co_return d.timeout(d.connect, client_errc::connect_timeout);
            if (ec) co_return ec;
            tcp.socket().set_option(net::ip::tcp::no_delay(true), ec);
            if (!target.tls) {
                tcp.expires_never(); // from here on conn.deadline keeps the time
                conn.plain.emplace(std::move(tcp));
                conn.deadline.emplace(executor, conn.tcp().socket());
                co_return boost::system::error_code{};
            }
            conn.tls_context = tls;
            conn.tls.emplace(std::move(tcp), *tls);
            boost::system::error_code not_ip;
            net::ip::make_address(target.host, not_ip);
            // SNI carries host names only (RFC 6066); an IP literal is checked against the IP SAN.
            if (not_ip && !SSL_set_tlsext_host_name(conn.tls->native_handle(), target.host.c_str())) {
                conn.close();
                co_return boost::system::error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category());
            }
            if (options.verify_peer) conn.tls->set_verify_callback(net::ssl::host_name_verification(target.host));
            conn.tcp().expires_at(d.connect);
            std::tie(ec) = co_await conn.tls->async_handshake(net::ssl::stream_base::client,
                                                              net::as_tuple(net::use_awaitable));
            if (!ec) {
                conn.tcp().expires_never(); // from here on conn.deadline keeps the time
                conn.deadline.emplace(executor, conn.tcp().socket());
                co_return ec;
            }
            conn.close();
            if (ec == beast::error::timeout) co_return d.timeout(d.connect, client_errc::connect_timeout);
            if (detail::is_certificate_error(ec)) co_return make_error_code(client_errc::certificate_rejected);
            co_return ec;
        }

        // The resolver takes no cancellation, so its answer and the deadline race into a channel.
        static net::awaitable<std::tuple<boost::system::error_code, std::vector<net::ip::tcp::endpoint>>>
        resolve(const net::any_io_executor& executor, const detail::upstream_target& target, const deadlines& d) {
            using endpoints = std::vector<net::ip::tcp::endpoint>;
            boost::system::error_code ec;
            auto address = net::ip::make_address(target.host, ec);
            if (!ec) co_return std::tuple{ec, endpoints{{address, target.port}}};

            using results = net::ip::tcp::resolver::results_type;
            using channel = net::experimental::concurrent_channel<void(boost::system::error_code, results)>;
            auto answer = std::make_shared<channel>(executor, 1);
            auto resolver = std::make_shared<net::ip::tcp::resolver>(executor);
            resolver->async_resolve(target.host, std::to_string(target.port),
                                    [answer, resolver](boost::system::error_code ec, results r) {
                                        answer->try_send(ec, std::move(r));
                                    });
            net::steady_timer timer(executor, d.connect);
            auto timeout = d.timeout(d.connect, client_errc::connect_timeout);
            timer.async_wait([answer, timeout](boost::system::error_code ec) {
                if (!ec) answer->try_send(timeout, results{});
            });
            auto [rec, found] = co_await answer->async_receive(net::as_tuple(net::use_awaitable));
            timer.cancel();
            endpoints out;
            if (!rec)
                for (const auto& entry : found) out.push_back(entry.endpoint());
            if (rec.category() == net::experimental::error::get_channel_category())
                rec = net::error::operation_aborted; // the receive was cancelled
            co_return std::tuple{rec, std::move(out)};
        }

        // Writes the request and reads the response header.
        net::awaitable<boost::system::error_code> exchange(upstream_connection& conn,
                                                          const http::request<http::string_body>& message,
                                                          upstream_response::parser_type& parser, const deadlines& d) {
            auto phase = std::min(d.total, clock::now() + d.first_byte);
            conn.deadline->expires_at(phase);
            auto [ec, n] = co_await conn.with_stream([&](auto& stream) {
                return http::async_write(stream, message, net::as_tuple(net::use_awaitable));
            });
            if (ec && conn.deadline->expired()) co_return d.timeout(phase, client_errc::first_byte_timeout);
            if (ec) co_return ec;
            phase = std::min(d.total, clock::now() + d.first_byte);
            conn.deadline->expires_at(phase);
            // Room for a whole small answer: the header and body then come in one read, not 512 bytes at a time.
            conn.buffer.reserve(upstream_read_bytes);
            std::tie(ec, n) = co_await conn.with_stream([&](auto& stream) {
                return http::async_read_header(stream, conn.buffer, parser, net::as_tuple(net::use_awaitable));
            });
            conn.deadline->expires_never(); // the body's reads set the total deadline
            if (ec && conn.deadline->expired()) co_return d.timeout(phase, client_errc::first_byte_timeout);
            if (ec == http::error::header_limit) co_return make_error_code(client_errc::header_too_large);
            co_return ec;
        }
    };

    std::shared_ptr<core> core_;
};

} // namespace sluice::transport

#endif

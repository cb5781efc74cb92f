#ifndef SLUICE_TRANSPORT_SERVER_HPP
#define SLUICE_TRANSPORT_SERVER_HPP

// The inbound HTTP/1.1 server: one acceptor, N io threads over one io_context, one strand and one
// coroutine per connection. drain() stops accepting and lets requests in flight finish; at the
// deadline what is left is cancelled, and that cancellation reaches the handlers' upstream calls.

#include <sluice/core/log.hpp>
#include <sluice/transport/session.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

namespace sluice::transport {

class server {
public:
    server(server_options options, request_handler handler)
        : options_(std::move(options)), handler_(std::move(handler)), ioc_(int(std::max(1u, options_.threads))),
          control_(net::make_strand(ioc_)), acceptor_(ioc_), deadline_(control_) {
        if (options_.tls) tls_.emplace(make_tls_context(*options_.tls));
    }

    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds and listens; throws std::runtime_error that names the address when it cannot.
    void listen() {
        tcp::resolver resolver(ioc_);
        error_code ec;
        auto results = resolver.resolve(options_.host, std::to_string(options_.port),
                                        tcp::resolver::passive | tcp::resolver::numeric_service, ec);
        if (ec || results.empty()) throw std::runtime_error("cannot resolve listen host " + options_.host + ": " + ec.message());
        auto ep = results.begin()->endpoint();
        acceptor_.open(ep.protocol(), ec);
        if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
        if (!ec) acceptor_.bind(ep, ec);
        if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
        if (ec) throw std::runtime_error("cannot listen on " + options_.host + ":" + std::to_string(options_.port) + ": " + ec.message());
        local_ = acceptor_.local_endpoint();
        net::co_spawn(control_, accept_loop(), net::detached); // the acceptor lives on the control strand
        log::info("listening", {{"address", local_.address().to_string()}, {"port", local_.port()},
                                {"threads", options_.threads}, {"tls", bool(tls_)}});
    }

    /// Runs the io threads (this one included) until the server has drained or stop() was called.
    void run() {
        std::vector<std::thread> extra;
        for (unsigned i = 1; i < options_.threads; ++i) extra.emplace_back([this] { ioc_.run(); });
        ioc_.run();
        for (auto& t : extra) t.join();
    }

    /// Stop accepting, close idle connections, let requests in flight finish by the drain deadline.
    /// Thread-safe; a second call does nothing.
    void drain() {
        net::post(control_, [this] { begin_drain(); });
    }

    /// Ends everything now.
    void stop() { ioc_.stop(); }

    /// Called once, on an io thread, when a drain has closed the last connection.
    void on_drained(std::function<void()> f) { on_drained_ = std::move(f); }

    std::uint16_t port() const noexcept { return local_.port(); }
    const tcp::endpoint& local_endpoint() const noexcept { return local_; }
    net::io_context& context() noexcept { return ioc_; }
    const server_options& options() const noexcept { return options_; }
    std::size_t in_flight() const noexcept { return in_flight_.load(); }
    std::size_t connections() const {
        std::lock_guard lock(mutex_);
        return sessions_.size();
    }
    bool draining() const noexcept { return draining_.load(); }

private:
    static net::ssl::context make_tls_context(const tls_files& files) {
        net::ssl::context ctx(net::ssl::context::tls_server);
        ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                        net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1 |
                        net::ssl::context::single_dh_use);
        error_code ec;
        ctx.use_certificate_chain_file(files.cert_file, ec);
        if (ec) throw std::runtime_error("cannot load TLS certificate " + files.cert_file + ": " + ec.message());
        ctx.use_private_key_file(files.key_file, net::ssl::context::pem, ec);
        if (ec) throw std::runtime_error("cannot load TLS key " + files.key_file + ": " + ec.message());
        return ctx;
    }

    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(connection_executor(), net::as_tuple(net::use_awaitable));
            if (ec) {
                if (!acceptor_.is_open() || ec == net::error::operation_aborted) co_return;
                log::warn("accept_failed", {{"error", ec.message()}});
                // Out of descriptors: back off instead of spinning.
                net::steady_timer pause(ioc_, std::chrono::milliseconds(50));
                co_await pause.async_wait(net::as_tuple(net::use_awaitable));
                continue;
            }
            error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            auto remote = socket.remote_endpoint(ignored);
            if (tls_)
                start(std::make_shared<session<tls_stream>>(tls_stream(std::move(socket), *tls_), remote, session_ctx()));
            else
                start(std::make_shared<session<plain_stream>>(plain_stream(std::move(socket)), remote, session_ctx()));
        }
    }

    session_context session_ctx() noexcept { return {options_, handler_, in_flight_}; }

    /// A strand per connection where io threads could run its handlers at once. With one io
    /// thread nothing can, and the strand's dispatch on every completion is pure cost.
    net::any_io_executor connection_executor() {
        if (options_.threads > 1) return net::make_strand(ioc_);
        return ioc_.get_executor();
    }

    template <class Session>
    void start(std::shared_ptr<Session> s) {
        {
            std::lock_guard lock(mutex_);
            sessions_.emplace(s.get(), s);
        }
        if (draining_) net::post(s->executor(), [s] { s->drain(); });
        auto slot = s->cancellation_slot();
        net::co_spawn(s->executor(), s->run(), net::bind_cancellation_slot(slot, [this, s](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    log::error("connection_failed", {{"error", x.what()}});
                }
            }
            finished(s.get());
        }));
    }

    void finished(session_base* s) {
        bool last;
        {
            std::lock_guard lock(mutex_);
            sessions_.erase(s);
            last = sessions_.empty();
        }
        if (last && draining_) net::post(control_, [this] { drained(); });
    }

    template <class F>
    void for_each_session(F f) {
        std::vector<std::shared_ptr<session_base>> live;
        {
            std::lock_guard lock(mutex_);
            for (auto& [p, w] : sessions_)
                if (auto s = w.lock()) live.push_back(std::move(s));
        }
        for (auto& s : live) net::post(s->executor(), [s, f] { f(*s); });
    }

    void begin_drain() {
        if (draining_.exchange(true)) return;
        error_code ignored;
        acceptor_.close(ignored);
        log::info("draining", {{"connections", connections()}, {"in_flight", in_flight()},
                               {"deadline_ms", std::int64_t(options_.drain_timeout.count())}});
        for_each_session([](session_base& s) { s.drain(); });
        if (connections() == 0) return drained();
        deadline_.expires_after(options_.drain_timeout);
        deadline_.async_wait([this](error_code ec) {
            if (ec) return; // every connection finished in time
            log::warn("drain_deadline", {{"connections", connections()}, {"in_flight", in_flight()}});
            for_each_session([](session_base& s) { s.abort(); });
        });
    }

    /// Runs on the control strand once no connection is left.
    void drained() {
        deadline_.cancel();
        if (drained_reported_) return;
        drained_reported_ = true;
        log::info("drained");
        if (on_drained_) on_drained_();
    }

    server_options options_;
    request_handler handler_;
    std::function<void()> on_drained_;
    bool drained_reported_ = false; // touched only on control_
    net::io_context ioc_;
    net::strand<net::io_context::executor_type> control_; // drain state and its deadline
    tcp::acceptor acceptor_;
    net::steady_timer deadline_;
    std::optional<net::ssl::context> tls_;
    tcp::endpoint local_;
    std::atomic<std::size_t> in_flight_{0};
    std::atomic<bool> draining_{false};
    mutable std::mutex mutex_;
    std::unordered_map<session_base*, std::weak_ptr<session_base>> sessions_;
};

} // namespace sluice::transport

#endif

#ifndef SLUICE_REDIS_CLIENT_HPP
#define SLUICE_REDIS_CLIENT_HPP

// A Redis client on Asio: one pipelined connection shared by every coroutine and thread.
//
// Redis answers a connection's commands in the order they were sent, so commands from many
// coroutines go out back to back on one socket (written in batches) and replies are matched to
// them first-in first-out: a burst costs one round trip, not one each. All connection state
// lives on a strand; callers on any executor hand their command over and wait on a channel,
// bounded by `command_timeout`.
//
// Failure is fast and lazy. A lost connection fails the commands on it; the next command
// connects again. A refused or timed-out connect fails every command waiting for it, and for
// `reconnect_backoff` afterwards commands fail at once instead of each paying a connect timeout.
// A command that times out closes its connection: a server that stopped answering is not
// trusted with the next one.
//
// Errors: a transport failure is a core::error (kind overloaded, code `options.unavailable_code`);
// a Redis error reply ("ERR ...") is a reply of type error.
//
// Lifetime: destroy the client before the io_context its executor belongs to.

#include <sluice/core/error.hpp>
#include <sluice/core/log.hpp>
#include <sluice/core/result.hpp>
#include <sluice/redis/reply.hpp>
#include <sluice/redis/url.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace sluice::redis {

namespace net = boost::asio;

struct client_options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::uint32_t db = 0;
    std::string user;
    std::string password;
    std::chrono::milliseconds connect_timeout{250};  // resolve + connect + AUTH/SELECT
    std::chrono::milliseconds command_timeout{500};  // from the call to its reply
    std::chrono::milliseconds reconnect_backoff{50}; // after a failed connect, fail at once this long
    std::string unavailable_code = "limit_store_unavailable";

    static client_options from(const url& u) {
        client_options o;
        o.host = u.host;
        o.port = u.port;
        o.db = u.db;
        o.user = u.user;
        o.password = u.password;
        return o;
    }
};

/// A Lua script and its SHA-1, for EVALSHA.
struct script {
    std::string source;
    std::string sha1;

    explicit script(std::string src) : source(std::move(src)), sha1(sha1_hex(source)) {}

    static std::string sha1_hex(std::string_view text) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_Digest(text.data(), text.size(), md, &n, EVP_sha1(), nullptr);
        static constexpr char digits[] = "0123456789abcdef";
        std::string hex;
        hex.reserve(2 * n);
        for (unsigned int i = 0; i < n; ++i) {
            hex += digits[md[i] >> 4];
            hex += digits[md[i] & 15];
        }
        return hex;
    }
};

class client {
    // Commands handed over but not yet answered; beyond this a command fails at once.
    static constexpr std::size_t max_pending = 65536;
    static constexpr std::size_t read_chunk = 16 * 1024;
    static constexpr std::size_t max_batch_bytes = 256 * 1024;
    static_assert(max_pending > 0 && read_chunk > 0 && max_batch_bytes >= read_chunk);

    using wake_channel = net::experimental::concurrent_channel<void(boost::system::error_code)>;

    // One command in flight. `done` decides who completes it (the reply, a failure or the
    // timeout); the channel publishes `outcome` to the waiting caller.
    struct pending {
        pending(net::any_io_executor ex, std::string b) : bytes(std::move(b)), wake(std::move(ex), 1) {}
        std::string bytes;
        std::atomic<bool> done{false};
        std::optional<core::result<reply>> outcome;
        wake_channel wake;
        std::uint64_t sent_on = 0; // the connection generation it was written to; strand only
    };

    struct connection {
        explicit connection(net::strand<net::any_io_executor> ex, std::uint64_t g)
            : socket(ex), resolver(ex), timer(ex), generation(g) {}
        net::ip::tcp::socket socket;
        net::ip::tcp::resolver resolver;
        net::steady_timer timer; // the connect deadline
        std::uint64_t generation;
        bool timed_out = false;
        reply_parser parser;
    };

    // Everything below is touched on the strand only.
    struct state : std::enable_shared_from_this<state> {
        state(net::any_io_executor ex, client_options o) : strand(net::make_strand(ex)), opts(std::move(o)) {}

        net::strand<net::any_io_executor> strand;
        client_options opts;
        std::shared_ptr<connection> conn; // null when not connected nor connecting
        bool open = false;                // conn is connected and past its handshake
        bool writing = false;
        bool closed = false;
        std::uint64_t generation = 0;
        std::deque<std::shared_ptr<pending>> queued;   // not yet written
        std::deque<std::shared_ptr<pending>> inflight; // written, replies due in this order
        std::chrono::steady_clock::time_point retry_at{};
        std::optional<core::error> last_connect_error;

        std::string where() const { return "redis " + opts.host + ":" + std::to_string(opts.port); }

        core::error unavailable(std::string_view what) const {
            return core::error{core::error_kind::overloaded, where() + ": " + std::string(what), "",
                               opts.unavailable_code};
        }

        static bool complete(const std::shared_ptr<pending>& p, core::result<reply> r) {
            if (p->done.exchange(true)) return false;
            p->outcome.emplace(std::move(r));
            p->wake.try_send(boost::system::error_code{});
            return true;
        }

        void submit(std::shared_ptr<pending> p) {
            if (closed) {
                complete(p, unavailable("client closed"));
                return;
            }
            if (queued.size() + inflight.size() >= max_pending) {
                complete(p, unavailable("too many commands waiting"));
                return;
            }
            if (!conn) {
                if (last_connect_error && std::chrono::steady_clock::now() < retry_at) {
                    complete(p, *last_connect_error);
                    return;
                }
                conn = std::make_shared<connection>(strand, ++generation);
                net::co_spawn(strand, run(shared_from_this(), conn), net::detached);
            }
            queued.push_back(std::move(p));
            if (open && !writing) start_writing();
        }

        void start_writing() {
            writing = true;
            net::co_spawn(strand, write_loop(shared_from_this(), conn), net::detached);
        }

        // Fails everything waiting on connection `gen` and forgets it; the next command reconnects.
        void fail(std::uint64_t gen, const core::error& e, bool connect_failed) {
            if (!conn || conn->generation != gen) return;
            boost::system::error_code ignored;
            conn->socket.close(ignored);
            conn->timer.cancel();
            conn->resolver.cancel();
            conn.reset();
            open = false;
            writing = false;
            auto waiting = std::move(inflight);
            waiting.insert(waiting.end(), std::make_move_iterator(queued.begin()),
                           std::make_move_iterator(queued.end()));
            inflight.clear();
            queued.clear();
            if (connect_failed) {
                last_connect_error = e;
                retry_at = std::chrono::steady_clock::now() + opts.reconnect_backoff;
            }
            for (auto& p : waiting) complete(p, e);
        }

        void shutdown() {
            closed = true;
            if (conn) fail(conn->generation, unavailable("client closed"), false);
        }

        // Connects, says AUTH/SELECT, then reads replies until the connection fails.
        static net::awaitable<void> run(std::shared_ptr<state> self, std::shared_ptr<connection> c) {
            using net::as_tuple, net::use_awaitable;
            const auto gen = c->generation;
            c->timer.expires_after(self->opts.connect_timeout);
            c->timer.async_wait([c](boost::system::error_code ec) {
                if (ec) return;
                c->timed_out = true;
                boost::system::error_code ignored;
                c->socket.close(ignored);
                c->resolver.cancel();
            });

            auto connect_failure = [&](std::string_view what, const boost::system::error_code& ec) {
                auto why = c->timed_out ? std::string("connect timed out after ") +
                                              std::to_string(self->opts.connect_timeout.count()) + "ms"
                                        : std::string(what) + ": " + ec.message();
                self->fail(gen, self->unavailable(why), true);
            };

            boost::system::error_code ec;
            auto address = net::ip::make_address(self->opts.host, ec);
            if (!ec) {
                net::ip::tcp::endpoint endpoint(address, self->opts.port);
                std::tie(ec) = co_await c->socket.async_connect(endpoint, as_tuple(use_awaitable));
            } else {
                auto [rec, endpoints] = co_await c->resolver.async_resolve(
                    self->opts.host, std::to_string(self->opts.port), as_tuple(use_awaitable));
                ec = rec;
                if (!ec && !c->timed_out) std::tie(ec, std::ignore) = co_await net::async_connect(
                                              c->socket, endpoints, as_tuple(use_awaitable));
            }
            if (ec || c->timed_out) co_return connect_failure("connect", ec);
            c->socket.set_option(net::ip::tcp::no_delay(true), ec);

            std::string buffer(read_chunk, '\0');
            std::vector<std::vector<std::string>> hello;
            if (!self->opts.password.empty()) {
                if (self->opts.user.empty()) hello.push_back({"AUTH", self->opts.password});
                else hello.push_back({"AUTH", self->opts.user, self->opts.password});
            }
            if (self->opts.db != 0) hello.push_back({"SELECT", std::to_string(self->opts.db)});
            if (!hello.empty()) {
                std::string bytes;
                for (const auto& h : hello) bytes += format_command(h);
                std::tie(ec, std::ignore) =
                    co_await net::async_write(c->socket, net::buffer(bytes), as_tuple(use_awaitable));
                if (ec || c->timed_out) co_return connect_failure("handshake write", ec);
                std::size_t answered = 0;
                while (answered < hello.size()) {
                    auto [rec, n] = co_await c->socket.async_read_some(net::buffer(buffer), as_tuple(use_awaitable));
                    if (rec || c->timed_out) co_return connect_failure("handshake read", rec);
                    c->parser.feed(std::string_view(buffer.data(), n));
                    while (auto r = c->parser.next()) {
                        if (!*r) co_return self->fail(gen, self->unavailable(r->error().message), true);
                        if ((*r)->is_error())
                            co_return self->fail(gen, self->unavailable("handshake refused: " + (*r)->text), true);
                        ++answered;
                    }
                }
            }
            c->timer.cancel();
            if (self->conn != c) co_return; // failed or shut down meanwhile
            self->open = true;
            self->last_connect_error.reset();
            if (!self->queued.empty() && !self->writing) self->start_writing();

            for (;;) {
                auto [rec, n] = co_await c->socket.async_read_some(net::buffer(buffer), as_tuple(use_awaitable));
                if (rec) {
                    auto why = rec == net::error::eof ? std::string("connection closed by the server")
                                                      : "read: " + rec.message();
                    co_return self->fail(gen, self->unavailable(why), false);
                }
                if (!c->parser.feed(std::string_view(buffer.data(), n)))
                    co_return self->fail(gen, self->unavailable("reply parser out of memory"), false);
                while (auto r = c->parser.next()) {
                    if (!*r) co_return self->fail(gen, self->unavailable(r->error().message), false);
                    if (self->conn != c) co_return;
                    if (self->inflight.empty())
                        co_return self->fail(gen, self->unavailable("a reply nobody asked for"), false);
                    auto p = std::move(self->inflight.front());
                    self->inflight.pop_front();
                    complete(p, std::move(*r));
                }
            }
        }

        // Writes what is queued in batches until the queue is empty; the reader matches replies.
        static net::awaitable<void> write_loop(std::shared_ptr<state> self, std::shared_ptr<connection> c) {
            std::string batch;
            while (self->conn == c && !self->queued.empty()) {
                batch.clear();
                while (!self->queued.empty() && batch.size() < max_batch_bytes) {
                    auto p = std::move(self->queued.front());
                    self->queued.pop_front();
                    if (p->done.load()) continue; // timed out or abandoned before it was sent
                    batch += p->bytes;
                    p->sent_on = c->generation;
                    self->inflight.push_back(std::move(p));
                }
                if (batch.empty()) continue;
                auto [ec, n] =
                    co_await net::async_write(c->socket, net::buffer(batch), net::as_tuple(net::use_awaitable));
                if (ec) co_return self->fail(c->generation, self->unavailable("write: " + ec.message()), false);
            }
            if (self->conn == c) self->writing = false;
        }
    };

public:
    client(net::any_io_executor ex, client_options opts)
        : s_(std::make_shared<state>(std::move(ex), std::move(opts))) {}

    client(const client&) = delete;
    client& operator=(const client&) = delete;

    ~client() {
        net::post(s_->strand, [s = s_] { s->shutdown(); });
    }

    const client_options& options() const noexcept { return s_->opts; }

    /// Sends one command ("SET", "k", "v") and returns its reply. Safe from any thread and any
    /// number of coroutines at once. Never waits longer than the command timeout.
    net::awaitable<core::result<reply>> command(std::vector<std::string> args) {
        auto ex = co_await net::this_coro::executor;
        auto bytes = format_command(args);
        if (args.empty() || bytes.empty()) co_return s_->unavailable("cannot frame an empty command");
        auto p = std::make_shared<pending>(ex, std::move(bytes));
        net::post(s_->strand, [s = s_, p] { s->submit(p); });

        net::steady_timer timer(ex, s_->opts.command_timeout);
        timer.async_wait([s = s_, p](boost::system::error_code ec) {
            if (ec) return;
            auto timeout = s->unavailable("no reply within " + std::to_string(s->opts.command_timeout.count()) + "ms");
            if (!state::complete(p, timeout)) return;
            net::post(s->strand, [s, p, timeout] {
                if (s->conn && p->sent_on == s->conn->generation) s->fail(p->sent_on, timeout, false);
            });
        });
        auto [ec] = co_await p->wake.async_receive(net::as_tuple(net::use_awaitable));
        timer.cancel();
        if (ec || !p->outcome) {
            p->done.store(true); // cancelled: whoever answers later finds nobody waiting
            co_return s_->unavailable("command abandoned: " + ec.message());
        }
        co_return std::move(*p->outcome);
    }

    /// EVALSHA, falling back to EVAL (which also caches the script) when the server has not
    /// seen it yet: after a restart or a SCRIPT FLUSH.
    net::awaitable<core::result<reply>> evalsha(const script& s, std::vector<std::string> keys,
                                                std::vector<std::string> args) {
        std::vector<std::string> cmd;
        cmd.reserve(3 + keys.size() + args.size());
        cmd.push_back("EVALSHA");
        cmd.push_back(s.sha1);
        cmd.push_back(std::to_string(keys.size()));
        cmd.insert(cmd.end(), keys.begin(), keys.end());
        cmd.insert(cmd.end(), args.begin(), args.end());
        auto r = co_await command(cmd);
        if (!r || !r->is_error() || r->text.rfind("NOSCRIPT", 0) != 0) co_return std::move(r);
        cmd[0] = "EVAL";
        cmd[1] = s.source;
        auto again = co_await command(std::move(cmd));
        co_return again;
    }

    /// SCRIPT LOAD; the sha Redis answers must be the one EVALSHA will use.
    net::awaitable<core::result<void>> load(const script& s) {
        std::vector<std::string> cmd{"SCRIPT", "LOAD", s.source};
        auto r = co_await command(std::move(cmd));
        if (!r) co_return r.error();
        if (r->is_error() || r->text != s.sha1) co_return s_->unavailable("SCRIPT LOAD answered '" + r->text + "'");
        co_return core::result<void>();
    }

private:
    std::shared_ptr<state> s_;
};

} // namespace sluice::redis

#endif

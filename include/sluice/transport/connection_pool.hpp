#ifndef SLUICE_TRANSPORT_CONNECTION_POOL_HPP
#define SLUICE_TRANSPORT_CONNECTION_POOL_HPP

// Keep-alive connections to upstream origins (scheme+host+port), shared by every io thread.
//
// The pool counts slots, not sockets: a slot is one connection of an origin that is open, idle,
// or about to be opened, and an origin never has more than `max_per_origin` of them. `acquire`
// hands out a `connection_lease` for a slot, with an idle connection in it when one is pooled and
// still alive, or an empty one for the caller to connect. A call beyond the limit waits, bounded by
// its deadline, until a lease is given back. A lease closes its connection and frees the slot when
// it is dropped; only `recycle()` (a response read to its end on a keep-alive connection) returns
// the connection for reuse.
//
// Thread safety: one mutex guards the bookkeeping; it is never held across a co_await, and
// sockets are closed outside it. A connection itself is used by one lease holder at a time; its
// I/O objects live on the executor of the coroutine that opened it, so the pool must be destroyed
// before the io_contexts its callers ran on.

#include <sluice/transport/client_options.hpp>
#include <sluice/transport/deadline.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/channel_error.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice::transport {

namespace net = boost::asio;
namespace beast = boost::beast;

/// One upstream connection: plain or TLS, or not open yet (an empty slot).
struct upstream_connection {
    explicit upstream_connection(std::string key) : origin_key(std::move(key)) {}

    std::string origin_key;
    std::shared_ptr<net::ssl::context> tls_context; // outlives `tls`, declared before it
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    std::optional<socket_deadline> deadline;    // once open: every exchange's time limits, see deadline.hpp
    beast::flat_buffer buffer;                  // bytes read past the parser, kept across reads
    std::chrono::steady_clock::time_point idle_since{};
    std::uint64_t exchanges = 0;                // responses read to the end on this socket

    bool is_open() const noexcept { return plain.has_value() || tls.has_value(); }

    beast::tcp_stream& tcp() noexcept { return tls ? beast::get_lowest_layer(*tls) : *plain; }

    /// Calls f(stream) with the plain or the TLS stream; both calls must return the same type.
    template <class F>
    decltype(auto) with_stream(F&& f) {
        return tls ? f(*tls) : f(*plain);
    }

    /// Closes the socket at once (no TLS close_notify: a client may just go) and empties the slot.
    void close() noexcept {
        deadline.reset();
        if (is_open()) {
            boost::system::error_code ec;
            tcp().socket().close(ec);
        }
        tls.reset();
        plain.reset();
        tls_context.reset();
        buffer.clear();
        exchanges = 0;
    }

    /// A pooled socket the server has closed (or written to unasked) is not worth a request.
    /// One recv with MSG_DONTWAIT: toggling the socket's blocking mode around it cost two more
    /// syscalls on every request.
    bool looks_alive() noexcept {
        if (!is_open()) return false;
        char byte;
        ssize_t n;
        do n = ::recv(tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
        if (n == 0) return false;
        // Unread bytes: on TLS they may be a late session ticket, on plain HTTP they are garbage.
        return tls.has_value();
    }
};

struct pool_stats {
    std::size_t open = 0;    // slots taken: connections in use, idle, or being opened
    std::size_t idle = 0;    // pooled connections waiting for reuse
    std::size_t waiting = 0; // calls waiting for a slot
};

class connection_pool;

/// The right to one connection slot of an origin. Move-only; dropping it closes the connection.
class connection_lease {
public:
    connection_lease() = default;
    connection_lease(std::shared_ptr<connection_pool> pool, std::unique_ptr<upstream_connection> conn) noexcept
        : pool_(std::move(pool)), conn_(std::move(conn)) {}
    connection_lease(connection_lease&&) noexcept = default;
    connection_lease& operator=(connection_lease&& other) noexcept {
        if (this != &other) {
            discard();
            pool_ = std::move(other.pool_);
            conn_ = std::move(other.conn_);
        }
        return *this;
    }
    ~connection_lease() { discard(); }

    explicit operator bool() const noexcept { return conn_ != nullptr; }
    upstream_connection* operator->() const noexcept { return conn_.get(); }
    upstream_connection& operator*() const noexcept { return *conn_; }

    /// Gives the open connection back for reuse: call only after a complete keep-alive exchange.
    inline void recycle() noexcept;
    /// Closes the connection and frees the slot.
    inline void discard() noexcept;

private:
    std::shared_ptr<connection_pool> pool_;
    std::unique_ptr<upstream_connection> conn_;
};

class connection_pool : public std::enable_shared_from_this<connection_pool> {
public:
    connection_pool(std::size_t max_per_origin, std::size_t max_waiting, std::chrono::milliseconds idle_expiry)
        : max_per_origin_(std::max<std::size_t>(max_per_origin, 1)), max_waiting_(max_waiting),
          idle_expiry_(idle_expiry) {}

    connection_pool(const connection_pool&) = delete;
    connection_pool& operator=(const connection_pool&) = delete;

    /// A lease on a slot of `origin_key`: with a live pooled connection, or empty (not open) for
    /// the caller to connect. Errors: pool_timeout at `deadline`, pool_full, operation_aborted
    /// when the awaiting coroutine is cancelled.
    net::awaitable<std::tuple<boost::system::error_code, connection_lease>>
    acquire(std::string origin_key, std::chrono::steady_clock::time_point deadline) {
        auto self = shared_from_this();
        auto executor = co_await net::this_coro::executor;
        std::vector<std::unique_ptr<upstream_connection>> expired;
        std::vector<std::shared_ptr<slot_waiter>> granted;
        std::unique_ptr<upstream_connection> got;
        std::shared_ptr<slot_waiter> waiter;
        bool full = false;
        {
            std::lock_guard lock(mutex_);
            auto& o = origins_[origin_key];
            take_expired(o, expired);
            grant_free_slots(o, origin_key, granted);
            if (!o.idle.empty()) {
                got = std::move(o.idle.back()); // the most recently used: the likeliest alive
                o.idle.pop_back();
            } else if (o.open < max_per_origin_) {
                ++o.open;
                got = std::make_unique<upstream_connection>(origin_key);
            } else if (o.waiters.size() < max_waiting_) {
                waiter = std::make_shared<slot_waiter>(executor);
                o.waiters.push_back(waiter);
            } else {
                full = true;
            }
        }
        expired.clear(); // closes them outside the lock
        wake(granted);
        if (full) co_return std::tuple{make_error_code(client_errc::pool_full), connection_lease{}};
        if (got) co_return std::tuple{boost::system::error_code{}, lease_checked(std::move(got))};

        // The timer and the releaser each put one message into the waiter's channel; the mutex,
        // not the message, decides whether the waiter got a slot.
        net::steady_timer timer(executor, deadline);
        timer.async_wait([wake = waiter->wake](boost::system::error_code ec) {
            if (!ec) wake->try_send(make_error_code(client_errc::pool_timeout));
        });
        boost::system::error_code ec;
        try {
            std::tie(ec) = co_await waiter->wake->async_receive(net::as_tuple(net::use_awaitable));
        } catch (const boost::system::system_error& e) { // already cancelled before the wait
            ec = e.code();
        }
        timer.cancel();
        {
            std::lock_guard lock(mutex_);
            if (waiter->granted) {
                got = std::move(waiter->handed);
            } else {
                auto& w = origins_[origin_key].waiters;
                w.erase(std::remove(w.begin(), w.end(), waiter), w.end());
            }
        }
        if (!got) {
            if (ec != client_errc::pool_timeout) ec = net::error::operation_aborted;
            co_return std::tuple{ec, connection_lease{}};
        }
        if (ec && ec != client_errc::pool_timeout) { // cancelled, but a slot came at the same time
            connection_lease(self, std::move(got)).discard();
            co_return std::tuple{boost::system::error_code(net::error::operation_aborted), connection_lease{}};
        }
        co_return std::tuple{boost::system::error_code{}, lease_checked(std::move(got))};
    }

    /// Takes a connection back: pooled (or handed to a waiter) when `reusable`, else closed.
    void give_back(std::unique_ptr<upstream_connection> conn, bool reusable) noexcept {
        if (!conn) return;
        reusable = reusable && conn->is_open();
        if (reusable) conn->idle_since = std::chrono::steady_clock::now();
        else conn->close();
        std::shared_ptr<slot_waiter> waiter;
        {
            std::lock_guard lock(mutex_);
            auto it = origins_.find(conn->origin_key);
            if (it == origins_.end()) return; // cannot happen: a lease keeps its origin's count above 0
            auto& o = it->second;
            if (!o.waiters.empty()) {
                waiter = std::move(o.waiters.front());
                o.waiters.pop_front();
                waiter->granted = true;
                waiter->handed = std::move(conn);
            } else if (reusable) {
                o.idle.push_back(std::move(conn));
            } else {
                --o.open;
                if (o.open == 0) origins_.erase(it);
            }
        }
        if (waiter) waiter->wake->try_send(boost::system::error_code{});
    }

    /// Closes pooled connections idle for longer than the expiry. `acquire` does it lazily per
    /// origin; call this from a timer to free sockets of origins that see no traffic.
    std::size_t close_expired() {
        std::vector<std::unique_ptr<upstream_connection>> expired;
        std::vector<std::shared_ptr<slot_waiter>> granted;
        {
            std::lock_guard lock(mutex_);
            for (auto it = origins_.begin(); it != origins_.end();) {
                take_expired(it->second, expired);
                grant_free_slots(it->second, it->first, granted);
                if (it->second.open == 0 && it->second.waiters.empty()) it = origins_.erase(it);
                else ++it;
            }
        }
        wake(granted);
        return expired.size();
    }

    pool_stats stats() const {
        std::lock_guard lock(mutex_);
        pool_stats s;
        for (const auto& [key, o] : origins_) {
            s.open += o.open;
            s.idle += o.idle.size();
            s.waiting += o.waiters.size();
        }
        return s;
    }

private:
    using wake_channel = net::experimental::concurrent_channel<void(boost::system::error_code)>;

    struct slot_waiter {
        explicit slot_waiter(const net::any_io_executor& ex) : wake(std::make_shared<wake_channel>(ex, 1)) {}
        std::shared_ptr<wake_channel> wake;
        bool granted = false;                        // guarded by the pool mutex
        std::unique_ptr<upstream_connection> handed; // an idle connection or an empty slot
    };

    struct origin_state {
        std::size_t open = 0;
        std::deque<std::unique_ptr<upstream_connection>> idle; // oldest first
        std::deque<std::shared_ptr<slot_waiter>> waiters;
    };

    void take_expired(origin_state& o, std::vector<std::unique_ptr<upstream_connection>>& out) {
        auto oldest_kept = std::chrono::steady_clock::now() - idle_expiry_;
        while (!o.idle.empty() && o.idle.front()->idle_since <= oldest_kept) {
            out.push_back(std::move(o.idle.front()));
            o.idle.pop_front();
            --o.open;
        }
    }

    // Slots freed by expiry go to the calls already waiting, each with an empty connection.
    void grant_free_slots(origin_state& o, const std::string& key, std::vector<std::shared_ptr<slot_waiter>>& out) {
        while (!o.waiters.empty() && o.open < max_per_origin_) {
            ++o.open;
            auto w = std::move(o.waiters.front());
            o.waiters.pop_front();
            w->granted = true;
            w->handed = std::make_unique<upstream_connection>(key);
            out.push_back(std::move(w));
        }
    }

    static void wake(const std::vector<std::shared_ptr<slot_waiter>>& granted) {
        for (const auto& w : granted) w->wake->try_send(boost::system::error_code{});
    }

    connection_lease lease_checked(std::unique_ptr<upstream_connection> conn) {
        if (conn->is_open() && !conn->looks_alive()) conn->close(); // keep the slot, reconnect
        return connection_lease(shared_from_this(), std::move(conn));
    }

    const std::size_t max_per_origin_;
    const std::size_t max_waiting_;
    const std::chrono::milliseconds idle_expiry_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, origin_state> origins_;
};

inline void connection_lease::recycle() noexcept {
    if (conn_) pool_->give_back(std::move(conn_), true);
    pool_.reset();
}

inline void connection_lease::discard() noexcept {
    if (conn_) pool_->give_back(std::move(conn_), false);
    pool_.reset();
}

} // namespace sluice::transport

#endif

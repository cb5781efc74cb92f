#ifndef SLUICE_TRANSPORT_DEADLINE_HPP
#define SLUICE_TRANSPORT_DEADLINE_HPP

// One timer per connection for all its phase deadlines, moved without timer operations.
//
// Beast's tcp_stream arms and cancels a timer around every read and write: a heap insert, a
// cancelled handler to run and, whenever the heap empties, a timerfd_settime syscall, several
// times per request. Here a deadline is a time point: setting a later one, or clearing it, is
// an assignment. The timer wakes when it was last armed for, finds the deadline moved on, and
// sleeps until the new one; only a deadline earlier than the pending wake re-arms it. On expiry
// the socket is closed, as Beast does, so the pending operation ends and `expired()` says why.
//
// A deadline covers the operations started while it is set: clear it when they complete, or a
// later wait (a stream idle between upstream events) would be cut by a write's deadline. A
// sleeping timer is outstanding work: `cancel()` it when the connection idles with no operation
// of its own pending, or io_context::run() waits for it.
// Not thread-safe: use it on the executor (strand) of the connection's operations.

#include <sluice/transport/http.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>

namespace sluice::transport {

class socket_deadline {
public:
    using clock = std::chrono::steady_clock;

    /// `socket` is closed when a deadline passes; it must outlive this object.
    socket_deadline(const net::any_io_executor& executor, tcp::socket& socket)
        : state_(std::make_shared<state>(executor, socket)) {}

    ~socket_deadline() {
        state_->socket = nullptr; // a wake already queued finds nothing to close
        state_->timer.cancel();
    }

    socket_deadline(const socket_deadline&) = delete;
    socket_deadline& operator=(const socket_deadline&) = delete;

    void expires_at(clock::time_point t) {
        state_->deadline = t;
        if (!state_->waiting || t < state_->wake) arm(state_);
    }
    void expires_after(clock::duration d) { expires_at(clock::now() + d); }
    void expires_never() noexcept { state_->deadline = clock::time_point::max(); }

    /// Clears the deadline and stops the timer too: for a connection that goes idle with nothing
    /// pending (a pooled upstream connection), where a sleeping timer would be the io_context's
    /// only work and keep run() from returning.
    void cancel() noexcept {
        state_->deadline = clock::time_point::max();
        if (!state_->waiting) return;
        ++state_->generation;
        state_->waiting = false;
        state_->timer.cancel();
    }

    /// A deadline passed and the socket was closed for it.
    bool expired() const noexcept { return state_->expired; }

private:
    struct state {
        state(const net::any_io_executor& executor, tcp::socket& s) : timer(executor), socket(&s) {}
        net::steady_timer timer;
        tcp::socket* socket;
        clock::time_point deadline = clock::time_point::max();
        clock::time_point wake{};
        std::uint64_t generation = 0; // a re-arm supersedes the wait in flight
        bool waiting = false;
        bool expired = false;
    };

    static void arm(const std::shared_ptr<state>& s) {
        s->wake = s->deadline;
        s->waiting = true;
        s->timer.expires_at(s->deadline);
        s->timer.async_wait([s, generation = ++s->generation](const error_code& ec) { on_wake(s, generation, ec); });
    }

    static void on_wake(const std::shared_ptr<state>& s, std::uint64_t generation, const error_code& ec) {
        if (generation != s->generation) return;
        s->waiting = false;
        if (ec || !s->socket || s->deadline == clock::time_point::max()) return;
        if (clock::now() < s->deadline) return arm(s);
        s->expired = true;
        error_code ignored;
        s->socket->close(ignored);
    }

    std::shared_ptr<state> state_;
};

} // namespace sluice::transport

#endif

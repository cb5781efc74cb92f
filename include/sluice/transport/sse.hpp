#ifndef SLUICE_TRANSPORT_SSE_HPP
#define SLUICE_TRANSPORT_SSE_HPP

// Server-sent events over a chunked response. A producer coroutine sends events; a writer
// coroutine flushes each one as its own chunk and fills idle gaps with heartbeat comments.
// The queue between them is bounded: a slow reader pauses the producer instead of growing memory.

#include <sluice/api/codec.hpp>
#include <sluice/transport/exchange.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <functional>
#include <string>
#include <string_view>

namespace sluice::transport {

using api::append_sse_event;

class sse_stream {
public:
    /// Events held for a slow reader before the producer is paused.
    static constexpr std::size_t queue_limit = 64;
    static_assert(queue_limit >= 1);
    /// Events already queued go out together, up to this many bytes per chunk: one write (one
    /// syscall) for what one upstream read brought, instead of one per event.
    static constexpr std::size_t coalesce_bytes = 16 * 1024;
    static_assert(coalesce_bytes >= 1024);

    explicit sse_stream(exchange& ex, net::any_io_executor exec)
        : exchange_(ex), data_ready_(exec), space_ready_(exec) {
        data_ready_.expires_at(net::steady_timer::time_point::max());
        space_ready_.expires_at(net::steady_timer::time_point::max());
    }

    /// Queues one event; waits while the queue is full. False once the client is gone.
    net::awaitable<bool> send(std::string_view event, std::string_view data) {
        std::string frame;
        frame.reserve(event.size() + data.size() + 24);
        append_sse_event(frame, event, data);
        co_return co_await push(std::move(frame));
    }

    /// `data: ...` with no event name (OpenAI's stream shape).
    net::awaitable<bool> send_data(std::string_view data) { co_return co_await send(std::string_view(), data); }

    /// A comment line; clients ignore it, proxies see traffic.
    net::awaitable<bool> comment(std::string_view text) {
        std::string frame = ": ";
        frame += text;
        frame += "\n\n";
        co_return co_await push(std::move(frame));
    }

    bool closed() const noexcept { return closed_; }
    std::size_t queued() const noexcept { return queue_.size(); }

    /// Drains the queue to the client until the producer is done or the client is gone.
    net::awaitable<void> write_loop() {
        for (;;) {
            if (queue_.empty()) {
                if (producer_done_ || closed_) break;
                data_ready_.expires_after(exchange_.heartbeat_interval());
                error_code ec;
                co_await data_ready_.async_wait(net::redirect_error(net::use_awaitable, ec));
                if (!ec && queue_.empty() && !producer_done_) {
                    bool ok = co_await write(": ping\n\n");
                    if (!ok) break;
                }
                continue;
            }
            std::string frame = std::move(queue_.front());
            queue_.pop_front();
            while (!queue_.empty() && frame.size() + queue_.front().size() <= coalesce_bytes) {
                frame += queue_.front();
                queue_.pop_front();
            }
            space_ready_.cancel();
            bool ok = co_await write(frame);
            if (!ok) break;
        }
        if (!closed_) co_await exchange_.end_chunked();
        closed_ = true;
        space_ready_.cancel();
    }

    /// Runs the producer, then tells the writer that nothing more will come.
    net::awaitable<void> produce(const std::function<net::awaitable<void>(sse_stream&)>& producer) {
        try {
            co_await producer(*this);
        } catch (...) {
            finish();
            throw;
        }
        finish();
    }

    /// The producer has sent its last event.
    void finish() noexcept {
        producer_done_ = true;
        data_ready_.cancel();
    }

private:
    net::awaitable<bool> push(std::string frame) {
        while (!closed_ && queue_.size() >= queue_limit) {
            space_ready_.expires_at(net::steady_timer::time_point::max());
            error_code ec;
            co_await space_ready_.async_wait(net::redirect_error(net::use_awaitable, ec));
            auto state = co_await net::this_coro::cancellation_state;
            if (state.cancelled() != net::cancellation_type::none) co_return false;
        }
        if (closed_) co_return false;
        queue_.push_back(std::move(frame));
        data_ready_.cancel();
        co_return true;
    }

    net::awaitable<bool> write(std::string_view frame) {
        auto ec = co_await exchange_.write_chunk(frame);
        if (ec) {
            closed_ = true;
            queue_.clear();
            space_ready_.cancel();
            co_return false;
        }
        co_return true;
    }

    exchange& exchange_;
    std::deque<std::string> queue_;
    net::steady_timer data_ready_;  // wakes the writer: an event was queued, or the producer finished
    net::steady_timer space_ready_; // wakes the producer: the queue has room, or the client left
    bool producer_done_ = false;
    bool closed_ = false;
};

using sse_producer = std::function<net::awaitable<void>(sse_stream&)>;

/// Answers the exchange with an event stream: sends the headers, runs the producer and the writer
/// side by side, and ends the body when the producer returns. Must run on the connection's strand.
inline net::awaitable<void> serve_sse(exchange& ex, sse_producer producer,
                                      http::response<http::empty_body> head = {http::status::ok, 11}) {
    using namespace net::experimental::awaitable_operators;
    head.set(http::field::content_type, "text/event-stream");
    head.set(http::field::cache_control, "no-cache");
    head.set("x-accel-buffering", "no"); // ask nginx-style proxies not to buffer the stream
    auto ec = co_await ex.begin_chunked(std::move(head));
    if (ec) co_return;

    auto exec = co_await net::this_coro::executor;
    sse_stream stream(ex, exec);
    co_await (stream.produce(producer) && stream.write_loop());
}

} // namespace sluice::transport

#endif

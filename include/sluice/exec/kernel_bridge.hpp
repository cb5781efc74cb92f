#ifndef SLUICE_EXEC_KERNEL_BRIDGE_HPP
#define SLUICE_EXEC_KERNEL_BRIDGE_HPP

// Hands what a kernel makes on its own threads (events, audio chunks) to the coroutine serving
// the request. The kernel must never wait on a network thread, so push() only queues and wakes:
// the items travel under a mutex, and a one-slot channel carries the wake-up, which a push made
// while no one waits leaves buffered for the next wait (no lost wake-ups, no busy loop).

#include <sluice/transport/http.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace sluice::exec {

/// Carries items pushed from a kernel's thread to the coroutine serving the request, on that
/// request's executor. push() and close() may be called from any thread and never block.
template <class T>
class kernel_bridge {
public:
    explicit kernel_bridge(transport::net::any_io_executor ex) : wake_(std::move(ex), 1) {}

    static std::shared_ptr<kernel_bridge> make(transport::net::any_io_executor ex) {
        return std::make_shared<kernel_bridge>(std::move(ex));
    }

    kernel_bridge(const kernel_bridge&) = delete;
    kernel_bridge& operator=(const kernel_bridge&) = delete;

    /// Queues `item`; ignored once closed. Any thread.
    void push(T item) {
        {
            std::lock_guard lock(mutex_);
            if (closed_) return;
            items_.push_back(std::move(item));
        }
        wake();
    }

    /// No more items; the reader drains what is queued, then next() answers false. Any thread.
    void close() {
        {
            std::lock_guard lock(mutex_);
            if (closed_) return;
            closed_ = true;
        }
        wake();
    }

    /// Waits until at least one item is queued or the bridge is closed; moves queued items to `out`.
    /// False once closed and drained. Cancellation of the awaiting coroutine (client gone) throws
    /// operation_aborted, as the upstream path does.
    transport::net::awaitable<bool> next(std::vector<T>& out) {
        for (;;) {
            {
                std::lock_guard lock(mutex_);
                if (!items_.empty()) {
                    for (auto& item : items_) out.push_back(std::move(item));
                    items_.clear();
                    co_return true;
                }
                if (closed_) co_return false;
            }
            // A wake-up left from an item already taken only costs one more look.
            auto [ec] = co_await wake_.async_receive(transport::net::as_tuple(transport::net::use_awaitable));
            if (ec) throw boost::system::system_error(transport::net::error::operation_aborted);
        }
    }

private:
    void wake() {
        // The slot holds one wake-up; when it is full a wake-up is already on its way.
        wake_.try_send(boost::system::error_code{});
    }

    std::mutex mutex_;
    std::deque<T> items_;
    bool closed_ = false;
    transport::net::experimental::concurrent_channel<void(boost::system::error_code)> wake_;
};

} // namespace sluice::exec

#endif

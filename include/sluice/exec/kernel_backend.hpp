#ifndef SLUICE_EXEC_KERNEL_BACKEND_HPP
#define SLUICE_EXEC_KERNEL_BACKEND_HPP

// The `local` backend's request path: an envelope submitted to a kernel running in this process,
// its events carried from the kernel's threads by a kernel_bridge. The same contract as the
// upstream path (executor.hpp): a refusal or an error before the first event sent nothing to the
// client and may fail over; a request whose reader goes away (the client hung up) is cancelled
// in the kernel, which frees what it held at once.

#include <sluice/core/event.hpp>
#include <sluice/core/result.hpp>
#include <sluice/exec/kernel_bridge.hpp>
#include <sluice/plugin/kernel.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sluice::exec {

namespace detail {

// Shared by every copy of the sink a kernel holds. When the last copy is dropped the bridge is
// closed, with an error first when no terminal event came: a kernel that loses a request must not
// leave its client waiting.
struct kernel_sink_state {
    std::shared_ptr<kernel_bridge<core::event>> bridge;
    std::atomic<bool> ended{false};

    explicit kernel_sink_state(std::shared_ptr<kernel_bridge<core::event>> b) : bridge(std::move(b)) {}
    kernel_sink_state(const kernel_sink_state&) = delete;
    kernel_sink_state& operator=(const kernel_sink_state&) = delete;

    void push(core::event&& e) noexcept {
        if (ended.load(std::memory_order_acquire)) return;
        const bool terminal = core::is_terminal(e);
        try {
            bridge->push(std::move(e));
        } catch (...) {
            // Out of memory: end the request rather than lose its last event quietly.
            ended = true;
            bridge->close();
            return;
        }
        if (terminal) {
            ended.store(true, std::memory_order_release);
            bridge->close();
        }
    }

    ~kernel_sink_state() {
        if (ended.load(std::memory_order_acquire)) return;
        try {
            bridge->push(core::error{core::error_kind::internal, "the model kernel dropped the request without ending it",
                                     {}, "kernel_dropped_request"});
        } catch (...) {
        }
        bridge->close();
    }
};

} // namespace detail

/// What a kernel is told when a request's client goes away.
inline core::error client_gone_error() {
    return core::error{core::error_kind::invalid_request, "the client closed the request", {}, "client_closed"};
}

/// One request running in a kernel. Destroying it before its last event cancels it in the
/// kernel: that is how a client that hangs up (the coroutine unwinds) frees the sequence.
class kernel_run {
public:
    /// Submits `request`; its events are read with next(), on `ex`. The kernel's refusal
    /// (overloaded, invalid_request) comes back as the error, with nothing sent.
    static core::result<kernel_run> submit(std::shared_ptr<plugin::kernel> kernel, core::envelope request,
                                           transport::net::any_io_executor ex) {
        auto bridge = kernel_bridge<core::event>::make(std::move(ex));
        auto state = std::make_shared<detail::kernel_sink_state>(bridge);
        plugin::event_sink sink = [state](core::event&& e) { state->push(std::move(e)); };
        auto id = kernel->submit(std::move(request), std::move(sink));
        if (!id) {
            state->ended = true; // refused: the kernel never called the sink and holds no copy
            return std::move(id).error();
        }
        return kernel_run(std::move(kernel), id.value(), std::move(bridge));
    }

    kernel_run(kernel_run&& o) noexcept
        : kernel_(std::move(o.kernel_)), id_(o.id_), bridge_(std::move(o.bridge_)), ended_(o.ended_) {}
    kernel_run& operator=(kernel_run&&) = delete;
    kernel_run(const kernel_run&) = delete;
    kernel_run& operator=(const kernel_run&) = delete;

    ~kernel_run() {
        if (kernel_ && !ended_) kernel_->cancel(id_, client_gone_error());
    }

    plugin::request_id id() const noexcept { return id_; }
    bool ended() const noexcept { return ended_; }

    /// Waits for at least one event or the end; false once ended (a terminal event, message_stop
    /// or error, is then the last one given out). A cancelled reader throws operation_aborted.
    transport::net::awaitable<bool> next(std::vector<core::event>& out) {
        if (ended_) co_return false;
        const auto before = out.size();
        bool more = co_await bridge_->next(out);
        for (auto i = before; i < out.size(); ++i)
            if (core::is_terminal(out[i])) ended_ = true;
        if (!more) {
            ended_ = true; // the sink state puts an error in before it closes without a terminal event
            co_return out.size() > before;
        }
        co_return true;
    }

    /// Every remaining event, up to and including the terminal one.
    transport::net::awaitable<std::vector<core::event>> all() {
        std::vector<core::event> events;
        for (;;) {
            bool more = co_await next(events);
            if (!more || ended_) break;
        }
        co_return events;
    }

private:
    kernel_run(std::shared_ptr<plugin::kernel> k, plugin::request_id id, std::shared_ptr<kernel_bridge<core::event>> b)
        : kernel_(std::move(k)), id_(id), bridge_(std::move(b)) {}

    std::shared_ptr<plugin::kernel> kernel_;
    plugin::request_id id_ = 0;
    std::shared_ptr<kernel_bridge<core::event>> bridge_;
    bool ended_ = false;
};

} // namespace sluice::exec

#endif

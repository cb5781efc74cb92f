// The bridge from a kernel's threads to a request's coroutine: nothing lost, nothing reordered,
// nothing after close, and a waiting reader that is cancelled unwinds like an upstream read.
#include <sluice/exec/kernel_bridge.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace sluice;
namespace net = transport::net;

namespace {

// Reads until the bridge ends; every item read, in order.
net::awaitable<void> drain(std::shared_ptr<exec::kernel_bridge<int>> bridge, std::vector<int>& seen, int& wakes) {
    std::vector<int> batch;
    for (;;) {
        bool more = co_await bridge->next(batch);
        if (!more) break;
        ++wakes;
        for (int v : batch) seen.push_back(v);
        batch.clear();
    }
}

} // namespace

TEST_CASE("a kernel thread pushes thousands of items and the reader gets them all in order", "[exec][kernel_bridge]") {
    net::io_context io;
    auto bridge = exec::kernel_bridge<int>::make(io.get_executor());
    std::vector<int> seen;
    int wakes = 0;
    net::co_spawn(io, drain(bridge, seen, wakes), net::detached);

    constexpr int count = 20000;
    std::thread kernel([bridge] {
        for (int i = 0; i < count; ++i) bridge->push(i);
        bridge->close();
        bridge->push(-1); // after close: dropped
    });
    io.run();
    kernel.join();

    REQUIRE(seen.size() == std::size_t(count));
    bool ordered = true;
    for (int i = 0; i < count; ++i) ordered &= seen[std::size_t(i)] == i;
    CHECK(ordered);
    CHECK(wakes >= 1);
    CHECK(wakes <= count);
}

TEST_CASE("several pushing threads lose nothing", "[exec][kernel_bridge]") {
    net::io_context io;
    auto bridge = exec::kernel_bridge<int>::make(io.get_executor());
    std::vector<int> seen;
    int wakes = 0;
    net::co_spawn(io, drain(bridge, seen, wakes), net::detached);

    constexpr int per_thread = 5000;
    std::atomic<int> finished{0};
    std::vector<std::thread> kernels;
    for (int t = 0; t < 4; ++t)
        kernels.emplace_back([bridge, t, &finished] {
            for (int i = 0; i < per_thread; ++i) bridge->push(t * per_thread + i);
            if (++finished == 4) bridge->close();
        });
    io.run();
    for (auto& k : kernels) k.join();

    REQUIRE(seen.size() == std::size_t(4 * per_thread));
    std::vector<int> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    bool all = true;
    for (int i = 0; i < 4 * per_thread; ++i) all &= sorted[std::size_t(i)] == i;
    CHECK(all);
}

TEST_CASE("items queued before the reader waits are there at once and a closed empty bridge ends", "[exec][kernel_bridge]") {
    net::io_context io;
    auto bridge = exec::kernel_bridge<std::string>::make(io.get_executor());
    bridge->push("a");
    bridge->push("b");
    bridge->close();
    std::vector<std::string> first, second;
    bool more_first = false, more_second = true;
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        more_first = co_await bridge->next(first);
        more_second = co_await bridge->next(second);
    }, net::detached);
    io.run();
    CHECK(more_first);
    CHECK(first == std::vector<std::string>{"a", "b"});
    CHECK_FALSE(more_second);
    CHECK(second.empty());
}

TEST_CASE("cancelling a waiting reader throws operation_aborted", "[exec][kernel_bridge]") {
    net::io_context io;
    auto bridge = exec::kernel_bridge<int>::make(io.get_executor());
    net::cancellation_signal stop;
    std::exception_ptr ended;
    bool finished = false;
    net::co_spawn(io, [bridge]() -> net::awaitable<void> {
        std::vector<int> batch;
        co_await bridge->next(batch);
    }, net::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) {
        ended = e;
        finished = true;
    }));
    io.poll(); // the reader now waits: nothing was pushed
    REQUIRE_FALSE(finished);
    stop.emit(net::cancellation_type::terminal);
    io.run();
    REQUIRE(finished);
    REQUIRE(ended);
    boost::system::error_code code;
    try {
        std::rethrow_exception(ended);
    } catch (const boost::system::system_error& e) {
        code = e.code();
    }
    CHECK(code == net::error::operation_aborted);
}

TEST_CASE("a reader on a thread pool gets items pushed from another pool", "[exec][kernel_bridge]") {
    net::thread_pool network(2);
    auto bridge = exec::kernel_bridge<int>::make(net::make_strand(network));
    std::vector<int> seen;
    int wakes = 0;
    std::promise<void> done;
    net::co_spawn(net::make_strand(network), drain(bridge, seen, wakes),
                  [&](std::exception_ptr) { done.set_value(); });
    std::thread kernel([bridge] {
        for (int i = 0; i < 3000; ++i) bridge->push(i);
        bridge->close();
    });
    done.get_future().wait();
    kernel.join();
    network.join();
    CHECK(seen.size() == 3000u);
}

// ---- kernel_run: a request in a kernel, read through the bridge ---------------------------------

#include <sluice/exec/kernel_backend.hpp>

namespace {

// Answers each request from a thread of its own, or keeps it (hold) until cancelled; `drop`
// forgets the sink without a last event, as a broken kernel might.
class scripted_kernel final : public plugin::kernel {
public:
    enum class mode { answer, hold, drop, refuse };
    explicit scripted_kernel(mode m) : mode_(m) {}
    ~scripted_kernel() override {
        for (auto& t : threads_) t.join();
    }

    plugin::result<void> load(const plugin::kernel_config&) override { return {}; }
    plugin::kernel_info describe() const override { return {"scripted", "1", "m", {core::endpoint::chat}, 64}; }
    plugin::result<plugin::request_id> submit(core::envelope, plugin::event_sink sink) override {
        std::lock_guard lock(mutex_);
        if (mode_ == mode::refuse) return core::error{core::error_kind::overloaded, "busy", {}, {}};
        const auto id = ++last_;
        if (mode_ == mode::hold) {
            held_[id] = std::move(sink);
        } else if (mode_ == mode::drop) {
            threads_.emplace_back([s = std::move(sink)]() mutable {
                s(core::message_start{"x", "m"});
                s = nullptr; // gone without message_stop
            });
        } else {
            threads_.emplace_back([s = std::move(sink)] {
                s(core::message_start{"x", "m"});
                s(core::text_start(0));
                for (int i = 0; i < 1000; ++i) s(core::text_delta(0, "a"));
                s(core::block_stop{0});
                s(core::usage{3, 1000, 0, 0, 0});
                s(core::message_stop{core::finish_reason::stop, {}});
            });
        }
        return id;
    }
    bool cancel(plugin::request_id id, core::error reason) override {
        std::lock_guard lock(mutex_);
        cancelled_.push_back(id);
        auto it = held_.find(id);
        if (it == held_.end()) return false;
        it->second(std::move(reason));
        held_.erase(it);
        return true;
    }
    plugin::kernel_load current_load() const override { return {}; }

    std::vector<plugin::request_id> cancelled() {
        std::lock_guard lock(mutex_);
        return cancelled_;
    }

private:
    mode mode_;
    std::mutex mutex_;
    plugin::request_id last_ = 0;
    std::map<plugin::request_id, plugin::event_sink> held_;
    std::vector<plugin::request_id> cancelled_;
    std::vector<std::thread> threads_;
};

} // namespace

TEST_CASE("a kernel run gives every event up to the terminal one", "[exec][kernel_run]") {
    net::io_context io;
    auto k = std::make_shared<scripted_kernel>(scripted_kernel::mode::answer);
    std::vector<core::event> events;
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        auto run = exec::kernel_run::submit(k, core::envelope{}, io.get_executor());
        if (!run) co_return;
        exec::kernel_run r = std::move(run).value();
        events = co_await r.all();
    }, net::detached);
    io.run();
    REQUIRE(events.size() == 1005u);
    CHECK(std::holds_alternative<core::message_stop>(events.back()));
    CHECK(k->cancelled().empty()); // it ended: nothing to cancel
}

TEST_CASE("a refused submit is an error and nothing runs", "[exec][kernel_run]") {
    net::io_context io;
    auto k = std::make_shared<scripted_kernel>(scripted_kernel::mode::refuse);
    auto run = exec::kernel_run::submit(k, core::envelope{}, io.get_executor());
    REQUIRE_FALSE(run);
    CHECK(run.error().kind == core::error_kind::overloaded);
}

TEST_CASE("a reader that goes away cancels its request in the kernel", "[exec][kernel_run]") {
    net::io_context io;
    auto k = std::make_shared<scripted_kernel>(scripted_kernel::mode::hold);
    net::cancellation_signal stop;
    bool finished = false;
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        auto run = exec::kernel_run::submit(k, core::envelope{}, io.get_executor());
        if (!run) co_return;
        exec::kernel_run r = std::move(run).value();
        std::vector<core::event> batch;
        co_await r.next(batch); // held: waits until cancelled
    }, net::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr) { finished = true; }));
    io.poll();
    REQUIRE_FALSE(finished);
    stop.emit(net::cancellation_type::terminal);
    io.run();
    CHECK(finished);
    CHECK(k->cancelled() == std::vector<plugin::request_id>{1});
}

TEST_CASE("a kernel that drops a request without ending it leaves an error not a hang", "[exec][kernel_run]") {
    net::io_context io;
    auto k = std::make_shared<scripted_kernel>(scripted_kernel::mode::drop);
    std::vector<core::event> events;
    net::co_spawn(io, [&]() -> net::awaitable<void> {
        auto run = exec::kernel_run::submit(k, core::envelope{}, io.get_executor());
        if (!run) co_return;
        exec::kernel_run r = std::move(run).value();
        events = co_await r.all();
    }, net::detached);
    io.run();
    REQUIRE(events.size() == 2u);
    const auto* e = std::get_if<core::error>(&events.back());
    REQUIRE(e);
    CHECK(e->code == "kernel_dropped_request");
}

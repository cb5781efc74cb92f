// A kernel that "generates" the words one, two, three... from a scheduler thread of its own,
// enough to drive the kernel interface through the host: load, submit, events, cancel, load report.
// options: {"words": N} words per answer, {"hold": true} queues requests without running them,
// {"refuse": true} refuses every request as overloaded, {"load_gate": FILE} makes load() wait
// until FILE exists (a slow load the test controls), {"fail_load": "why"} fails the load.

#include <sluice/plugin/kernel.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace {

using namespace sluice;

class counting_kernel final : public plugin::kernel {
public:
    counting_kernel() : worker_([this] { run(); }) {}

    ~counting_kernel() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        worker_.join();
        for (auto& job : queue_) // every accepted request ends with an event
            job.sink(core::error{core::error_kind::overloaded, "kernel shutting down", {}, {}});
    }

    plugin::result<void> load(const plugin::kernel_config& config) override {
        if (config.model_path.empty()) return core::error{core::error_kind::not_found, "no model path", {}, {}};
        if (config.model_path == "throw") throw std::runtime_error("weights are corrupt");
        if (auto* g = config.options.if_contains("load_gate")) {
            const std::filesystem::path gate(std::string(g->as_string()));
            std::error_code ec;
            while (!std::filesystem::exists(gate, ec)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (auto* f = config.options.if_contains("fail_load"))
            return core::error{core::error_kind::invalid_request, std::string(f->as_string()), {}, {}};
        std::lock_guard lock(mutex_);
        model_ = config.name;
        if (auto* w = config.options.if_contains("words")) words_ = unsigned(w->to_number<double>());
        if (auto* h = config.options.if_contains("hold")) hold_ = h->as_bool();
        if (auto* r = config.options.if_contains("refuse")) refuse_ = r->as_bool();
        return {};
    }

    plugin::kernel_info describe() const override {
        std::lock_guard lock(mutex_);
        return {"counter", "0.1.0", model_, {core::endpoint::chat}, 4096};
    }

    plugin::result<plugin::request_id> submit(core::envelope, plugin::event_sink sink) override {
        std::lock_guard lock(mutex_);
        if (model_.empty()) return core::error{core::error_kind::overloaded, "no model loaded", {}, {}};
        if (refuse_) return core::error{core::error_kind::overloaded, "the counter is busy", {}, "kernel_busy"};
        queue_.push_back({++last_id_, std::move(sink)});
        wake_.notify_all();
        return last_id_;
    }

    bool cancel(plugin::request_id id, core::error reason) override {
        std::lock_guard lock(mutex_);
        for (auto it = queue_.begin(); it != queue_.end(); ++it)
            if (it->id == id) {
                it->sink(std::move(reason));
                queue_.erase(it);
                return true;
            }
        return false;
    }

    plugin::kernel_load current_load() const override {
        std::lock_guard lock(mutex_);
        return {std::uint32_t(queue_.size()), 0, 3, 64, 0.25};
    }

private:
    struct job {
        plugin::request_id id;
        plugin::event_sink sink;
    };

    void run() {
        static constexpr const char* names[] = {"one", "two", "three", "four", "five", "six"};
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [this] { return stopping_ || (!hold_ && !queue_.empty()); });
            if (stopping_) return;
            job j = std::move(queue_.front());
            queue_.pop_front();
            const unsigned words = words_;
            lock.unlock();
            j.sink(core::message_start{"cnt-" + std::to_string(j.id), "counter"});
            j.sink(core::text_start(0));
            for (unsigned i = 0; i < words; ++i) j.sink(core::text_delta(0, std::string(i ? " " : "") + names[i % 6]));
            j.sink(core::block_stop{0});
            j.sink(core::usage{4, words, 2, 0, 0});
            j.sink(core::message_stop{core::finish_reason::stop, {}});
            lock.lock();
        }
    }

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<job> queue_;
    std::string model_;
    unsigned words_ = 3;
    bool hold_ = false;
    bool refuse_ = false;
    bool stopping_ = false;
    plugin::request_id last_id_ = 0;
    std::thread worker_; // last: starts after every member it reads is built
};

} // namespace

SLUICE_KERNEL_PLUGIN(counting_kernel, "counter", "0.1.0")

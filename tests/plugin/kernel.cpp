#include <sluice/plugin/kernel.hpp>

#include "test_plugins.hpp"

#include <sluice/core/aggregate.hpp>
#include <sluice/plugin/host.hpp>

#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>

using namespace sluice;
using namespace std::chrono_literals;

namespace {

/// Collects one request's events from the kernel's thread and lets the test wait for the end.
class collected_answer {
public:
    plugin::event_sink sink() {
        return [this](core::event&& e) {
            std::lock_guard lock(mutex_);
            const bool last = core::is_terminal(e);
            answer_.add(std::move(e));
            ++events_;
            if (last) ended_.notify_all();
        };
    }
    bool wait() {
        std::unique_lock lock(mutex_);
        return ended_.wait_for(lock, 10s, [this] { return answer_.done(); });
    }
    core::response_aggregate answer() {
        std::lock_guard lock(mutex_);
        return answer_;
    }
    int events() {
        std::lock_guard lock(mutex_);
        return events_;
    }

private:
    std::mutex mutex_;
    std::condition_variable ended_;
    core::response_aggregate answer_;
    int events_ = 0;
};

std::shared_ptr<plugin::kernel> make_counter() {
    plugin::host host;
    auto made = host.create_kernel(sluice_test::plugin_file("test_counter").string());
    REQUIRE(made);
    return std::move(made).value();
}

plugin::kernel_config counter_config(const char* options = "{}") {
    return {"counter-small", "/models/counter.gguf", boost::json::parse(options).as_object()};
}

core::envelope count_request() {
    core::envelope e;
    e.model = "counter-small";
    e.messages.push_back(core::message::user("count"));
    return e;
}

} // namespace

TEST_CASE("a kernel plugin loads a model and describes it", "[plugin][kernel]") {
    auto k = make_counter();
    CHECK(k->describe().model.empty());
    REQUIRE(k->load(counter_config()));
    auto info = k->describe();
    CHECK(info.name == "counter");
    CHECK(info.model == "counter-small");
    CHECK(info.endpoints.contains(core::endpoint::chat));
    CHECK(info.context_window == 4096);
}

TEST_CASE("a kernel answers from its own thread through the sink", "[plugin][kernel]") {
    auto k = make_counter();
    REQUIRE(k->load(counter_config(R"({"words": 4})")));
    collected_answer c;
    auto id = k->submit(count_request(), c.sink());
    REQUIRE(id);
    REQUIRE(c.wait());
    auto answer = c.answer();
    REQUIRE(answer.complete());
    CHECK(core::text_of(answer.message().content) == "one two three four");
    CHECK(answer.usage() == core::usage{4, 4, 2, 0, 0});
    CHECK(answer.finish() == core::finish_reason::stop);
}

TEST_CASE("a queued request can be cancelled and ends with the reason given", "[plugin][kernel]") {
    auto k = make_counter();
    REQUIRE(k->load(counter_config(R"({"hold": true})")));
    collected_answer first, second;
    auto a = k->submit(count_request(), first.sink());
    auto b = k->submit(count_request(), second.sink());
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a != *b);
    CHECK(k->current_load().queue_depth == 2);

    CHECK(k->cancel(*a, core::error{core::error_kind::timeout, "deadline passed", {}, {}}));
    REQUIRE(first.wait());
    REQUIRE(first.answer().error());
    CHECK(first.answer().error()->message == "deadline passed");
    CHECK_FALSE(k->cancel(*a, core::error{}));
    CHECK(k->current_load().queue_depth == 1);

    SECTION("a kernel that goes away still ends what it accepted") {
        k.reset();
        REQUIRE(second.wait());
        CHECK(second.answer().error()->kind == core::error_kind::overloaded);
    }
}

TEST_CASE("a kernel reports its load", "[plugin][kernel]") {
    auto k = make_counter();
    REQUIRE(k->load(counter_config()));
    auto load = k->current_load();
    CHECK(load.kv_blocks_used == 3);
    CHECK(load.kv_blocks_total == 64);
    CHECK(load.prefix_cache_hit_rate == Approx(0.25));
}

TEST_CASE("a kernel that cannot load says why, throwing or not", "[plugin][kernel]") {
    auto k = make_counter();
    auto missing = k->load({"x", "", {}});
    REQUIRE_FALSE(missing);
    CHECK(missing.error().kind == core::error_kind::not_found);

    auto corrupt = k->load({"x", "throw", {}});
    REQUIRE_FALSE(corrupt);
    CHECK(corrupt.error().kind == core::error_kind::internal);
    CHECK_THAT(corrupt.error().message, Catch::Contains("load threw: weights are corrupt"));

    auto refused = k->submit(count_request(), [](core::event&&) {});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == core::error_kind::overloaded);
}

TEST_CASE("a sink that throws does not take the kernel down", "[plugin][kernel]") {
    auto k = make_counter();
    REQUIRE(k->load(counter_config()));
    sluice_test::stderr_capture log;
    collected_answer c;
    auto inner = c.sink();
    int calls = 0;
    REQUIRE(k->submit(count_request(), [&](core::event&& e) {
        inner(std::move(e));
        if (++calls == 1) throw std::runtime_error("client went away");
    }));
    REQUIRE(c.wait());
    CHECK(c.answer().complete());
    CHECK_THAT(log.text(), Catch::Contains("kernel_sink_threw") && Catch::Contains("client went away"));
}

#include <sluice/routing/policies.hpp>

#include <sluice/routing/breaker.hpp>
#include <sluice/routing/classifier.hpp>
#include <sluice/routing/request_text.hpp>
#include <sluice/routing/stats.hpp>

#include "bag_of_words.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace sluice;
using namespace std::chrono_literals;
using routing_test::model;

namespace {

/// A task's models and the state a policy sees, with the ids of the order it returns.
struct bench {
    std::vector<core::model_entry> entries;
    std::vector<const core::model_entry*> models;
    routing::stats_snapshot stats;
    routing::random_source random{42};

    explicit bench(std::vector<core::model_entry> e) : entries(std::move(e)) {
        for (const auto& m : entries) models.push_back(&m);
    }

    routing::selection_input input(std::uint64_t in_tokens = 1000, std::uint64_t out_tokens = 1000,
                                   std::string_view task = "code") {
        return {task, models, in_tokens, out_tokens, stats, random};
    }

    void measured(std::string id, double ttft_ms, routing::time_point last = {}) {
        routing::model_stats s;
        s.successes = 1;
        s.ttft_ms = ttft_ms;
        s.latency_ms = ttft_ms * 4;
        s.last_success = last;
        stats.add(std::move(id), s);
    }
};

template <class Policy>
std::vector<std::string> order(const Policy& p, const routing::selection_input& in) {
    std::vector<std::string> out;
    for (const auto* m : p.rank(in)) out.push_back(m->id);
    return out;
}

using ids = std::vector<std::string>;

} // namespace

TEST_CASE("cost ranks by this request's price at its token counts", "[routing][policy]") {
    // a: cheap input, dear output. b: the other way round.
    bench b({model("a", 0.10, 10.0), model("b", 2.0, 1.0), routing_test::unpriced_model("free?"), model("c", 0.5, 2.0)});
    routing::cost cost;

    SECTION("a long prompt with a short answer goes to the cheap input") {
        CHECK(order(cost, b.input(100'000, 100)) == ids{"a", "c", "b", "free?"});
    }
    SECTION("a short prompt with a long answer goes to the cheap output") {
        CHECK(order(cost, b.input(100, 100'000)) == ids{"b", "c", "a", "free?"});
    }
    SECTION("an unpriced model goes last, a zero price first") {
        auto zero = model("zero", 0, 0);
        bench z({routing_test::unpriced_model("unknown"), model("dear", 5, 5), zero});
        CHECK(order(cost, z.input()) == ids{"zero", "dear", "unknown"});
    }
    SECTION("ties keep the config order") {
        bench t({model("x", 1, 1), model("y", 1, 1), model("w", 1, 1)});
        CHECK(order(cost, t.input()) == ids{"x", "y", "w"});
    }
}

TEST_CASE("speed ranks by average time to first token, unmeasured models last", "[routing][policy]") {
    bench b({model("a", 1, 1), model("b", 1, 1), model("c", 1, 1), model("d", 1, 1)});
    routing::speed speed(0.0); // no exploration: the order is deterministic

    SECTION("nothing measured: the config order, so the first gets measured") {
        CHECK(order(speed, b.input()) == ids{"a", "b", "c", "d"});
    }
    SECTION("the fastest first, unmeasured after in config order") {
        b.measured("c", 80);
        b.measured("a", 300);
        CHECK(order(speed, b.input()) == ids{"c", "a", "b", "d"});
    }
}

TEST_CASE("speed explores at its rate: an unmeasured model first, else the longest unmeasured", "[routing][policy]") {
    bench b({model("fast", 1, 1), model("slow", 1, 1), model("new", 1, 1)});
    const auto t0 = routing::time_point{} + 1h;
    b.measured("fast", 50, t0 + 10min);
    b.measured("slow", 900, t0);

    routing::speed speed(0.05);
    std::map<std::string, int> first;
    const int n = 20000;
    for (int i = 0; i < n; ++i) first[speed.rank(b.input()).front()->id]++;
    // 5 % of 20,000 is 1,000; binomial sd about 31.
    CHECK(first["new"] > 800);
    CHECK(first["new"] < 1200);
    CHECK(first["slow"] == 0);
    CHECK(first["fast"] == n - first["new"]);

    SECTION("with every model measured, the probe is the one measured longest ago") {
        b.measured("new", 400, t0 + 5min);
        std::map<std::string, int> again;
        for (int i = 0; i < n; ++i) again[speed.rank(b.input()).front()->id]++;
        CHECK(again["slow"] > 800);
        CHECK(again["slow"] < 1200);
        CHECK(again["new"] == 0);
    }
}

TEST_CASE("manual keeps the order given", "[routing][policy]") {
    bench b({model("z", 9, 9), model("a", 0.1, 0.1), model("m", 1, 1)});
    b.measured("a", 10);
    CHECK(order(routing::manual{}, b.input()) == ids{"z", "a", "m"});
}

TEST_CASE("optimal trades the quality table against cost and latency", "[routing][policy]") {
    bench b({model("cheap", 0.1, 0.1), model("good", 10, 10)});
    config::optimal_settings s;
    s.quality["code"] = {{"cheap", 0.5}, {"good", 0.95}};

    SECTION("quality outweighs cost at the default weights") {
        // cheap: 0.6*0.5 - 0.25*0.01 - 0.15*0.5 = 0.2225; good: 0.6*0.95 - 0.25 - 0.075 = 0.245
        CHECK(order(routing::optimal(s), b.input()) == ids{"good", "cheap"});
    }
    SECTION("a heavier cost weight turns it round") {
        s.weights = {0.6, 0.5, 0.15};
        CHECK(order(routing::optimal(s), b.input()) == ids{"cheap", "good"});
    }
    SECTION("latency counts once measured") {
        s.weights = {0.6, 0, 1.0};
        b.measured("good", 2000);
        b.measured("cheap", 100);
        CHECK(order(routing::optimal(s), b.input()) == ids{"cheap", "good"});
    }
    SECTION("the * row serves every task; another task's row does not") {
        config::optimal_settings star;
        star.quality["*"] = {{"cheap", 1.0}, {"good", 0.1}};
        star.quality["billing"] = {{"good", 1.0}};
        routing::optimal p(star);
        CHECK(p.quality("code", b.entries[0]) == Approx(1.0));
        CHECK(p.quality("billing", b.entries[1]) == Approx(1.0));
        CHECK(p.quality("code", b.entries[1]) == Approx(0.1));
        CHECK(order(p, b.input()) == ids{"cheap", "good"});
    }
    SECTION("without a table the default prior by family decides") {
        bench fam({model("llama-3.1-8b", 0.1, 0.1), model("claude-opus-4", 0.1, 0.1), model("house-model", 0.1, 0.1)});
        routing::optimal p;
        CHECK(p.quality("code", fam.entries[0]) == Approx(0.70));
        CHECK(p.quality("code", fam.entries[1]) == Approx(0.95));
        CHECK(p.quality("code", fam.entries[2]) == Approx(routing::unknown_quality));
        CHECK(order(p, fam.input()) == ids{"claude-opus-4", "llama-3.1-8b", "house-model"});
    }
    SECTION("the longest family match wins") {
        CHECK(routing::default_quality(model("gpt-4o-mini", 1, 1)) == Approx(0.72));
        CHECK(routing::default_quality(model("GPT-4o", 1, 1)) == Approx(0.85));
        auto aliased = model("house-fast", 1, 1);
        aliased.upstream_model = "claude-haiku-4-5";
        CHECK(routing::default_quality(aliased) == Approx(0.75));
    }
}

namespace {

/// A team's policy, to prove a set takes types sluice has never seen: the longest id first.
struct longest_name {
    static constexpr std::string_view name = "longest-name";
    routing::ranking rank(const routing::selection_input& in) const {
        routing::ranking out(in.models.begin(), in.models.end());
        std::stable_sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->id.size() > b->id.size(); });
        return out;
    }
};

} // namespace

TEST_CASE("a policy_set maps a config's policy name to one of its types", "[routing][policy]") {
    using set = routing::policy_set<routing::cost, routing::speed, routing::manual, routing::optimal, longest_name>;
    static_assert(routing::routing_policy<longest_name>);
    static_assert(set::contains("longest-name") && set::contains("cost") && !set::contains("cheapest"));
    static_assert(set::names.size() == 5);
    static_assert(routing::default_policies::names[3] == "optimal");

    config::router_config cfg;
    cfg.exploration = 0.5;
    bench b({model("ab", 1, 1), model("abcd", 0.1, 0.1), model("abc", 9, 9)});

    auto custom = set::make("longest-name", cfg);
    REQUIRE(custom);
    CHECK(set::name_of(*custom) == "longest-name");
    ids got;
    for (const auto* m : set::rank(*custom, b.input())) got.push_back(m->id);
    CHECK(got == ids{"abcd", "abc", "ab"});

    auto cost = set::make("cost", cfg);
    REQUIRE(cost);
    got.clear();
    for (const auto* m : set::rank(*cost, b.input())) got.push_back(m->id);
    CHECK(got == ids{"abcd", "ab", "abc"});

    auto speed = set::make("speed", cfg);
    REQUIRE(speed);
    CHECK(std::get<routing::speed>(*speed).exploration == Approx(0.5)); // built from the router's config

    CHECK_FALSE(set::make("nope", cfg));
}

// ---------------------------------------------------------------- classifier

namespace {

config::router_config support_router() {
    config::router_config r;
    r.name = "support";
    r.tasks.push_back({"billing", "invoices, payments and refunds", {"Why was I charged twice on my credit card?"}, {}, {"small"}, "cost", 0});
    r.tasks.push_back({"code", "programming questions about software, compilers and bugs",
                       {"My Python function throws an exception", "How do I fix this segmentation fault in C++?"},
                       {"stack trace", "traceback"}, {"coder"}, "speed", 0});
    r.fallback = {"small"};
    return r;
}

} // namespace

TEST_CASE("the classifier picks the task whose description or examples the request is nearest", "[routing][classifier]") {
    int calls = 0;
    routing::classifier c(support_router(), routing_test::bag_of_words_embedder(&calls));
    CHECK(calls == 1); // every task's texts in one batch

    auto billing = c.classify("I was charged twice, I want a refund of the payment");
    CHECK(billing.route == "billing");
    CHECK(billing.nearest == "billing");
    CHECK_FALSE(billing.keyword);
    CHECK(billing.similarity >= c.threshold());

    auto code = c.classify("my python function throws an exception when I call it");
    CHECK(code.route == "code");

    SECTION("under the threshold: the fallback, with the nearest task still named") {
        auto weather = c.classify("Will it rain in Lisbon tomorrow? Also, refunds.");
        CHECK(weather.route == "fallback");
        CHECK(weather.nearest == "billing");
        CHECK(weather.similarity > 0);
        CHECK(weather.similarity < c.threshold());
    }
    SECTION("nothing in common: the fallback at similarity 0") {
        auto r = c.classify("Will it rain in Lisbon tomorrow?");
        CHECK(r.route == "fallback");
        CHECK(r.similarity == Approx(0));
    }
    SECTION("an empty text: the fallback without calling the embedder") {
        const int before = calls;
        CHECK(c.classify("").route == "fallback");
        CHECK(calls == before);
    }
}

TEST_CASE("a keyword rule wins outright, case-insensitively, without embedding", "[routing][classifier]") {
    int calls = 0;
    routing::classifier c(support_router(), routing_test::bag_of_words_embedder(&calls));
    const int after_start = calls;
    // Everything else in the text says billing.
    auto r = c.classify("Refund my invoice payment! Here is the Stack Trace of your billing page");
    CHECK(r.route == "code");
    CHECK(r.keyword);
    CHECK(r.similarity == Approx(1.0));
    CHECK(calls == after_start);
}

TEST_CASE("the classifier refuses a broken embedder at start-up and survives one per request", "[routing][classifier]") {
    SECTION("the wrong number of vectors") {
        routing::embedder short_one = [](std::span<const std::string>) { return std::vector<std::vector<float>>{{1.0f}}; };
        CHECK_THROWS_AS(routing::classifier(support_router(), short_one), std::invalid_argument);
    }
    SECTION("no embedder where tasks need one") {
        CHECK_THROWS_AS(routing::classifier(support_router(), nullptr), std::invalid_argument);
    }
    SECTION("keyword-only tasks need no embedder") {
        config::router_config r;
        r.tasks.push_back({"code", "", {}, {"traceback"}, {"coder"}, "manual", 0});
        routing::classifier c(r, nullptr);
        CHECK(c.classify("a Traceback (most recent call last)").route == "code");
        CHECK(c.classify("hello").route == "fallback");
    }
    SECTION("an embedder that throws on a request sends it to the fallback") {
        bool started = false;
        routing::embedder flaky = [&](std::span<const std::string> texts) {
            if (started) throw std::runtime_error("embedding kernel unavailable");
            started = true;
            return routing_test::bag_of_words_embedder()(texts);
        };
        routing::classifier c(support_router(), flaky);
        CHECK(c.classify("I was charged twice, refund the payment").route == "fallback");
    }
}

TEST_CASE("a row-major encoder, as kernels/embed has, serves as the embedder", "[routing][classifier]") {
    auto flat = [](std::span<const std::string_view> texts) {
        std::vector<float> out;
        for (auto t : texts) {
            auto v = routing_test::bag_of_words(t);
            out.insert(out.end(), v.begin(), v.end());
        }
        return out;
    };
    routing::classifier c(support_router(), routing::row_major_embedder(flat, routing_test::dimensions));
    CHECK(c.classify("I was charged twice, I want a refund of the payment").route == "billing");

    SECTION("a matrix of the wrong size is refused") {
        auto wrong = routing::row_major_embedder(flat, routing_test::dimensions / 2);
        CHECK_THROWS_AS(routing::classifier(support_router(), wrong), std::invalid_argument);
    }
}

TEST_CASE("routing_text is the system text and the latest user text", "[routing][classifier]") {
    core::envelope env;
    env.system.push_back({"You are a support bot.", {}});
    env.messages.push_back(core::message::user("first question about code"));
    env.messages.push_back(core::message::assistant("an answer"));
    env.messages.push_back(core::message::user("now a billing question"));
    core::message tool_turn;
    tool_turn.role = core::role::user;
    tool_turn.content.push_back(core::tool_result_part{"call_1", {core::text_part{"42", {}}}, false, {}});
    env.messages.push_back(tool_turn);
    CHECK(routing::routing_text(env) == "You are a support bot.\n\nnow a billing question");

    core::envelope bare;
    bare.messages.push_back(core::message::user("just this"));
    CHECK(routing::routing_text(bare) == "just this");
    CHECK(routing::routing_text(core::envelope{}).empty());
}

// ---------------------------------------------------------------- breaker and statistics

TEST_CASE("a breaker opens after consecutive failures, half-opens for one probe, and closes on success", "[routing][breaker]") {
    routing::breaker b; // 5 in a row, 30 s cool-down
    auto t = routing::time_point{} + 1h;
    for (int i = 0; i < 4; ++i) CHECK_FALSE(b.on_failure(t));
    CHECK(b.state(t) == routing::breaker_state::closed);
    CHECK(b.on_success(t) == false); // a success resets the run
    for (int i = 0; i < 4; ++i) CHECK_FALSE(b.on_failure(t));
    CHECK(b.on_failure(t));
    CHECK(b.state(t) == routing::breaker_state::open);
    CHECK_FALSE(b.try_acquire(t + 29s));

    t += 30s;
    CHECK(b.state(t) == routing::breaker_state::half_open);
    CHECK(b.try_acquire(t));       // the probe
    CHECK_FALSE(b.try_acquire(t)); // only one
    CHECK_FALSE(b.try_acquire(t + 29s));

    SECTION("the probe fails: open for another cool-down") {
        CHECK(b.on_failure(t + 1s));
        CHECK_FALSE(b.try_acquire(t + 30s));
        CHECK(b.try_acquire(t + 31s));
    }
    SECTION("the probe succeeds: closed") {
        CHECK(b.on_success(t + 1s));
        CHECK(b.state(t + 1s) == routing::breaker_state::closed);
        CHECK(b.try_acquire(t + 1s));
        CHECK(b.try_acquire(t + 1s));
    }
    SECTION("a probe that never reports frees its slot after probe_timeout") {
        CHECK(b.try_acquire(t + 30s));
    }
}

TEST_CASE("a breaker opens on a failure rate over its window, not on old failures", "[routing][breaker]") {
    routing::breaker_settings s;
    s.consecutive_failures = 1000; // only the rate rule
    s.failure_rate = 0.5;
    s.min_window_requests = 20;
    s.window = 60s;
    routing::breaker b(s);
    auto t = routing::time_point{} + 1h;

    SECTION("60 % failing, interleaved, trips once enough requests are in the window") {
        bool opened = false;
        int attempts = 0;
        for (int i = 0; i < 40 && !opened; ++i, t += 1s) {
            ++attempts;
            opened = (i % 5 < 3) ? b.on_failure(t) : (b.on_success(t), false);
        }
        CHECK(opened);
        CHECK(attempts >= 20);
        CHECK(b.state(t) == routing::breaker_state::open);
    }
    SECTION("40 % failing never trips") {
        for (int i = 0; i < 500; ++i, t += 1s) {
            if (i % 5 < 2)
                CHECK_FALSE(b.on_failure(t));
            else
                b.on_success(t);
        }
        CHECK(b.state(t) == routing::breaker_state::closed);
    }
    SECTION("failures older than the window are forgotten") {
        for (int i = 0; i < 15; ++i) b.on_failure(t);
        t += 2min;
        for (int i = 0; i < 5; ++i) CHECK_FALSE(b.on_failure(t)); // 5 of 5, but under 20 in the window
        for (int i = 0; i < 14; ++i) b.on_success(t);
        CHECK(b.state(t) == routing::breaker_state::closed);
    }
}

TEST_CASE("statistics keep an EWMA of time to first token and latency, and counts", "[routing][stats]") {
    routing::stats_table stats(0.5);
    const auto t = routing::time_point{} + 1h;
    CHECK_FALSE(stats.get("m").measured());
    stats.record_success("m", 100ms, 1000ms, t);
    CHECK(*stats.get("m").ttft_ms == Approx(100));
    stats.record_success("m", 300ms, 2000ms, t + 1s);
    auto s = stats.get("m");
    CHECK(*s.ttft_ms == Approx(200));
    CHECK(*s.latency_ms == Approx(1500));
    CHECK(s.successes == 2);
    CHECK(s.last_success == t + 1s);

    stats.record_failure("m", core::error_kind::timeout, t + 2s);
    stats.record_failure("m", core::error_kind::upstream, t + 3s);
    s = stats.get("m");
    CHECK(s.failures == 2);
    CHECK(s.consecutive_failures == 2);
    CHECK(s.last_failure_kind == core::error_kind::upstream);
    stats.record_success("m", 200ms, 200ms, t + 4s);
    CHECK(stats.get("m").consecutive_failures == 0);

    auto other = model("other", 1, 1);
    auto mine = model("m", 1, 1);
    std::vector<const core::model_entry*> both{&mine, &other};
    auto snap = stats.snapshot(both);
    REQUIRE(snap.find("m"));
    CHECK(snap.find("m")->successes == 3);
    REQUIRE(snap.find("other"));
    CHECK_FALSE(snap.find("other")->measured());
    CHECK(snap.find("absent") == nullptr);

    CHECK(routing::counts_against_model(core::error_kind::rate_limit));
    CHECK(routing::counts_against_model(core::error_kind::overloaded));
    CHECK_FALSE(routing::counts_against_model(core::error_kind::invalid_request));
    CHECK_FALSE(routing::counts_against_model(core::error_kind::internal));
}

TEST_CASE("a metadata rule wins outright when every pair matches the request's metadata", "[routing][classifier]") {
    auto r = support_router();
    r.tasks[0].metadata = {{"desk", "billing"}, {"tier", "gold"}};
    int calls = 0;
    routing::classifier c(r, routing_test::bag_of_words_embedder(&calls));
    const int after_start = calls;
    const std::map<std::string, std::string> both{{"desk", "billing"}, {"tier", "gold"}, {"other", "x"}};
    const std::map<std::string, std::string> one{{"desk", "billing"}};
    // The text says code; the metadata says the first task.
    auto chosen = c.classify("Here is the stack trace of my crash", &both);
    CHECK(chosen.route == r.tasks[0].name);
    CHECK(chosen.keyword);
    CHECK(calls == after_start);
    // One pair missing: the rule does not apply, and the text decides.
    CHECK(c.classify("Here is the stack trace of my crash", &one).route == "code");
}

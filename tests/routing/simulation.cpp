#include <sluice/routing/router.hpp>

#include "bag_of_words.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <thread>

// Routers driven through hours of synthetic traffic on a manual clock: each simulated request
// is routed, tried on its candidates in order as the gateway does (the next one on a failure
// that counts), and every attempt is reported back.

using namespace sluice;
using namespace std::chrono_literals;
using routing_test::model;

namespace {

using test_router = routing::router<routing::default_policies, routing::manual_clock>;
using test_router_set = routing::router_set<routing::default_policies, routing::manual_clock>;

/// What an upstream does at a moment: answers after ttft, or fails with an error kind.
struct behaviour {
    std::chrono::milliseconds ttft = 200ms;
    std::optional<core::error_kind> fails;
};

using upstream_model = std::function<behaviour(std::chrono::seconds since_start)>;

struct served {
    std::string route;
    std::string model; // empty when every candidate failed
    std::vector<std::string> attempts;
};

class simulation {
public:
    routing::manual_clock clock;
    core::catalog catalog;
    std::map<std::string, upstream_model> upstreams;

    void add(core::model_entry m, upstream_model u) {
        upstreams[m.id] = std::move(u);
        REQUIRE(catalog.add(std::move(m)));
    }

    std::chrono::seconds elapsed() const {
        return std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch());
    }

    /// One request through r: tried on its candidates in order until one answers.
    served request(test_router& r, std::string_view text = "fix this segfault in my c++ code") {
        auto d = r.route(text, 500, 200);
        served out{d.route, {}, {}};
        for (const auto* m : d.candidates) {
            out.attempts.push_back(m->id);
            auto b = upstreams.at(m->id)(elapsed());
            if (b.fails) {
                r.report(*m, routing::failure{*b.fails});
                if (!routing::counts_against_model(*b.fails)) break; // the client's fault: no failover
                continue;
            }
            r.report(*m, routing::success{b.ttft, b.ttft * 5});
            out.model = m->id;
            break;
        }
        return out;
    }

    /// requests every `every` for `how_long`; counts which model served each.
    std::map<std::string, int> run(test_router& r, std::chrono::seconds how_long, std::chrono::seconds every) {
        std::map<std::string, int> served_by;
        for (auto end = elapsed() + how_long; elapsed() < end; clock.advance(every)) served_by[request(r).model]++;
        return served_by;
    }
};

config::router_config code_router(std::string policy, std::vector<std::string> models,
                                  std::vector<std::string> fallback = {}) {
    config::router_config r;
    r.name = "eng";
    r.tasks.push_back({"code", "", {}, {"c++", "python"}, std::move(models), std::move(policy), 0});
    r.fallback = std::move(fallback);
    return r;
}

upstream_model steady(std::chrono::milliseconds ttft) {
    return [ttft](std::chrono::seconds) { return behaviour{ttft, {}}; };
}

} // namespace

TEST_CASE("speed leaves a model that slows down, measures it at the exploration rate, and returns when it recovers",
          "[routing][simulation]") {
    simulation sim;
    // coder-a is the fastest, except from hour 1 to hour 4, when it takes 2 s to the first token.
    sim.add(model("coder-a", 1, 1), [](std::chrono::seconds t) {
        return behaviour{t >= 1h && t < 4h ? 2000ms : 150ms, {}};
    });
    sim.add(model("coder-b", 1, 1), steady(300ms));
    sim.add(model("coder-c", 1, 1), steady(450ms));
    test_router r(code_router("speed", {"coder-a", "coder-b", "coder-c"}), sim.catalog, nullptr,
                  std::make_shared<routing::model_health>(), sim.clock, 7);

    const auto every = 2s; // 1,800 requests an hour
    auto hour1 = sim.run(r, 1h, every);
    CHECK(hour1["coder-a"] > 1800 * 90 / 100);
    CHECK(hour1[""] == 0);
    // The others were measured (by exploration) so that speed knows them.
    CHECK(r.health().stats.get("coder-b").measured());
    CHECK(r.health().stats.get("coder-c").measured());

    auto slow_first_minutes = sim.run(r, 5min, every);
    CHECK(slow_first_minutes["coder-b"] > 150 * 80 / 100); // moved away at once

    sim.run(r, 55min + 1h, every);
    auto hour3 = sim.run(r, 1h, every);
    // coder-a is now tried only as an exploration probe: it shares the 5 % with coder-c.
    CHECK(hour3["coder-b"] > 1800 * 90 / 100);
    CHECK(hour3["coder-a"] > 5);
    CHECK(hour3["coder-a"] < 1800 * 8 / 100);
    CHECK(*r.health().stats.get("coder-a").ttft_ms > 1000);

    auto hour4 = sim.run(r, 1h, every); // coder-a is fast again; exploration finds out
    auto hour5 = sim.run(r, 1h, every);
    CHECK(hour4["coder-a"] > hour3["coder-a"]);
    CHECK(hour5["coder-a"] > 1800 * 90 / 100);
    CHECK(*r.health().stats.get("coder-a").ttft_ms < 300);
}

TEST_CASE("cost takes a cheaper model once the config adds it", "[routing][simulation]") {
    simulation sim;
    sim.add(model("small", 1.0, 4.0), steady(300ms));
    sim.add(model("big", 5.0, 15.0), steady(200ms));
    sim.add(model("tiny", 0.1, 0.4), steady(400ms));

    test_router before(code_router("cost", {"big", "small"}, {"big"}), sim.catalog, nullptr, nullptr, sim.clock, 1);
    auto d = before.route("python question", 500, 200);
    CHECK(d.route == "code");
    REQUIRE(d.candidates.size() == 2);
    CHECK(d.candidates[0]->id == "small");
    CHECK(d.candidates[1]->id == "big"); // the fallback's big is already there: not twice
    CHECK(sim.run(before, 1h, 10s)["small"] == 360);

    test_router after(code_router("cost", {"big", "small", "tiny"}, {"big"}), sim.catalog, nullptr, nullptr, sim.clock, 1);
    CHECK(sim.run(after, 1h, 10s)["tiny"] == 360);
    d = after.route("python question", 500, 200);
    REQUIRE(d.candidates.size() == 3);
    CHECK(d.candidates[0]->id == "tiny");
    CHECK(d.candidates[1]->id == "small");
    CHECK(d.candidates[2]->id == "big");
}

TEST_CASE("a failing model's breaker opens, the router skips it, probes after the cool-down, and closes", "[routing][simulation]") {
    simulation sim;
    // primary fails with 502s from minute 10 to minute 20.
    sim.add(model("primary", 1, 1), [](std::chrono::seconds t) {
        return t >= 10min && t < 20min ? behaviour{0ms, core::error_kind::upstream} : behaviour{200ms, {}};
    });
    sim.add(model("secondary", 1, 1), steady(300ms));
    sim.add(model("spare", 1, 1), steady(500ms));
    test_router r(code_router("manual", {"primary", "secondary"}, {"spare"}), sim.catalog, nullptr, nullptr, sim.clock, 3);
    auto& breakers = r.health().breakers;

    auto calm = sim.run(r, 10min, 1s);
    CHECK(calm["primary"] == 600);

    int tried_primary = 0, unserved = 0, first_skip_at = -1;
    for (int i = 0; i < 600; ++i, sim.clock.advance(1s)) {
        auto s = sim.request(r);
        if (s.model.empty()) ++unserved;
        CHECK(s.model != "primary");
        const bool tried = std::find(s.attempts.begin(), s.attempts.end(), "primary") != s.attempts.end();
        tried_primary += tried;
        if (!tried && first_skip_at < 0) first_skip_at = i;
    }
    CHECK(unserved == 0);     // failover served every request
    CHECK(first_skip_at == 5); // open after five failures in a row
    // Five failures, then one probe per 30 s cool-down: 19 more in the remaining 595 s.
    CHECK(tried_primary >= 5 + 17);
    CHECK(tried_primary <= 5 + 21);
    CHECK(breakers.state("primary", sim.clock.now()) != routing::breaker_state::closed);
    CHECK(r.health().stats.get("primary").failures == std::uint64_t(tried_primary));

    // primary is healthy again: the next probe closes it, within one cool-down.
    auto recovered = sim.run(r, 1min, 1s);
    CHECK(recovered["primary"] >= 29);
    CHECK(breakers.state("primary", sim.clock.now()) == routing::breaker_state::closed);
    auto after = sim.run(r, 10min, 1s);
    CHECK(after["primary"] == 600);
}

TEST_CASE("when every breaker is open the router tries them all anyway, in order", "[routing][simulation]") {
    simulation sim;
    sim.add(model("a", 1, 1), steady(100ms));
    sim.add(model("b", 1, 1), steady(100ms));
    test_router r(code_router("manual", {"a"}, {"b"}), sim.catalog, nullptr, nullptr, sim.clock, 3);
    for (const auto* id : {"a", "b"})
        for (int i = 0; i < 5; ++i) r.report(*sim.catalog.find(id), routing::failure{core::error_kind::timeout});
    auto d = r.route("python", 10, 10);
    REQUIRE(d.candidates.size() == 2);
    CHECK(d.candidates[0]->id == "a");
    CHECK(d.candidates[1]->id == "b");

    SECTION("with one open, the other alone") {
        sim.clock.advance(31s);
        r.report(*sim.catalog.find("b"), routing::success{100ms, 200ms}); // b closes
        auto one = r.route("python", 10, 10);
        // a is half-open now: it gets the probe, ahead of b as configured.
        REQUIRE(one.candidates.size() == 2);
        auto next = r.route("python", 10, 10); // the probe is taken: a is skipped
        REQUIRE(next.candidates.size() == 1);
        CHECK(next.candidates[0]->id == "b");
    }
}

TEST_CASE("only failures that say something about the model count", "[routing][simulation]") {
    simulation sim;
    sim.add(model("a", 1, 1), steady(100ms));
    test_router r(code_router("manual", {"a"}), sim.catalog, nullptr, nullptr, sim.clock, 3);
    const auto& a = *sim.catalog.find("a");
    for (int i = 0; i < 50; ++i) {
        r.report(a, routing::failure{core::error_kind::invalid_request});
        r.report(a, routing::failure{core::error_kind::authentication});
        r.report(a, routing::failure{core::error_kind::internal});
    }
    CHECK(r.health().breakers.state("a", sim.clock.now()) == routing::breaker_state::closed);
    CHECK(r.health().stats.get("a").failures == 0);
    for (int i = 0; i < 5; ++i) r.report(a, routing::failure{core::error_kind::rate_limit});
    CHECK(r.health().breakers.state("a", sim.clock.now()) == routing::breaker_state::open);
    CHECK(r.health().stats.get("a").failures == 5);
}

TEST_CASE("a router classifies the envelope and routes to the task's models, then the fallback", "[routing][router]") {
    simulation sim;
    sim.add(model("small-model", 0.5, 1.5), steady(300ms));
    sim.add(model("big-model", 3.0, 15.0), steady(200ms));
    sim.add(model("coder-a", 2.0, 8.0), steady(100ms));
    sim.add(model("coder-b", 1.0, 2.0), steady(100ms));

    config::router_config cfg;
    cfg.name = "support";
    cfg.tasks.push_back({"billing", "invoices, payments and refunds", {"Why was I charged twice?"}, {},
                         {"big-model", "small-model"}, "cost", 0});
    cfg.tasks.push_back({"code", "programming questions about software and bugs",
                         {"My python function throws an exception"}, {}, {"coder-a", "coder-b"}, "manual", 0});
    cfg.fallback = {"small-model"};
    std::vector<config::router_config> configs{cfg};
    configs.push_back(code_router("manual", {"coder-b"}));

    test_router_set routers(configs, sim.catalog, routing_test::bag_of_words_embedder(), sim.clock);
    REQUIRE(routers.size() == 2);
    auto* support = routers.for_model("router:support");
    REQUIRE(support);
    CHECK(support == routers.find("support"));
    CHECK(routers.find("eng"));
    CHECK(routers.find("nope") == nullptr);
    CHECK(routers.for_model("support") == nullptr);
    CHECK(test_router_set::router_name("router:eng") == std::optional<std::string_view>("eng"));
    CHECK_FALSE(test_router_set::router_name("gpt-4o"));

    core::envelope env;
    env.model = "router:support";
    env.system.push_back({"You answer customers.", {}});
    env.messages.push_back(core::message::user("I was charged twice for one invoice, please refund the payment"));

    auto d = support->route(env);
    CHECK(d.route == "billing");
    CHECK(d.similarity > 0.25);
    REQUIRE(d.candidates.size() == 2);
    CHECK(d.candidates[0]->id == "small-model"); // cost: the cheaper first
    CHECK(d.candidates[1]->id == "big-model");   // the fallback's small-model is not repeated

    env.messages.back() = core::message::user("my python function throws an exception");
    d = support->route(env);
    CHECK(d.route == "code");
    REQUIRE(d.candidates.size() == 3);
    CHECK(d.candidates[0]->id == "coder-a");
    CHECK(d.candidates[1]->id == "coder-b");
    CHECK(d.candidates[2]->id == "small-model");

    env.messages.back() = core::message::user("will it rain in Lisbon tomorrow?");
    d = support->route(env);
    CHECK(d.route == "fallback");
    REQUIRE(d.candidates.size() == 1);
    CHECK(d.candidates[0]->id == "small-model");

    SECTION("routers share the models' health") {
        auto* eng = routers.find("eng");
        for (int i = 0; i < 5; ++i) eng->report(*sim.catalog.find("coder-b"), routing::failure{core::error_kind::overloaded});
        env.messages.back() = core::message::user("my python function throws an exception");
        d = support->route(env);
        REQUIRE(d.candidates.size() == 2);
        CHECK(d.candidates[0]->id == "coder-a");
        CHECK(d.candidates[1]->id == "small-model");
    }
    SECTION("without fallback models the nearest task serves") {
        auto no_fallback = cfg;
        no_fallback.fallback.clear();
        test_router r(no_fallback, sim.catalog, routing_test::bag_of_words_embedder(), nullptr, sim.clock, 1);
        env.messages.back() = core::message::user("will it rain on my refunds tomorrow?");
        d = r.route(env);
        CHECK(d.route == "billing");
        CHECK(d.similarity < 0.25);
    }
}

namespace {

/// A policy that drops every model but the last: the router keeps what a policy returns.
struct last_only {
    static constexpr std::string_view name = "last-only";
    routing::ranking rank(const routing::selection_input& in) const { return {in.models.back()}; }
};

} // namespace

TEST_CASE("a router runs a team's own policy from its policy_set", "[routing][router]") {
    using set = routing::policy_set<routing::manual, last_only>;
    simulation sim;
    sim.add(model("a", 1, 1), steady(100ms));
    sim.add(model("b", 1, 1), steady(100ms));
    sim.add(model("c", 1, 1), steady(100ms));
    routing::router<set, routing::manual_clock> r(code_router("last-only", {"a", "b"}, {"c"}), sim.catalog, nullptr,
                                                  nullptr, sim.clock, 1);
    auto d = r.route("python", 1, 1);
    REQUIRE(d.candidates.size() == 2);
    CHECK(d.candidates[0]->id == "b");
    CHECK(d.candidates[1]->id == "c");

    CHECK_THROWS_AS((routing::router<set, routing::manual_clock>(code_router("cost", {"a"}), sim.catalog, nullptr)),
                    std::invalid_argument);
    CHECK_THROWS_AS((test_router(code_router("manual", {"not-in-catalog"}), sim.catalog, nullptr)), std::invalid_argument);
}

TEST_CASE("a router is safe to share between threads", "[routing][router]") {
    simulation sim;
    sim.add(model("a", 1, 1), steady(100ms));
    sim.add(model("b", 2, 2), steady(100ms));
    test_router r(code_router("speed", {"a", "b"}), sim.catalog, nullptr, nullptr, sim.clock, 5);
    constexpr int threads = 4, per_thread = 2000;
    std::vector<std::thread> pool;
    std::atomic<int> empty{0};
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                auto d = r.route("python", 100, 100);
                if (d.candidates.empty()) {
                    ++empty;
                    continue;
                }
                if ((i + t) % 7 == 0)
                    r.report(*d.candidates.front(), routing::failure{core::error_kind::timeout});
                else
                    r.report(*d.candidates.front(), routing::success{std::chrono::milliseconds(100 + i % 50), 1s});
                sim.clock.advance(1ms);
            }
        });
    for (auto& th : pool) th.join();
    CHECK(empty == 0);
    const auto a = r.health().stats.get("a"), b = r.health().stats.get("b");
    CHECK(a.successes + a.failures + b.successes + b.failures == std::uint64_t(threads * per_thread));
}

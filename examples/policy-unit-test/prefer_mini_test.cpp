// Testing a routing policy: build the input a router would hand it, call rank, check the order.
// No network, no gateway, no model.
#include "prefer_mini.hpp"

#include <sluice/routing/router.hpp>

#include <catch2/catch.hpp>

using namespace sluice;

namespace {

core::model_entry model(std::string id) {
    core::model_entry m;
    m.id = std::move(id);
    return m;
}

std::vector<std::string> ranked(const acme::prefer_mini& p, std::vector<const core::model_entry*> models,
                                std::uint64_t prompt_tokens) {
    routing::stats_snapshot stats; // this policy reads no statistics
    routing::random_source random(1);
    routing::selection_input in{"chat", models, prompt_tokens, 256, stats, random};
    std::vector<std::string> ids;
    for (const auto* m : p.rank(in)) ids.push_back(m->id);
    return ids;
}

} // namespace

TEST_CASE("prefer-mini puts mini models first, unless the prompt is long", "[example]") {
    auto big = model("gpt-4.1"), mini = model("gpt-4.1-mini"), other = model("llama-70b");
    std::vector<const core::model_entry*> models{&big, &mini, &other};
    acme::prefer_mini p;

    CHECK(ranked(p, models, 500) == std::vector<std::string>{"gpt-4.1-mini", "gpt-4.1", "llama-70b"});
    CHECK(ranked(p, models, 20'000) == std::vector<std::string>{"gpt-4.1", "llama-70b", "gpt-4.1-mini"});
}

TEST_CASE("a router config can name prefer-mini", "[example]") {
    core::catalog catalog;
    catalog.add(model("gpt-4.1"));
    catalog.add(model("gpt-4.1-mini"));

    config::router_config cfg;
    cfg.name = "chat";
    cfg.tasks.push_back({"chat", "", {}, {"hello"}, {"gpt-4.1", "gpt-4.1-mini"}, "prefer-mini", 0});
    routing::router<acme::policies, routing::manual_clock> router(cfg, catalog, nullptr);

    auto d = router.route("hello there", 100, 100);
    CHECK(d.route == "chat");
    REQUIRE(d.candidates.size() == 2);
    CHECK(d.candidates[0]->id == "gpt-4.1-mini");
}

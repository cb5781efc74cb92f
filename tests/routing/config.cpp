#include <sluice/config/routers.hpp>

#include <sluice/routing/policies.hpp>

#include <catch2/catch.hpp>

#include <set>

using namespace sluice::config;

namespace {

const std::set<std::string, std::less<>> catalog_ids{"small-model", "big-model", "coder-a", "coder-b", "coder-c", "coder-d"};

std::vector<router_config> read(const std::string& yaml) {
    auto doc = std::make_shared<const document>(
        document{"gw.yaml", {}, [](std::string_view) -> std::optional<std::string> { return std::string("cost"); }});
    auto root = node(YAML::Load(yaml), "", doc);
    auto m = root.as_mapping({"routers"});
    auto routers = m.find("routers");
    if (!routers) return {};
    return read_routers(*routers, [](std::string_view id) { return catalog_ids.contains(id); },
                        sluice::routing::default_policies::names);
}

config_error error_of(const std::string& yaml) {
    try {
        read(yaml);
    } catch (const config_error& e) { return e; }
    FAIL("the routers loaded without an error");
    throw std::logic_error("unreachable");
}

} // namespace

TEST_CASE("the issue's routers section reads to its values", "[routing][config]") {
    auto routers = read(R"(routers:
  - name: support
    tasks:
      - {name: billing, description: "invoices, payments and refunds", examples: ["Why was I charged twice?"], models: [small-model, big-model], policy: cost}
      - {name: code, description: "programming questions", models: [coder-a, coder-b, coder-c], policy: speed}
    fallback: [small-model]
)");
    REQUIRE(routers.size() == 1);
    const auto& r = routers[0];
    CHECK(r.name == "support");
    CHECK(r.line == 2);
    CHECK(r.threshold == Approx(0.25));
    CHECK(r.exploration == Approx(0.05));
    CHECK(r.fallback == std::vector<std::string>{"small-model"});
    REQUIRE(r.tasks.size() == 2);
    CHECK(r.tasks[0].name == "billing");
    CHECK(r.tasks[0].description == "invoices, payments and refunds");
    CHECK(r.tasks[0].examples == std::vector<std::string>{"Why was I charged twice?"});
    CHECK(r.tasks[0].models == std::vector<std::string>{"small-model", "big-model"});
    CHECK(r.tasks[0].policy == "cost");
    CHECK(r.tasks[0].line == 4);
    CHECK(r.tasks[1].models.size() == 3);
    CHECK(r.tasks[1].policy == "speed");
    CHECK(r.find_task("code") == &r.tasks[1]);
    CHECK(r.find_task("nope") == nullptr);
    CHECK(r.optimal.quality.empty());
    CHECK(r.optimal.weights.quality == Approx(0.6));
}

TEST_CASE("every optional router key reads, ${VAR}s expanded", "[routing][config]") {
    auto routers = read(R"(routers:
  - name: eng
    threshold: 0.4
    exploration: 0.1
    tasks:
      - name: code
        keywords: [stack trace, "segfault"]
        models: [coder-a, coder-b]
        policy: ${POLICY}
    optimal:
      quality:
        code: {coder-a: 0.9, coder-b: 0.7}
        "*": {small-model: 0.5}
      weights: {quality: 1, cost: 0.5, latency: 0}
  - name: cheap
    fallback: [small-model, big-model]
)");
    REQUIRE(routers.size() == 2);
    const auto& eng = routers[0];
    CHECK(eng.threshold == Approx(0.4));
    CHECK(eng.exploration == Approx(0.1));
    CHECK(eng.tasks[0].keywords == std::vector<std::string>{"stack trace", "segfault"});
    CHECK(eng.tasks[0].policy == "cost");
    CHECK(eng.optimal.quality.at("code").at("coder-a") == Approx(0.9));
    CHECK(eng.optimal.quality.at("*").at("small-model") == Approx(0.5));
    CHECK(eng.optimal.weights.quality == Approx(1));
    CHECK(eng.optimal.weights.cost == Approx(0.5));
    CHECK(eng.optimal.weights.latency == Approx(0));
    CHECK(routers[1].tasks.empty());
    CHECK(routers[1].fallback == std::vector<std::string>{"small-model", "big-model"});
}

TEST_CASE("an absent or empty routers section is no routers", "[routing][config]") {
    CHECK(read("routers:\n").empty());
    CHECK(read("{}").empty());
}

TEST_CASE("a broken routers section is refused at its file, line and key", "[routing][config]") {
    const std::string head = "routers:\n  - name: support\n    tasks:\n";
    auto task = [&](const std::string& body) { return head + "      - " + body + "\n"; };

    SECTION("the section is a list") {
        auto e = error_of("routers: {support: {}}\n");
        CHECK(e.key() == "routers");
        CHECK(e.message() == "expected a list, got a mapping");
    }
    SECTION("an unknown router key, with a suggestion") {
        auto e = error_of("routers:\n  - name: support\n    fallbak: [small-model]\n");
        CHECK(e.line() == 3);
        CHECK(e.column() == 5);
        CHECK(e.key() == "routers[0].fallbak");
        CHECK(e.message() == "unknown key 'fallbak', did you mean 'fallback'?");
    }
    SECTION("an unknown task key") {
        auto e = error_of(task("{name: a, description: x, models: [coder-a], policy: cost, modles: [x]}"));
        CHECK(e.key() == "routers[0].tasks[0].modles");
        CHECK(e.message() == "unknown key 'modles', did you mean 'models'?");
    }
    SECTION("an unknown model names its router and task") {
        auto e = error_of(task("{name: code, description: x, models: [coder-a, coder-z], policy: cost}"));
        CHECK(e.line() == 4);
        CHECK(e.key() == "routers[0].tasks[0].models[1]");
        CHECK(e.message() == "unknown model 'coder-z' (not in models:) in router 'support', task 'code'");
        CHECK(std::string(e.what()) ==
              "gw.yaml:4:56: routers[0].tasks[0].models[1]: unknown model 'coder-z' (not in models:) in router "
              "'support', task 'code'");
    }
    SECTION("more than three models in a task") {
        auto e = error_of(task("{name: code, description: x, models: [coder-a, coder-b, coder-c, coder-d], policy: cost}"));
        CHECK(e.key() == "routers[0].tasks[0].models");
        CHECK(e.message() == "at most 3 models in router 'support', task 'code', got 4");
    }
    SECTION("a task with no models") {
        auto e = error_of(task("{name: code, description: x, models: [], policy: cost}"));
        CHECK(e.message() == "name at least one model in router 'support', task 'code'");
    }
    SECTION("a model twice in a task") {
        auto e = error_of(task("{name: code, description: x, models: [coder-a, coder-a], policy: cost}"));
        CHECK(e.key() == "routers[0].tasks[0].models[1]");
        CHECK(e.message() == "model 'coder-a' is listed twice in router 'support', task 'code'");
    }
    SECTION("an unknown policy, with a suggestion") {
        auto e = error_of(task("{name: code, description: x, models: [coder-a], policy: cots}"));
        CHECK(e.key() == "routers[0].tasks[0].policy");
        CHECK(e.message() == "unknown policy 'cots' in router 'support', task 'code', did you mean 'cost'?");
    }
    SECTION("an unknown policy far from any") {
        auto e = error_of(task("{name: code, description: x, models: [coder-a], policy: cheapest-please}"));
        CHECK(e.message() == "unknown policy 'cheapest-please' in router 'support', task 'code' (known policies: "
                             "cost, speed, manual, optimal)");
    }
    SECTION("a task without a policy") {
        auto e = error_of(task("{name: code, description: x, models: [coder-a]}"));
        CHECK(e.key() == "routers[0].tasks[0].policy");
        CHECK(e.message() == "required key is missing");
    }
    SECTION("a task with nothing to recognise it by") {
        auto e = error_of(task("{name: code, models: [coder-a], policy: cost}"));
        CHECK(e.key() == "routers[0].tasks[0]");
        CHECK(e.message() == "a task needs a description, examples, keywords or metadata to be recognised in router 'support', task 'code'");
    }
    SECTION("duplicate task names") {
        auto e = error_of(head + "      - {name: code, description: x, models: [coder-a], policy: cost}\n"
                                 "      - {name: code, description: y, models: [coder-b], policy: cost}\n");
        CHECK(e.line() == 5);
        CHECK(e.key() == "routers[0].tasks[1].name");
        CHECK(e.message() == "duplicate task name 'code' in router 'support' (first at line 4)");
    }
    SECTION("a task called fallback") {
        auto e = error_of(task("{name: fallback, description: x, models: [coder-a], policy: cost}"));
        CHECK(e.key() == "routers[0].tasks[0].name");
    }
    SECTION("duplicate router names") {
        auto e = error_of("routers:\n  - {name: a, fallback: [small-model]}\n  - {name: a, fallback: [big-model]}\n");
        CHECK(e.key() == "routers[1].name");
        CHECK(e.message() == "duplicate router name 'a' (first at line 2)");
    }
    SECTION("a router with no tasks and no fallback") {
        auto e = error_of("routers:\n  - name: empty\n");
        CHECK(e.key() == "routers[0]");
        CHECK(e.message() == "router 'empty' has no tasks and no fallback: give it tasks, fallback models, or both");
    }
    SECTION("a router name clients could not write") {
        auto e = error_of("routers:\n  - {name: my router, fallback: [small-model]}\n");
        CHECK(e.key() == "routers[0].name");
        CHECK(e.message() == "a router name is letters, digits and - _ . /, got 'my router'");
    }
    SECTION("an unknown fallback model") {
        auto e = error_of("routers:\n  - {name: a, fallback: [small-model, tiny-model]}\n");
        CHECK(e.key() == "routers[0].fallback[1]");
        CHECK(e.message() == "unknown model 'tiny-model' (not in models:) in router 'a'");
    }
    SECTION("a threshold over 1") {
        auto e = error_of("routers:\n  - {name: a, fallback: [small-model], threshold: 1.5}\n");
        CHECK(e.key() == "routers[0].threshold");
        CHECK(e.message() == "expected a number from 0 to 1, got '1.5'");
    }
    SECTION("a quality table for a task the router lacks") {
        auto e = error_of(task("{name: code, description: x, models: [coder-a], policy: optimal}") +
                          "    optimal: {quality: {cdoe: {coder-a: 0.9}}}\n");
        CHECK(e.key() == "routers[0].optimal.quality.cdoe");
        CHECK(e.message() == "unknown task 'cdoe' in router 'support', did you mean 'code'?");
    }
    SECTION("a quality score out of range") {
        auto e = error_of(task("{name: code, description: x, models: [coder-a], policy: optimal}") +
                          "    optimal: {quality: {code: {coder-a: 9}}}\n");
        CHECK(e.key() == "routers[0].optimal.quality.code.coder-a");
        CHECK(e.message() == "expected a number from 0 to 1, got '9'");
    }
    SECTION("all weights zero") {
        auto e = error_of(task("{name: code, description: x, models: [coder-a], policy: optimal}") +
                          "    optimal: {weights: {quality: 0, cost: 0, latency: 0}}\n");
        CHECK(e.key() == "routers[0].optimal.weights");
        CHECK(e.message() == "at least one weight must be above zero");
    }
}

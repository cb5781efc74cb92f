#include <sluice/config/node.hpp>

#include <catch2/catch.hpp>

#include <map>

using namespace sluice::config;
using namespace std::chrono_literals;

namespace {

env_lookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

node root_of(const std::string& yaml, std::map<std::string, std::string> vars = {},
             std::filesystem::path base_dir = {}) {
    auto doc =
        std::make_shared<const document>(document{"test.yaml", std::move(base_dir), env_of(std::move(vars))});
    return node(YAML::Load(yaml), "", doc);
}

/// The config_error that f throws; fails the test when it throws none.
template <class F>
config_error error_of(F&& f) {
    try {
        f();
    } catch (const config_error& e) { return e; }
    FAIL("no config_error was thrown");
    throw std::logic_error("unreachable");
}

} // namespace

TEST_CASE("node reads typed scalars after ${VAR} expansion", "[config]") {
    auto root =
        root_of("s: hello\nn: ${N:-42}\nb: true\nf: false\nx: 0.25\nd: 1500ms\nz: 16MiB\nq: \"${N}\"\n",
                {{"N", "7"}});
    auto m = root.as_mapping({"s", "n", "b", "f", "x", "d", "z", "q"});
    CHECK(m.required("s").as_string() == "hello");
    CHECK(m.required("n").as_integer(1, 10) == 7);
    CHECK(m.required("q").as_integer() == 7);
    CHECK(m.required("b").as_bool());
    CHECK_FALSE(m.required("f").as_bool());
    CHECK(m.required("x").as_number(0) == 0.25);
    CHECK(m.required("d").as_duration() == 1500ms);
    CHECK(m.required("z").as_size() == 16u << 20);
}

TEST_CASE("node errors name the line, column, key path and the expected type", "[config]") {
    auto root = root_of("a:\n  b: [1, yes]\n  c: 10 s\n  d: '0'\n  e: 5GiB\n  f: 1.5\n  g: {x: 1}\n");
    auto a = root.as_mapping({"a"}).required("a").as_mapping({"b", "c", "d", "e", "f", "g"});
    SECTION("a strict boolean, inside a list") {
        auto items = a.required("b").items();
        auto e = error_of([&] { items[1].as_bool(); });
        CHECK(e.line() == 2);
        CHECK(e.column() == 10);
        CHECK(e.key() == "a.b[1]");
        CHECK(e.message() == "expected true or false, got 'yes'");
    }
    SECTION("a duration") {
        auto e = error_of([&] { a.required("c").as_duration(); });
        CHECK(e.line() == 3);
        CHECK(e.key() == "a.c");
        CHECK(e.message() == "expected a duration like 10s or 500ms (units: ms, s, m, h), got '10 s'");
    }
    SECTION("a zero duration where zero means nothing") {
        CHECK(error_of([&] { a.required("d").as_duration(); }).message() == "must be longer than zero");
        CHECK(a.required("d").as_duration(true) == 0ms);
    }
    SECTION("a size over its limit") {
        CHECK(error_of([&] { a.required("e").as_size(1ull << 30); }).message() == "must be at most 1GiB");
    }
    SECTION("an integer range") {
        CHECK(error_of([&] { a.required("f").as_integer(1, 1024); }).message() ==
              "expected an integer from 1 to 1024, got '1.5'");
        CHECK(error_of([&] { a.required("d").as_integer(1); }).message() ==
              "expected a positive integer, got '0'");
    }
    SECTION("a mapping where a scalar belongs") {
        auto e = error_of([&] { a.required("g").as_string(); });
        CHECK(e.message() == "expected a string, got a mapping");
        CHECK(e.line() == 7);
    }
    SECTION("a scalar where a list belongs") {
        CHECK(error_of([&] { a.required("c").items(); }).message() == "expected a list, got '10 s'");
    }
}

TEST_CASE("node refuses unknown and duplicate keys", "[config]") {
    SECTION("an unknown key gets the nearest known one, at the key's own place") {
        auto root = root_of("name: x\n  \nbase_ur: y\n");
        auto e = error_of([&] { root.as_mapping({"name", "base_url"}); });
        CHECK(e.line() == 3);
        CHECK(e.column() == 1);
        CHECK(e.key() == "base_ur");
        CHECK(e.message() == "unknown key 'base_ur', did you mean 'base_url'?");
    }
    SECTION("a key near none lists the known keys") {
        auto root = root_of("outer:\n  colour: red\n");
        auto outer = root.as_mapping({"outer"}).required("outer");
        auto e = error_of([&] { outer.as_mapping({"name", "base_url"}); });
        CHECK(e.key() == "outer.colour");
        CHECK(e.line() == 2);
        CHECK(e.column() == 3);
        CHECK(e.message() == "unknown key 'colour' (known keys: name, base_url)");
    }
    SECTION("a key given twice names the first line") {
        auto root = root_of("a: 1\nb: 2\na: 3\n");
        auto e = error_of([&] { root.as_mapping({"a", "b"}); });
        CHECK(e.line() == 3);
        CHECK(e.key() == "a");
        CHECK(e.message() == "duplicate key (first at line 1)");
    }
}

TEST_CASE("mapping tells absent, null and required keys apart", "[config]") {
    auto root = root_of("top:\n  present: 1\n  empty:\n  tilde: ~\n");
    auto top = root.as_mapping({"top"}).required("top").as_mapping({"present", "empty", "tilde", "missing"});
    CHECK(top.find("present").has_value());
    CHECK_FALSE(top.find("empty").has_value());
    CHECK_FALSE(top.find("tilde").has_value());
    CHECK_FALSE(top.find("missing").has_value());
    SECTION("a missing required key is named, at its mapping") {
        auto e = error_of([&] { top.required("missing"); });
        CHECK(e.key() == "top.missing");
        CHECK(e.line() == 2);
        CHECK(e.message() == "required key is missing");
    }
    SECTION("a required key without a value points at the key") {
        auto e = error_of([&] { top.required("empty"); });
        CHECK(e.key() == "top.empty");
        CHECK(e.line() == 3);
        CHECK(e.column() == 3);
        CHECK(e.message() == "a value is required");
    }
    SECTION("a null mapping reads as an empty one") {
        auto r = root_of("server:\n");
        auto server = r.as_mapping({"server"}).entries().front().value;
        CHECK(server.as_mapping({"x"}).entries().empty());
    }
}

TEST_CASE("node never shows a value that came from the environment", "[config]") {
    auto root = root_of("threads: ${THREADS}\nkey: ${MISSING}\n", {{"THREADS", "sk-secret-abc"}});
    auto m = root.as_mapping({"threads", "key"});
    auto e = error_of([&] { m.required("threads").as_integer(1, 1024); });
    CHECK(e.message() == "expected an integer from 1 to 1024, got '${THREADS}'");
    CHECK(std::string(e.what()).find("sk-secret") == std::string::npos);
    auto unset = error_of([&] { m.required("key").as_string(); });
    CHECK(unset.key() == "key");
    CHECK(unset.line() == 2);
    CHECK_THAT(unset.message(), Catch::StartsWith("environment variable MISSING is not set"));
}

TEST_CASE("node resolves relative paths from the config file's folder", "[config]") {
    auto root = root_of("rel: certs/a.pem\nabs: /etc/a.pem\nup: ../x/./b.pem\n", {}, "/srv/gw");
    auto m = root.as_mapping({"rel", "abs", "up"});
    CHECK(m.required("rel").as_path() == "/srv/gw/certs/a.pem");
    CHECK(m.required("abs").as_path() == "/etc/a.pem");
    CHECK(m.required("up").as_path() == "/srv/x/b.pem");
    auto missing = error_of([&] { m.required("rel").as_existing_file(); });
    CHECK(missing.message() == "no such file: /srv/gw/certs/a.pem");
}

TEST_CASE("as_free_mapping keeps any keys in file order", "[config]") {
    auto root = root_of("h: {X-B: 2, X-A: 1}\n");
    auto entries = root.as_mapping({"h"}).required("h").as_free_mapping();
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].first == "X-B");
    CHECK(entries[1].first == "X-A");
    CHECK(entries[1].second.as_string() == "1");
    CHECK(entries[1].second.key() == "h.X-A");
}

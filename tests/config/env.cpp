#include <sluice/config/env.hpp>

#include <catch2/catch.hpp>

#include <map>

using namespace sluice::config;

namespace {
env_lookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}
} // namespace

TEST_CASE("expand_env replaces ${VAR} with the variable's value", "[config]") {
    auto env = env_of({{"KEY", "sk-secret"}, {"HOST", "example.com"}, {"EMPTY", ""}});
    SECTION("the whole text") { CHECK(expand_env("${KEY}", env).text == "sk-secret"); }
    SECTION("inside text, more than once") {
        CHECK(expand_env("https://${HOST}/v1?k=${KEY}", env).text == "https://example.com/v1?k=sk-secret");
    }
    SECTION("a set but empty variable is empty") { CHECK(expand_env("[${EMPTY}]", env).text == "[]"); }
    SECTION("text without a reference is unchanged, a lone $ included") {
        CHECK(expand_env("price: $5 {x}", env).text == "price: $5 {x}");
        CHECK(expand_env("$", env).text == "$");
        CHECK(expand_env("$$", env).text == "$$");
    }
}

TEST_CASE("expand_env uses ${VAR:-default} when VAR is unset or empty", "[config]") {
    auto env = env_of({{"SET", "value"}, {"EMPTY", ""}});
    CHECK(expand_env("${UNSET:-2}", env).text == "2");
    CHECK(expand_env("${EMPTY:-fallback}", env).text == "fallback");
    CHECK(expand_env("${SET:-fallback}", env).text == "value");
    CHECK(expand_env("${UNSET:-}", env).text.empty());
    CHECK(expand_env("${UNSET:-a b:c}", env).text == "a b:c");
    CHECK(expand_env("${UNSET:-}", env).ok());
}

TEST_CASE("expand_env reads $${ as a literal ${", "[config]") {
    auto env = env_of({{"X", "x"}});
    CHECK(expand_env("$${X}", env).text == "${X}");
    CHECK(expand_env("a$${b}${X}", env).text == "a${b}x");
}

TEST_CASE("expand_env names an unset variable and never shows a value", "[config]") {
    auto env = env_of({{"OTHER", "sk-secret"}});
    SECTION("unset without a default") {
        auto r = expand_env("Bearer ${OPENAI_API_KEY}", env);
        CHECK_FALSE(r.ok());
        CHECK(r.error ==
              "environment variable OPENAI_API_KEY is not set (write ${OPENAI_API_KEY:-} to allow it "
              "to be empty)");
    }
    SECTION("an error later in the text does not carry the value substituted before it") {
        auto r = expand_env("${OTHER}${MISSING}", env);
        CHECK_FALSE(r.ok());
        CHECK(r.error.find("sk-secret") == std::string::npos);
    }
    SECTION("malformed references") {
        CHECK_THAT(expand_env("${UNCLOSED", env).error, Catch::Contains("unterminated"));
        CHECK_THAT(expand_env("${}", env).error, Catch::Contains("not a valid environment variable"));
        CHECK_THAT(expand_env("${1ABC}", env).error, Catch::Contains("not a valid environment variable"));
        CHECK_THAT(expand_env("${A-B}", env).error, Catch::Contains("not a valid environment variable"));
    }
}

TEST_CASE("process_env reads the process environment", "[config]") {
    ::setenv("SLUICE_CONFIG_TEST_VAR", "from-process", 1);
    ::unsetenv("SLUICE_CONFIG_TEST_UNSET");
    auto env = process_env();
    CHECK(env("SLUICE_CONFIG_TEST_VAR") == "from-process");
    CHECK_FALSE(env("SLUICE_CONFIG_TEST_UNSET").has_value());
    CHECK(expand_env("${SLUICE_CONFIG_TEST_VAR}", env).text == "from-process");
}

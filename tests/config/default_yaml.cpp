// examples/configs/default.yaml is what sluice-gateway runs with when given no --config; the
// app embeds it and loads it with load_string, so it must load that way and as a file.
#include <sluice/config/load.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace sluice::config;

namespace {

const std::filesystem::path default_yaml = SLUICE_SOURCE_DIR "/examples/configs/default.yaml";

std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

env_lookup no_env() {
    return [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
}

} // namespace

TEST_CASE("default.yaml loads with no environment set", "[config]") {
    auto cfg = load_string(read_text(default_yaml), "default.yaml", no_env());
    CHECK(cfg.source == "default.yaml");
    CHECK(cfg.listen.to_string() == "127.0.0.1:8080");

    REQUIRE(cfg.providers.size() == 2);
    const auto* openai = cfg.find_provider("openai");
    REQUIRE(openai);
    CHECK(openai->plugin == "openai");
    CHECK(openai->base_url == "https://api.openai.com/v1");
    CHECK(openai->api_key.empty());
    const auto* anthropic = cfg.find_provider("anthropic");
    REQUIRE(anthropic);
    CHECK(anthropic->plugin == "anthropic");
    CHECK(anthropic->base_url == "https://api.anthropic.com");

    SECTION("every model is priced and served by a declared provider") {
        for (const char* id : {"gpt-4o-mini", "gpt-4.1", "claude-sonnet-4-5", "claude-haiku-4-5"}) {
            INFO(id);
            const auto* m = cfg.find_model(id);
            REQUIRE(m);
            CHECK(cfg.find_provider(m->provider));
            REQUIRE(m->price);
            CHECK(m->price->input > 0);
            CHECK(m->price->output > m->price->input);
            CHECK(m->price->cached_input < m->price->input);
            REQUIRE(m->endpoints);
            CHECK(m->endpoints->contains(sluice::core::endpoint::chat));
        }
        CHECK(cfg.find_model("gpt-4o-mini")->price->input == 0.15);
        CHECK(cfg.find_model("claude-sonnet-4-5")->price->cache_write == 3.75);
    }
}

TEST_CASE("default.yaml takes API keys from the environment", "[config]") {
    auto env = [](std::string_view name) -> std::optional<std::string> {
        if (name == "OPENAI_API_KEY") return "sk-openai";
        if (name == "ANTHROPIC_API_KEY") return "sk-ant";
        return std::nullopt;
    };
    auto cfg = load_file(default_yaml, env);
    CHECK(cfg.find_provider("openai")->api_key == "sk-openai");
    CHECK(cfg.find_provider("anthropic")->api_key == "sk-ant");
}

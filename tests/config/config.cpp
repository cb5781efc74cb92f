#include <sluice/config/config.hpp>

#include <catch2/catch.hpp>

using namespace sluice::config;
using namespace std::chrono_literals;

TEST_CASE("config structs start from the documented defaults", "[config]") {
    server_settings s;
    CHECK(s.header_timeout == 10s);
    CHECK(s.body_timeout == 60s);
    CHECK(s.idle_timeout == 60s);
    CHECK(s.write_timeout == 60s);
    CHECK(s.drain_timeout == 10s);
    CHECK(s.body_limit == 16u << 20);
    CHECK(s.header_limit == 16u << 10);
    CHECK_FALSE(s.tls.has_value());
    upstream_timeouts t;
    CHECK(t.connect == 10s);
    CHECK(t.first_byte == 60s);
    CHECK(t.total == 600s);
    provider_config p;
    CHECK(p.max_connections == 64);
    CHECK(p.tls.verify);
    CHECK(listen_address{}.to_string() == "127.0.0.1:8080");
}

TEST_CASE("gateway_config finds providers and models by name", "[config]") {
    gateway_config cfg;
    cfg.providers.resize(2);
    cfg.providers[0].name = "openai";
    cfg.providers[1].name = "anthropic";
    cfg.models.resize(1);
    cfg.models[0].id = "gpt-4o-mini";
    cfg.models[0].provider = "openai";
    REQUIRE(cfg.find_provider("anthropic"));
    CHECK(cfg.find_provider("anthropic") == &cfg.providers[1]);
    CHECK(cfg.find_provider("azure") == nullptr);
    REQUIRE(cfg.find_model("gpt-4o-mini"));
    CHECK(cfg.find_model("gpt-4o-mini")->provider == "openai");
    CHECK(cfg.find_model("gpt-4o") == nullptr);
}

TEST_CASE("a provider's plugin is a path when it has a '/' or ends in .so", "[config]") {
    auto is_path = [](std::string plugin) {
        provider_config p;
        p.plugin = std::move(plugin);
        return p.plugin_is_path();
    };
    CHECK_FALSE(is_path("openai"));
    CHECK(is_path("./plugins/libx.so"));
    CHECK(is_path("/opt/x"));
    CHECK(is_path("sluice_openai.so"));
}

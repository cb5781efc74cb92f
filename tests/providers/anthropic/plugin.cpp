// The built sluice_anthropic.so, loaded through the host as the gateway loads it.

#include <sluice/plugin/host.hpp>

#include <catch2/catch.hpp>

#ifdef SLUICE_ANTHROPIC_PLUGIN_DIR

using namespace sluice;

TEST_CASE("sluice_anthropic.so loads through the host and translates", "[providers][anthropic][plugin]") {
    plugin::host host({}, std::filesystem::path(SLUICE_ANTHROPIC_PLUGIN_DIR));
    auto lib = host.open("anthropic");
    REQUIRE(lib);
    CHECK((*lib)->info().kind == "provider");
    CHECK((*lib)->info().name == "anthropic");
    CHECK((*lib)->info().version == "0.1.0");

    plugin::provider_config config{"claude", "https://api.anthropic.com", "sk-ant-test", {}, {}};
    auto provider = host.create_provider("anthropic", config);
    REQUIRE(provider);
    const auto info = (*provider)->describe();
    CHECK(info.name == "anthropic");
    CHECK(info.endpoints.contains(core::endpoint::chat));
    CHECK(info.auth == plugin::auth_scheme::x_api_key);

    core::envelope e;
    e.model = "claude-sonnet-4-5";
    e.messages.push_back(core::message::user("hi"));
    auto req = (*provider)->build_request(e);
    REQUIRE(req);
    CHECK(req->path == "/v1/messages");
    CHECK(
        req->body ==
        R"({"model":"claude-sonnet-4-5","max_tokens":4096,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]})");

    auto decoder = (*provider)->make_stream_decoder(e);
    REQUIRE(decoder);
    std::vector<core::event> out;
    (*decoder)->feed(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"m\"}}\n\n",
        out);
    (*decoder)->finish(out);
    REQUIRE(out.size() == 2);
    CHECK(std::holds_alternative<core::message_start>(out[0]));
    CHECK(std::holds_alternative<core::error>(out[1]));

    CHECK((*provider)->map_error(529, "").kind == core::error_kind::overloaded);
    CHECK((*provider)->decode_response("{}").has_value() == false);
}

TEST_CASE("a bad option makes the plugin's factory fail with the reason", "[providers][anthropic][plugin]") {
    plugin::host host({}, std::filesystem::path(SLUICE_ANTHROPIC_PLUGIN_DIR));
    plugin::provider_config config{
        "claude", "https://api.anthropic.com", "k", {}, boost::json::object{{"default_max_tokens", -5}}};
    auto provider = host.create_provider("anthropic", config);
    REQUIRE_FALSE(provider);
    CHECK(provider.error().kind == plugin::plugin_error_kind::factory_failed);
    CHECK_THAT(provider.error().message, Catch::Contains("default_max_tokens"));
}

#endif

// The built sluice_openai.so, loaded through the plugin host: the export works and answers
// exactly as the translation code compiled into this test does.

#include "openai/provider.hpp"

#include "envelopes.hpp"
#include "golden.hpp"

#include <sluice/plugin/host.hpp>

#include <catch2/catch.hpp>

namespace openai = sluice::providers::openai;
using namespace openai_test;

TEST_CASE("the provider describes itself as openai, serving chat with a bearer key", "[openai][plugin]") {
    openai::openai_provider provider(plugin::provider_config{});
    auto info = provider.describe();
    CHECK(info.name == "openai");
    CHECK(info.version == openai::plugin_version);
    CHECK(info.endpoints == core::endpoint_set{core::endpoint::chat});
    CHECK(info.auth == plugin::auth_scheme::bearer);
}

TEST_CASE("the provider passes the media endpoints through with its key and headers", "[openai][plugin]") {
    plugin::provider_config config{"openai-main", "https://api.openai.com/v1", "sk-test", {{"OpenAI-Organization", "org-1"}}, {}};
    openai::openai_provider provider(config);
    plugin::upstream_request in{"POST", "/embeddings", {{"Content-Type", "application/json"}}, R"({"model":"m","input":"x"})"};
    auto out = provider.build_passthrough(core::endpoint::embeddings, in);
    REQUIRE(out);
    CHECK(out.value().method == "POST");
    CHECK(out.value().path == "/embeddings");
    CHECK(out.value().body == in.body);
    plugin::header_list expected{{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-test"}, {"OpenAI-Organization", "org-1"}};
    CHECK(out.value().headers == expected);
    auto chat = provider.build_passthrough(core::endpoint::chat, in);
    REQUIRE_FALSE(chat);
    CHECK(chat.error().code == "unsupported_endpoint");
}

#ifdef SLUICE_OPENAI_PLUGIN_DIR

TEST_CASE("sluice_openai.so loads through the host, describes itself and builds the golden request",
          "[openai][plugin]") {
    plugin::host host({SLUICE_OPENAI_PLUGIN_DIR});
    plugin::provider_config config{"openai-main", "https://api.openai.com/v1", "sk-test", {}, {}};
    auto provider = host.create_provider("openai", config);
    if (!provider) FAIL(provider.error().message);

    auto info = (*provider)->describe();
    CHECK(info.name == "openai");
    CHECK(info.version == openai::plugin_version);
    CHECK(info.endpoints.contains(core::endpoint::chat));
    CHECK(info.auth == plugin::auth_scheme::bearer);

    auto request = (*provider)->build_request(plain_chat());
    REQUIRE(request.has_value());
    CHECK(request->path == "/chat/completions");
    CHECK(request->body + "\n" == read_fixture("request/plain_chat.json"));

    auto decoder = (*provider)->make_stream_decoder(plain_chat());
    REQUIRE(decoder.has_value());
    auto events = decode_stream(**decoder, read_fixture("stream/text.sse"));
    CHECK(to_text(events) == read_fixture("stream/text.events"));

    CHECK((*provider)->map_error(429, "").kind == core::error_kind::rate_limit);
}

TEST_CASE("sluice_openai.so refuses an unknown option when it is created", "[openai][plugin]") {
    plugin::host host({SLUICE_OPENAI_PLUGIN_DIR});
    plugin::provider_config config;
    config.options["dialect"] = "tgi";
    auto provider = host.create_provider("openai", config);
    REQUIRE_FALSE(provider.has_value());
    CHECK(provider.error().kind == plugin::plugin_error_kind::factory_failed);
    CHECK_THAT(provider.error().message, Catch::Contains("option dialect is \"tgi\"; expected openai or vllm"));
}

#endif

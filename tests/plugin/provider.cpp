#include <sluice/plugin/provider.hpp>

#include "test_plugins.hpp"

#include <sluice/core/aggregate.hpp>
#include <sluice/plugin/host.hpp>

#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

using namespace sluice;

namespace {

plugin::provider_config echo_config() {
    return {"echo-upstream", "https://echo.test/v1", "sk-test", {{"x-team", "infra"}}, {}};
}

std::shared_ptr<plugin::provider> load_echo() {
    plugin::host host;
    auto made = host.create_provider(sluice_test::plugin_file("test_echo").string(), echo_config());
    REQUIRE(made);
    return std::move(made).value();
}

core::envelope hello() {
    core::envelope e;
    e.model = "echo-model";
    e.messages.push_back(core::message::user("hello"));
    return e;
}

} // namespace

TEST_CASE("a provider plugin describes itself", "[plugin][provider]") {
    auto p = load_echo();
    auto info = p->describe();
    CHECK(info.name == "echo");
    CHECK(info.version == "1.2.3");
    CHECK(info.endpoints.contains(core::endpoint::chat));
    CHECK_FALSE(info.endpoints.contains(core::endpoint::embeddings));
    CHECK(info.auth == plugin::auth_scheme::bearer);
}

TEST_CASE("a provider plugin builds the native request from an envelope and its config", "[plugin][provider]") {
    auto p = load_echo();
    auto req = p->build_request(hello());
    REQUIRE(req);
    CHECK(req->method == "POST");
    CHECK(req->path == "/echo");
    CHECK(boost::json::parse(req->body) == boost::json::parse(R"({"model":"echo-model","text":"hello"})"));
    REQUIRE(req->headers.size() == 2);
    CHECK(req->headers[0] == std::pair<std::string, std::string>{"x-team", "infra"});
    CHECK(req->headers[1] == std::pair<std::string, std::string>{"authorization", "Bearer sk-test"});
}

TEST_CASE("a translation the plugin refuses comes back as its error", "[plugin][provider]") {
    auto p = load_echo();
    core::envelope empty;
    auto req = p->build_request(empty);
    REQUIRE_FALSE(req);
    CHECK(req.error().kind == core::error_kind::invalid_request);
    CHECK(req.error().param == "messages");
}

TEST_CASE("a throwing translation becomes an internal error, not an exception", "[plugin][provider]") {
    auto p = load_echo();
    auto e = hello();
    e.model = "throw";
    plugin::result<plugin::upstream_request> req = core::error{};
    REQUIRE_NOTHROW(req = p->build_request(e));
    REQUIRE_FALSE(req);
    CHECK(req.error().kind == core::error_kind::internal);
    CHECK_THAT(req.error().message, Catch::Contains("build_request threw: cannot translate model 'throw'"));

    SECTION("even when what is thrown is no std::exception") {
        auto err = p->map_error(418, "teapot");
        CHECK(err.kind == core::error_kind::internal);
        CHECK_THAT(err.message, Catch::Contains("map_error threw: unknown exception"));
    }
}

TEST_CASE("a provider plugin decodes a whole body into the events of the answer", "[plugin][provider]") {
    auto p = load_echo();
    auto events = p->decode_response("pong");
    REQUIRE(events);
    auto answer = core::response_aggregate::fold(*events);
    REQUIRE(answer.complete());
    CHECK(core::text_of(answer.message().content) == "pong");
    CHECK(answer.usage() == core::usage{3, 1, 0, 0, 0});
}

TEST_CASE("a stream decoder turns bytes into events as they arrive", "[plugin][provider]") {
    auto p = load_echo();
    auto decoder = p->make_stream_decoder(hello());
    REQUIRE(decoder);
    std::vector<core::event> out;

    SECTION("split anywhere, finished cleanly") {
        (*decoder)->feed("Hel", out);
        CHECK(out.empty()); // no whole line yet
        (*decoder)->feed("lo\nwor", out);
        (*decoder)->feed("ld\n[DONE]\n", out);
        (*decoder)->finish(out);
        CHECK(core::find_error(out) == nullptr);
        auto answer = core::response_aggregate::fold(out);
        REQUIRE(answer.complete());
        CHECK(core::text_of(answer.message().content) == "Helloworld");
    }
    SECTION("cut before its end, it says so with an error event") {
        (*decoder)->feed("Hello\n", out);
        (*decoder)->finish(out);
        REQUIRE(core::find_error(out) != nullptr);
        CHECK(core::find_error(out)->kind == core::error_kind::upstream);
    }
    SECTION("a throwing decoder becomes an error event") {
        (*decoder)->feed("boom", out);
        REQUIRE_NOTHROW((*decoder)->finish(out));
        REQUIRE(core::find_error(out) != nullptr);
        CHECK_THAT(core::find_error(out)->message, Catch::Contains("stream_decoder::finish threw: decoder exploded"));
    }
}

TEST_CASE("a provider plugin maps native errors", "[plugin][provider]") {
    auto p = load_echo();
    CHECK(p->map_error(429, "slow down").kind == core::error_kind::rate_limit);
    auto e = p->map_error(503, "busy");
    CHECK(e.kind == core::error_kind::upstream);
    CHECK(e.message == "busy");
}

// The guard is plain C++: it can be checked in process, without a library.
namespace {
struct fragile final : plugin::provider {
    explicit fragile(const plugin::provider_config&) {}
    plugin::provider_info describe() const override { return {"fragile", "0", {}, {}, {}}; }
    plugin::result<plugin::upstream_request> build_request(const core::envelope&) const override {
        throw std::logic_error("bug");
    }
    plugin::result<std::vector<core::event>> decode_response(std::string_view) const override {
        throw std::bad_alloc();
    }
    plugin::result<std::unique_ptr<plugin::stream_decoder>> make_stream_decoder(const core::envelope&) const override {
        throw std::runtime_error("no decoder");
    }
    core::error map_error(unsigned, std::string_view) const override { return {}; }
};
} // namespace

TEST_CASE("the guard the export macro builds catches every call", "[plugin][provider]") {
    std::string why;
    std::unique_ptr<plugin::provider> p(plugin::detail::create_guarded_provider<fragile>({}, why));
    REQUIRE(p);
    CHECK(why.empty());
    CHECK_THAT(p->build_request({}).error().message, Catch::Contains("provider fragile: build_request threw: bug"));
    CHECK(p->decode_response("").error().kind == core::error_kind::internal);
    CHECK_THAT(p->make_stream_decoder({}).error().message, Catch::Contains("no decoder"));
}

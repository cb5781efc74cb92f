// Tests plugins/openai/errors.hpp: non-2xx answers -> core::error.

#include "openai/errors.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace openai = sluice::providers::openai;
using sluice::core::error_kind;

TEST_CASE("the HTTP status decides the error kind", "[openai][errors]") {
    auto [status, kind] = GENERATE(table<unsigned, error_kind>({
        {400, error_kind::invalid_request},
        {401, error_kind::authentication},
        {403, error_kind::permission},
        {404, error_kind::not_found},
        {408, error_kind::timeout},
        {409, error_kind::invalid_request},
        {413, error_kind::request_too_large},
        {422, error_kind::invalid_request},
        {429, error_kind::rate_limit},
        {500, error_kind::upstream},
        {502, error_kind::upstream},
        {503, error_kind::overloaded},
        {504, error_kind::timeout},
        {529, error_kind::overloaded},
        {520, error_kind::upstream},
    }));
    INFO("status " << status);
    CHECK(openai::map_error(status, "").kind == kind);
}

TEST_CASE("an OpenAI error body gives the message, param and code, marked as the upstream's", "[openai][errors]") {
    auto e = openai::map_error(400, R"({
      "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in 130001 tokens.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded"
      }
    })");
    CHECK(e.kind == error_kind::invalid_request);
    CHECK(e.message ==
          "upstream: This model's maximum context length is 128000 tokens. However, your messages resulted in 130001 tokens.");
    CHECK(e.param == "messages");
    CHECK(e.code == "context_length_exceeded");
}

TEST_CASE("a 429 for quota stays a rate limit and keeps OpenAI's code", "[openai][errors]") {
    auto e = openai::map_error(429, R"({"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}})");
    CHECK(e.kind == error_kind::rate_limit);
    CHECK(e.code == "insufficient_quota");
    CHECK(e.param.empty());
}

TEST_CASE("compatible servers' error shapes are read too", "[openai][errors]") {
    SECTION("vLLM: the status in code") {
        auto e = openai::map_error(404, R"({"error":{"message":"The model `llama` does not exist.","type":"NotFoundError","param":"model","code":404}})");
        CHECK(e.kind == error_kind::not_found);
        CHECK(e.message == "upstream: The model `llama` does not exist.");
        CHECK(e.code.empty());
    }
    SECTION("older vLLM: the error at the top") {
        auto e = openai::map_error(400, R"({"object":"error","message":"bad temperature","type":"BadRequestError","param":null,"code":400})");
        CHECK(e.message == "upstream: bad temperature");
    }
    SECTION("FastAPI detail") {
        auto e = openai::map_error(422, R"({"detail":[{"loc":["body","messages"],"msg":"field required"}]})");
        CHECK(e.kind == error_kind::invalid_request);
        CHECK(e.message == R"(upstream: [{"loc":["body","messages"],"msg":"field required"}])");
    }
    SECTION("an error given as a plain string") {
        CHECK(openai::map_error(401, R"({"error":"Invalid token"})").message == "upstream: Invalid token");
    }
}

TEST_CASE("a body that is not an error object is quoted, short and on one line", "[openai][errors]") {
    SECTION("a proxy's HTML") {
        auto e = openai::map_error(502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>");
        CHECK(e.kind == error_kind::upstream);
        CHECK(e.message == "upstream: HTTP 502: <html>  <head><title>502 Bad Gateway</title></head>  </html>");
    }
    SECTION("an empty body") { CHECK(openai::map_error(503, "").message == "upstream: HTTP 503 with an empty body"); }
    SECTION("a long body is cut on a character boundary") {
        std::string body(openai::error_excerpt_limit - 1, 'a');
        body += "\xC3\xA9 and more"; // "é" straddles the limit
        auto e = openai::map_error(500, body);
        CHECK(e.message == "upstream: HTTP 500: " + std::string(openai::error_excerpt_limit - 1, 'a') + "...");
    }
    SECTION("JSON without an error in it") {
        CHECK(openai::map_error(500, R"({"status":"down"})").message == R"(upstream: HTTP 500: {"status":"down"})");
    }
}

TEST_CASE("error words without a status map to kinds, unknown words to upstream", "[openai][errors]") {
    CHECK(openai::kind_for_words("invalid_request_error", "") == error_kind::invalid_request);
    CHECK(openai::kind_for_words("server_error", "rate_limit_exceeded") == error_kind::rate_limit);
    CHECK(openai::kind_for_words("server_error", "") == error_kind::upstream);
    CHECK(openai::kind_for_words("", "") == error_kind::upstream);
}

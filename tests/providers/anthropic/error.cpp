#include "error.hpp"

#include <catch2/catch.hpp>

using namespace sluice;

namespace {

std::string body(std::string_view type, std::string_view message) {
    return R"({"type":"error","error":{"type":")" + std::string(type) + R"(","message":")" + std::string(message) +
           R"("},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"})";
}

} // namespace

TEST_CASE("Anthropic's error types map to canonical kinds and statuses", "[providers][anthropic][error]") {
    using K = core::error_kind;
    const auto [status, type, kind, client_status] = GENERATE(table<unsigned, std::string, K, unsigned>({
        {400, "invalid_request_error", K::invalid_request, 400},
        {401, "authentication_error", K::authentication, 401},
        {403, "permission_error", K::permission, 403},
        {404, "not_found_error", K::not_found, 404},
        {413, "request_too_large", K::request_too_large, 413},
        {429, "rate_limit_error", K::rate_limit, 429},
        {500, "api_error", K::upstream, 502},
        {529, "overloaded_error", K::overloaded, 503},
        {504, "timeout_error", K::timeout, 504},
        {402, "billing_error", K::upstream, 502},               // the gateway's account, not the client's fault
        {418, "a_type_not_known_yet", K::invalid_request, 400}, // then the status decides
    }));
    INFO(type);
    const auto e = anthropic::map_error(status, body(type, "it went wrong"));
    CHECK(e.kind == kind);
    CHECK(core::http_status(e.kind) == client_status);
    CHECK(e.message == "anthropic upstream (" + type + "): it went wrong [request_id req_011CSHoEeqs5C35K2UUqR7Fy]");
}

TEST_CASE("an answer that is not Anthropic's error shape is mapped by its status and quoted",
          "[providers][anthropic][error]") {
    using K = core::error_kind;
    const auto [status, kind] = GENERATE(table<unsigned, K>({
        {400, K::invalid_request},
        {408, K::timeout},
        {429, K::rate_limit},
        {502, K::upstream},
        {503, K::overloaded},
        {504, K::timeout},
        {529, K::overloaded},
    }));
    const auto e = anthropic::map_error(status, "<html>\n<body>upstream trouble</body>\n</html>");
    CHECK(e.kind == kind);
    CHECK(e.message ==
          "anthropic upstream (HTTP " + std::to_string(status) + "): <html> <body>upstream trouble</body> </html>");
}

TEST_CASE("a long non-JSON body is cut to a short excerpt on a character boundary", "[providers][anthropic][error]") {
    std::string long_body;
    for (int i = 0; i < 150; ++i) long_body += "\xc3\xa9"; // 300 bytes of U+00E9
    const auto e = anthropic::map_error(502, long_body);
    CHECK(e.message.size() < 260);
    CHECK_THAT(e.message, Catch::EndsWith("\xc3\xa9..."));
    CHECK(anthropic::map_error(500, "").message == "anthropic upstream (HTTP 500): empty body");
}

TEST_CASE("an error body without a message still says where it came from", "[providers][anthropic][error]") {
    const auto e = anthropic::map_error(429, R"({"type":"error","error":{"type":"rate_limit_error"}})");
    CHECK(e.kind == core::error_kind::rate_limit);
    CHECK(e.message == "anthropic upstream (rate_limit_error): no message");
}

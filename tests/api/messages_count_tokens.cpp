#include <sluice/api/messages_count_tokens.hpp>

#include "messages_golden.hpp"

#include <sluice/api/messages_decode.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace sluice;
using messages_test::read_fixture;

TEST_CASE("count_tokens answers with input_tokens only", "[api][messages][count_tokens]") {
    CHECK(api::encode_count_tokens_body(0) == R"({"input_tokens":0})");
    CHECK(api::encode_count_tokens_body(2095) == R"({"input_tokens":2095})");
    CHECK(api::encode_count_tokens_body(18446744073709551615ull) == R"({"input_tokens":18446744073709551615})");
}

TEST_CASE("the estimate counts text at 3.5 bytes a token plus fixed costs", "[api][messages][count_tokens]") {
    core::envelope e;
    CHECK(api::estimate_input_tokens(e) == 3); // the prompt's frame

    e.messages.push_back(core::message::user(std::string(35, 'a')));
    CHECK(api::estimate_input_tokens(e) == 3 + 4 + 10);
    e.messages.back().content.emplace_back(core::text_part{"x", {}}); // 36 bytes: rounded up
    CHECK(api::estimate_input_tokens(e) == 3 + 4 + 11);

    SECTION("an image costs a fixed 1,600") {
        e.messages.back().content.emplace_back(core::image_part{"https://x/y.png", {}, {}, {}, {}});
        CHECK(api::estimate_input_tokens(e) == 3 + 4 + 11 + 1600);
    }
    SECTION("tools cost their instructions and their text") {
        e.tools.push_back({"f", "", boost::json::object{}, {}, {}}); // "f" and "{}": 3 bytes
        CHECK(api::estimate_input_tokens(e) == 3 + 4 + 320 + 8 + (36 + 3) * 2 / 7 + 1);
    }
    SECTION("earlier thinking is not counted") {
        e.messages.push_back({core::role::assistant, {core::reasoning_part{std::string(700, 'x'), "sig", false}}, {}});
        CHECK(api::estimate_input_tokens(e) == 3 + 4 + 11 + 4);
    }
}

TEST_CASE("the estimate of a decoded request adds up its parts", "[api][messages][count_tokens]") {
    auto e = api::decode_count_tokens_request(read_fixture("count_tokens_request.json"), {});
    REQUIRE(e);
    // System 28 bytes, the message 24, the tool 11 + 26 + a 77-byte schema: ceil(166 / 3.5) = 48;
    // fixed: prompt 3, one message 4, tool-use instructions 320, one tool 8.
    CHECK(api::estimate_input_tokens(*e) == 3 + 4 + 320 + 8 + 48);
}

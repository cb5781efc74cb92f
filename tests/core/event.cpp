#include <sluice/core/event.hpp>

#include <catch2/catch.hpp>

#include <vector>

using namespace sluice::core;

TEST_CASE("each delta kind belongs to one block kind", "[core][event]") {
    CHECK(block_kind_of(delta_kind::text) == block_kind::text);
    CHECK(block_kind_of(delta_kind::arguments) == block_kind::tool_call);
    CHECK(block_kind_of(delta_kind::reasoning) == block_kind::reasoning);
    CHECK(block_kind_of(delta_kind::signature) == block_kind::reasoning);
}

TEST_CASE("event builders make the block events they name", "[core][event]") {
    // core::error has no operator==, so events compare through the alternative they hold.
    CHECK(std::get<block_start>(tool_call_start(2, "call_1", "get_weather")) ==
          block_start{2, block_kind::tool_call, "call_1", "get_weather"});
    CHECK(std::get<block_start>(text_start(0)) == block_start{0, block_kind::text, {}, {}});
    CHECK(std::get<block_start>(reasoning_start(1)) == block_start{1, block_kind::reasoning, {}, {}});
    CHECK(std::get<block_delta>(arguments_delta(2, "{\"ci")) == block_delta{2, delta_kind::arguments, "{\"ci"});
    CHECK(std::get<block_delta>(signature_delta(1, "sig")) == block_delta{1, delta_kind::signature, "sig"});
    CHECK(std::get<block_delta>(text_delta(0, "hi")) != std::get<block_delta>(reasoning_delta(0, "hi")));
}

TEST_CASE("message_stop and error end a message, nothing else does", "[core][event]") {
    CHECK(is_terminal(message_stop{finish_reason::tool_calls, {}}));
    CHECK(is_terminal(error{error_kind::upstream, "cut", {}, {}}));
    CHECK_FALSE(is_terminal(usage{1, 2, 0, 0, 0}));
    CHECK_FALSE(is_terminal(block_stop{0}));
    CHECK_FALSE(is_terminal(message_start{"msg_1", "m"}));
}

TEST_CASE("find_error picks the error out of a batch of events", "[core][event]") {
    std::vector<event> ok{message_start{"id", "m"}, text_start(0), text_delta(0, "x")};
    CHECK(find_error(ok) == nullptr);
    ok.emplace_back(error{error_kind::timeout, "upstream went quiet", {}, {}});
    REQUIRE(find_error(ok) != nullptr);
    CHECK(find_error(ok)->kind == error_kind::timeout);
}

TEST_CASE("events name themselves and finish reasons round-trip", "[core][event]") {
    CHECK(event_name(usage{}) == "usage");
    CHECK(event_name(block_delta{}) == "block_delta");
    CHECK(event_name(error{}) == "error");
    for (auto f : {finish_reason::stop, finish_reason::length, finish_reason::tool_calls,
                   finish_reason::content_filter, finish_reason::error})
        CHECK(finish_reason_from_string(to_string(f)) == f);
    CHECK_FALSE(finish_reason_from_string("end_turn"));
}

TEST_CASE("events stay small", "[core][event]") {
    // The largest alternative is block_start or error (a few strings); nothing heap-allocates
    // until a string outgrows its small buffer.
    CHECK(sizeof(event) <= 4 * sizeof(std::string) + 16);
}

#include <sluice/core/aggregate.hpp>

#include <catch2/catch.hpp>

#include <vector>

using namespace sluice::core;

TEST_CASE("a text answer folds into one text part with its usage and finish", "[core][aggregate]") {
    std::vector<event> events{message_start{"msg_1", "llama-3"},
                              usage{12, 0, 0, 0, 0},
                              text_start(0),
                              text_delta(0, "Hel"),
                              text_delta(0, "lo"),
                              block_stop{0},
                              usage{0, 2, 0, 0, 0},
                              message_stop{finish_reason::stop, {}}};
    auto a = response_aggregate::fold(events);
    REQUIRE(a.complete());
    CHECK(a.id() == "msg_1");
    CHECK(a.model() == "llama-3");
    CHECK(a.message().role == role::assistant);
    REQUIRE(a.message().content.size() == 1);
    CHECK(std::get<text_part>(a.message().content[0]).text == "Hello");
    CHECK(a.usage() == usage{12, 2, 0, 0, 0});
    CHECK(a.finish() == finish_reason::stop);
    CHECK_FALSE(a.error());
}

TEST_CASE("interleaved tool-call deltas land in their own call by index", "[core][aggregate]") {
    std::vector<event> events{message_start{"chatcmpl-1", "gpt"},
                              tool_call_start(0, "call_a", "get_weather"),
                              tool_call_start(1, "call_b", "get_time"),
                              arguments_delta(0, "{\"city\":"),
                              arguments_delta(1, "{\"tz\":"),
                              arguments_delta(1, "\"UTC\"}"),
                              arguments_delta(0, "\"Paris\"}"),
                              block_stop{1},
                              block_stop{0},
                              message_stop{finish_reason::tool_calls, {}}};
    auto a = response_aggregate::fold(events);
    REQUIRE(a.complete());
    const auto& content = a.message().content;
    REQUIRE(content.size() == 2);
    CHECK(std::get<tool_call_part>(content[0]) == tool_call_part{"call_a", "get_weather", R"({"city":"Paris"})", {}});
    CHECK(std::get<tool_call_part>(content[1]) == tool_call_part{"call_b", "get_time", R"({"tz":"UTC"})", {}});
    CHECK(has_tool_calls(a.message()));
    CHECK(a.finish() == finish_reason::tool_calls);
}

TEST_CASE("reasoning stays a block of its own, apart from the text", "[core][aggregate]") {
    std::vector<event> events{message_start{"msg_2", "claude"},
                              reasoning_start(0),
                              reasoning_delta(0, "Think "),
                              reasoning_delta(0, "first."),
                              signature_delta(0, "EqQBCg"),
                              block_stop{0},
                              text_start(1),
                              text_delta(1, "Answer."),
                              block_stop{1},
                              usage{5, 9, 100, 20, 4},
                              message_stop{finish_reason::stop, {}}};
    auto a = response_aggregate::fold(events);
    REQUIRE(a.complete());
    const auto& content = a.message().content;
    REQUIRE(content.size() == 2);
    CHECK(std::get<reasoning_part>(content[0]) == reasoning_part{"Think first.", "EqQBCg", false});
    CHECK(std::get<text_part>(content[1]).text == "Answer.");
    CHECK(text_of(content) == "Answer.");
    CHECK(a.usage().reasoning == 4);
    CHECK(a.usage().cache_read == 100);
}

TEST_CASE("a stop sequence is kept with the finish", "[core][aggregate]") {
    response_aggregate a;
    a.add(message_start{"x", "m"});
    a.add(message_stop{finish_reason::stop, "\n\nHuman:"});
    CHECK(a.complete());
    CHECK(a.stop_sequence() == "\n\nHuman:");
    CHECK(a.message().content.empty());
}

TEST_CASE("an error event ends the answer as failed, keeping what came before", "[core][aggregate]") {
    response_aggregate a;
    a.add(message_start{"x", "m"});
    a.add(text_start(0));
    a.add(text_delta(0, "partial"));
    a.add(error{error_kind::upstream, "upstream closed the stream early", {}, {}});
    a.add(text_delta(0, " ignored"));
    CHECK(a.done());
    CHECK_FALSE(a.complete());
    REQUIRE(a.error());
    CHECK(a.error()->kind == error_kind::upstream);
    CHECK(a.finish() == finish_reason::error);
    CHECK(std::get<text_part>(a.message().content[0]).text == "partial");
}

TEST_CASE("a stream that breaks the block rules is caught, not answered wrongly", "[core][aggregate]") {
    response_aggregate a;
    a.add(message_start{"x", "m"});

    SECTION("a thinking delta inside a text block") {
        a.add(text_start(0));
        a.add(reasoning_delta(0, "hmm"));
        REQUIRE(a.error());
        CHECK(a.error()->kind == error_kind::internal);
        CHECK_THAT(a.error()->message, Catch::Contains("reasoning delta in text block 0"));
    }
    SECTION("a delta for a block that never started") {
        a.add(arguments_delta(3, "{}"));
        REQUIRE(a.error());
        CHECK_THAT(a.error()->message, Catch::Contains("block 3 that never started"));
    }
    SECTION("a delta after the block stopped") {
        a.add(text_start(0));
        a.add(block_stop{0});
        a.add(text_delta(0, "late"));
        REQUIRE(a.error());
        CHECK_THAT(a.error()->message, Catch::Contains("after its stop"));
    }
    SECTION("the same index started twice") {
        a.add(tool_call_start(0, "a", "f"));
        a.add(tool_call_start(0, "b", "g"));
        REQUIRE(a.error());
        CHECK_THAT(a.error()->message, Catch::Contains("started twice"));
    }
    SECTION("content after message_stop") {
        a.add(message_stop{});
        a.add(text_start(0));
        REQUIRE(a.error());
        CHECK_FALSE(a.complete());
    }
    CHECK(a.finish() == finish_reason::error);
}

TEST_CASE("usage after message_stop still counts", "[core][aggregate]") {
    response_aggregate a;
    a.add(message_start{"x", "m"});
    a.add(message_stop{});
    a.add(usage{3, 4, 0, 0, 0});
    CHECK(a.complete());
    CHECK(a.usage() == usage{3, 4, 0, 0, 0});
}

TEST_CASE("the folded message can be moved out", "[core][aggregate]") {
    response_aggregate a;
    a.add(text_start(0));
    a.add(text_delta(0, "keep me"));
    message m = std::move(a).message();
    CHECK(text_of(m.content) == "keep me");
}

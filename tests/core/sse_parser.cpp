#include <sluice/core/sse_parser.hpp>

// SSE framing from bytes in any split.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using sluice::core::sse_parser;

namespace {

/// "name|data" per event, fed `step` bytes at a time (0: at once), finished or not.
std::vector<std::string> events_of(std::string_view bytes, std::size_t step = 0, bool finish = true) {
    sse_parser parser;
    std::vector<std::string> out;
    auto sink = [&](std::string_view name, std::string_view data) { out.push_back(std::string(name) + "|" + std::string(data)); };
    if (step == 0) step = bytes.size() + 1;
    for (std::size_t at = 0; at < bytes.size(); at += step) REQUIRE(parser.feed(bytes.substr(at, step), sink));
    if (finish) parser.finish(sink);
    return out;
}

} // namespace

TEST_CASE("SSE lines may end in \\n, \\r\\n or \\r, split anywhere", "[openai][sse]") {
    const std::vector<std::string> expected{"|a", "|b", "|c"};
    auto step = GENERATE(0, 1, 2, 3);
    CHECK(events_of("data: a\n\ndata: b\r\n\r\ndata: c\r\r", step) == expected);
}

TEST_CASE("SSE comments are skipped, data lines join with \\n, event names are kept", "[openai][sse]") {
    CHECK(events_of(": ping\n\nevent: error\ndata: {\"x\":\ndata:1}\n\ndata:no-space\n\n") ==
          std::vector<std::string>{"error|{\"x\":\n1}", "|no-space"});
}

TEST_CASE("an SSE event is dispatched only at its blank line, or at finish", "[openai][sse]") {
    CHECK(events_of("data: a\n", 0, false).empty());
    CHECK(events_of("data: a\n") == std::vector<std::string>{"|a"});
    CHECK(events_of("data: [DONE]") == std::vector<std::string>{"|[DONE]"}); // no line break at all
}

TEST_CASE("a byte-order mark opening the stream is not part of the first field", "[openai][sse]") {
    auto step = GENERATE(0, 1);
    CHECK(events_of("\xEF\xBB\xBF" "data: a\n\n", step) == std::vector<std::string>{"|a"});
}

TEST_CASE("an SSE event that never ends is refused past max_event_bytes", "[openai][sse]") {
    sse_parser parser;
    auto sink = [](std::string_view, std::string_view) {};
    std::string line = "data: ";
    line.append(sse_parser::max_event_bytes, 'x');
    CHECK_FALSE(parser.feed(line, sink));
    CHECK_FALSE(parser.feed("\n\n", sink));
}

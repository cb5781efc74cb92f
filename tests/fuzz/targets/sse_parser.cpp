// Fuzz target: core::sse_parser.
//
// Invariants: the same bytes give the same events however they are cut: whole, in two at a
// split point the input's first two bytes pick, and one byte at a time. An event name never
// holds a line break, and data holds none but the '\n' that joins its lines.

#include <sluice/core/sse_parser.hpp>

#include "check.hpp"

#include <string>
#include <vector>

namespace {

struct parsed {
    std::string events; // "name\0data\0" per event, so any byte in either shows
    std::size_t count = 0;
    bool fit = true;
};

template <class Pieces>
parsed parse(const Pieces& pieces) {
    sluice::core::sse_parser parser;
    parsed out;
    auto on_event = [&](std::string_view name, std::string_view data) {
        FUZZ_CHECK(name.find_first_of("\r\n") == std::string_view::npos, "a line break in the event name");
        FUZZ_CHECK(data.find('\r') == std::string_view::npos, "a carriage return in the data");
        out.events.append(name).push_back('\0');
        out.events.append(data).push_back('\0');
        ++out.count;
    };
    for (std::string_view piece : pieces) out.fit = parser.feed(piece, on_event) && out.fit;
    parser.finish(on_event);
    return out;
}

void check_same(const parsed& whole, const parsed& other, const std::string& how) {
    FUZZ_CHECK(whole.fit == other.fit, how + ": the size limit tripped in one run only");
    FUZZ_CHECK(whole.count == other.count && whole.events == other.events,
               how + ": " + std::to_string(other.count) + " events, whole: " + std::to_string(whole.count));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto input = sluice_fuzz::bytes_of(data, size);
    const std::size_t split = sluice_fuzz::take_split(input);

    const auto whole = parse(std::vector<std::string_view>{input});
    check_same(whole, parse(std::vector<std::string_view>{input.substr(0, split), input.substr(split)}),
               "cut at byte " + std::to_string(split));
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
    check_same(whole, parse(bytes), "fed one byte at a time");
    return 0;
}

#ifndef SLUICE_TESTS_FUZZ_STREAM_CHECKS_HPP
#define SLUICE_TESTS_FUZZ_STREAM_CHECKS_HPP

// The contract of a provider stream decoder (plugin/provider.hpp, core/event.hpp), checked on
// any bytes: the input (after two bytes that pick a split point) is decoded whole and cut in two,
// and both runs must give the same events, which must
//   - end with exactly one terminal event (message_stop or error), the last one, after finish();
//   - open with message_start, unless the whole answer is one error;
//   - number blocks 0, 1, 2... in the order they start, and stop every block before message_stop;
//   - fold in core::response_aggregate with no broken rule: its only error is one the decoder sent.

#include "check.hpp"

#include <sluice/core/aggregate.hpp>
#include <sluice/plugin/provider.hpp>

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string_view>
#include <vector>

namespace sluice_fuzz {

/// Feeds `pieces` in order, then finishes; every event comes back.
inline std::vector<core::event> decode(plugin::stream_decoder&& decoder, std::initializer_list<std::string_view> pieces) {
    std::vector<core::event> events;
    for (auto piece : pieces) decoder.feed(piece, events);
    decoder.finish(events);
    return events;
}

inline void check_grammar(const std::vector<core::event>& events) {
    FUZZ_CHECK(!events.empty(), "finish() left no event at all");
    FUZZ_CHECK(core::is_terminal(events.back()), "the last event is not terminal:\n" + describe(events));
    for (std::size_t i = 0; i + 1 < events.size(); ++i)
        FUZZ_CHECK(!core::is_terminal(events[i]), "an event after the terminal one:\n" + describe(events));
    const bool lone_error = events.size() == 1 && std::holds_alternative<core::error>(events.front());
    FUZZ_CHECK(lone_error || std::holds_alternative<core::message_start>(events.front()),
               "the stream does not open with message_start:\n" + describe(events));

    std::uint32_t next_block = 0;
    std::set<std::uint32_t> open;
    core::response_aggregate answer;
    for (const auto& e : events) {
        if (const auto* b = std::get_if<core::block_start>(&e)) {
            FUZZ_CHECK(b->index == next_block, "block " + std::to_string(b->index) + " started where " +
                                                   std::to_string(next_block) + " was next:\n" + describe(events));
            ++next_block;
            open.insert(b->index);
        } else if (const auto* s = std::get_if<core::block_stop>(&e)) {
            open.erase(s->index);
        } else if (std::holds_alternative<core::message_stop>(e)) {
            FUZZ_CHECK(open.empty(), "message_stop with block " + std::to_string(*open.begin()) +
                                         " still open:\n" + describe(events));
        }
        const bool had_error = answer.error().has_value();
        answer.add(e);
        FUZZ_CHECK(had_error || !answer.error() || std::holds_alternative<core::error>(e),
                   "the aggregate refused the stream: " + answer.error()->message + "\n" + describe(events));
    }
    FUZZ_CHECK(answer.done(), "the folded answer never ended:\n" + describe(events));
}

/// The whole check on one fuzz input; `make` builds a fresh decoder.
template <class MakeDecoder>
void check_stream_decoder(std::string_view input, MakeDecoder make) {
    const std::size_t split = take_split(input);
    const auto whole = decode(make(), {input});
    check_grammar(whole);
    const auto cut = decode(make(), {input.substr(0, split), input.substr(split)});
    const auto whole_text = describe(whole), cut_text = describe(cut);
    FUZZ_CHECK(whole_text == cut_text, "cut at byte " + std::to_string(split) + " the events differ:\n--- whole\n" +
                                           whole_text + "--- cut\n" + cut_text);
}

} // namespace sluice_fuzz

#endif

#ifndef SLUICE_PLUGINS_ANTHROPIC_STREAM_HPP
#define SLUICE_PLUGINS_ANTHROPIC_STREAM_HPP

// A streamed Messages response -> canonical events, fed raw SSE bytes in any split.
//
//   message_start        -> message_start{id, model}, usage (input and cache counters)
//   content_block_start  -> block_start (text | tool_call{id, name} | reasoning)
//   content_block_delta  -> block_delta (text_delta | input_json_delta | thinking_delta | signature_delta)
//   content_block_stop   -> block_stop
//   message_delta        -> usage (what grew: the counters are running totals), stop reason kept
//   message_stop         -> message_stop{finish}
//   ping, unknown events -> nothing;   error -> core::error, the last event
//
// Anthropic's block indexes become canonical ones counted from 0 in start order, the same number
// on start, delta and stop (WIRE.md failure 3); a delta of the wrong kind for its block, or for a
// block never started, is an upstream error, never a mixed block (failure 5). Blocks with no
// canonical kind (redacted_thinking, server tools) are skipped with all their deltas. A tool call
// whose input never arrived as deltas gets the input of its start (`{}` when none) so arguments
// are never empty (failure 1). The end of the bytes before message_stop is an error (failure 7).

#include "native.hpp"

#include <sluice/core/sse_parser.hpp>
#include <sluice/plugin/provider.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::anthropic {

class stream_decoder final : public plugin::stream_decoder {
public:
    void feed(std::string_view bytes, std::vector<core::event>& out) override;
    void finish(std::vector<core::event>& out) override;

private:
    struct block {
        std::uint32_t native = 0; // Anthropic's index
        std::uint32_t index = 0;  // the canonical index
        core::block_kind kind = core::block_kind::text;
        bool skipped = false; // no canonical kind: its deltas are dropped
        bool open = true;
        bool has_arguments = false; // a non-empty input_json_delta arrived
        std::string start_input;    // tool_use input as content_block_start gave it
    };

    void on_sse_event(std::string_view name, std::string_view data, std::vector<core::event>& out, bool at_end = false);
    void on_message_start(const boost::json::object& data, std::vector<core::event>& out);
    void on_block_start(const boost::json::object& data, std::vector<core::event>& out);
    void on_block_delta(const boost::json::object& data, std::vector<core::event>& out);
    void on_block_stop(const boost::json::object& data, std::vector<core::event>& out);
    void on_message_delta(const boost::json::object& data, std::vector<core::event>& out);
    void on_message_stop(std::vector<core::event>& out);
    void on_error(const boost::json::object& data, std::vector<core::event>& out);

    void ensure_started(std::vector<core::event>& out);
    void close(block& b, std::vector<core::event>& out);
    block* find(std::uint32_t native) noexcept;
    void fail(core::error e, std::vector<core::event>& out);
    void malformed(std::string what, std::vector<core::event>& out);

    core::sse_parser parser_;
    std::vector<block> blocks_; // a handful per message: a scan beats a map
    usage_ledger usage_;
    std::string stop_reason_;
    std::string stop_sequence_;
    std::uint32_t next_index_ = 0;
    bool started_ = false;
    bool stand_in_start_ = false; // message_start was emitted before the upstream's own
    bool ended_ = false;          // message_stop or an error was emitted: nothing follows
    bool saw_tool_call_ = false;
};

} // namespace sluice::anthropic

#endif

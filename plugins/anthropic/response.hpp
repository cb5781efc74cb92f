#ifndef SLUICE_PLUGINS_ANTHROPIC_RESPONSE_HPP
#define SLUICE_PLUGINS_ANTHROPIC_RESPONSE_HPP

// A whole Messages response -> the canonical events a stream of it would give:
//   message_start{id, model}, per content block block_start / block_delta* / block_stop,
//   usage (input, output, cache_read, cache_write), message_stop{finish, stop_sequence}.
// Blocks: text; thinking (reasoning text, then its signature); tool_use (its input serialized
// as the arguments). Blocks with no canonical kind yet (redacted_thinking, server tool blocks)
// are left out and take no canonical index, so the indexes stay 0, 1, 2... A 200 body of
// type "error" is that error; a body that is not a Messages object is an upstream error.

#include <sluice/core/event.hpp>
#include <sluice/plugin/result.hpp>

#include <string_view>
#include <vector>

namespace sluice::anthropic {

plugin::result<std::vector<core::event>> decode_response(std::string_view body);

} // namespace sluice::anthropic

#endif

#ifndef SLUICE_PLUGINS_ANTHROPIC_REQUEST_HPP
#define SLUICE_PLUGINS_ANTHROPIC_REQUEST_HPP

// envelope -> `POST /v1/messages`. Decisions, each one line:
// - base_url is the host only ("https://api.anthropic.com"); the path is /v1/messages. A base_url
//   that already ends in /v1 is taken as well and then gets /messages.
// - max_tokens (required by Anthropic): the envelope's max output tokens, else the provider option
//   `default_max_tokens`, else 4096.
// - Reasoning: thinking{type:"enabled", budget_tokens} from core::reasoning_budget (explicit budget,
//   else low 20 % / medium 50 % / high 80 % / max 95 % of max_tokens; effort none: no thinking),
//   clamped to Anthropic's rule 1024 <= budget < max_tokens. max_tokens <= 1024 cannot hold any
//   budget: invalid_request on max_tokens rather than silently answering without reasoning.
// - Tool-call arguments that are not a JSON object: invalid_request naming the message index,
//   never `{}` (WIRE.md failure 1). Empty arguments are an empty object.
// - Roles: tool -> user (tool_result blocks); system and developer messages inside the conversation
//   join `system`; consecutive same-role turns merge (Anthropic needs alternation); in a user turn
//   tool_result blocks go first, as Anthropic requires.
// - Thinking blocks go back only from assistant turns and only with their signature (redacted ones
//   as redacted_thinking): Anthropic refuses unsigned thinking, which comes from other models.
// - Empty text parts are dropped (Anthropic refuses empty text blocks); a turn left empty is dropped.
// - cache_control {type:"ephemeral"} stays on every block, tool and system part that carries it
//   (WIRE.md failure 6); ttl is written for 1h only, 5m being Anthropic's default. `system` is a
//   string unless a part carries cache_control, then text blocks.
// - Not expressible on Anthropic: n > 1 (invalid_request). Ignored: seed, presence/frequency
//   penalties, response_format, prompt_cache_key/retention, image detail, tool strict.
// - metadata.user_id: the envelope's user, else metadata["user_id"]; other metadata keys are not
//   sent (Anthropic's metadata takes only user_id).
// - Envelope extras are copied into the body unless the body already has that key.
// - Headers: content-type, x-api-key, anthropic-version (the client's from forward_headers, else
//   the config's header, else the option `anthropic_version`, else 2023-06-01), anthropic-beta (the
//   config's flags then the client's, without repeats: WIRE.md says it must reach Anthropic), the
//   config's other headers, then the client's other anthropic-* headers as they came.

#include "native.hpp"

#include <sluice/core/envelope.hpp>
#include <sluice/plugin/provider.hpp>
#include <sluice/plugin/result.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::anthropic {

/// Anthropic's floor for thinking.budget_tokens.
inline constexpr std::uint32_t min_thinking_budget = 1024;
/// max_tokens when neither the request nor the option `default_max_tokens` gives one.
inline constexpr std::uint32_t fallback_max_tokens = 4096;

/// What the gateway config says about every request; read once when the provider is created.
struct request_settings {
    std::string path = "/v1/messages";
    std::string api_key;
    std::string api_version = std::string(default_api_version); // option anthropic_version
    std::uint32_t default_max_tokens = fallback_max_tokens;     // option default_max_tokens
    plugin::header_list headers;                                // the config's extra headers

    /// From a provider config; throws std::invalid_argument naming a bad option.
    static request_settings from_config(const plugin::provider_config& config);
};

/// "/v1/messages", or "/messages" when `base_url` already ends in /v1.
std::string messages_path(std::string_view base_url);

/// The Messages body for `request`, keys in a fixed order so that its serialization is stable.
plugin::result<boost::json::object> encode_body(const core::envelope& request, const request_settings& settings);

/// The whole native request: path, headers and serialized body.
plugin::result<plugin::upstream_request> build_request(const core::envelope& request, const request_settings& settings);

} // namespace sluice::anthropic

#endif

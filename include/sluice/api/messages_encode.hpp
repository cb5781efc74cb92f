#ifndef SLUICE_API_MESSAGES_ENCODE_HPP
#define SLUICE_API_MESSAGES_ENCODE_HPP

// The folded answer -> the body of a non-streaming `POST /v1/messages`. Decisions, each one line:
// - Keys in Anthropic's order: id, type, role, model, content, stop_reason, stop_sequence, usage.
// - stop_reason: length -> max_tokens, tool_calls -> tool_use, content_filter -> refusal, stop ->
//   stop_sequence when one matched, else end_turn; a turn holding a tool call that says stop is
//   tool_use all the same, since clients run tools only on tool_use (WIRE.md failure 2).
// - usage carries all four counters, cache_read_input_tokens and cache_creation_input_tokens
//   from the canonical cache classes (WIRE.md failure 6).
// - tool_use.input is the parsed arguments. Arguments that are not a JSON object are never
//   turned into {} (WIRE.md failure 1): they go out as {"_raw_arguments": "<the text>"} with a
//   warn log line, so the client's tool check fails loudly, names what the model wrote, and the
//   model sees it on the next turn. Blank arguments are a call without arguments: {}.
// - Empty text blocks and empty thinking blocks (no text, no signature) are left out: Anthropic
//   refuses empty text blocks when the client sends the turn back.
// - Call it with a complete answer (`answer.complete()`); anything else gives the Anthropic error
//   body of what went wrong, to be sent with core::anthropic_http_status of its kind.

#include <sluice/api/codec.hpp>
#include <sluice/api/messages_json.hpp>

#include <sluice/core/aggregate.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/event.hpp>
#include <sluice/core/log.hpp>
#include <sluice/core/usage.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <variant>

namespace sluice::api {

namespace messages_detail {

/// Anthropic's stop_reason for a canonical finish (see the decisions above).
constexpr std::string_view stop_reason_for(core::finish_reason finish, bool saw_tool_call,
                                           bool matched_stop_sequence) noexcept {
    switch (finish) {
    case core::finish_reason::length: return "max_tokens";
    case core::finish_reason::tool_calls: return "tool_use";
    case core::finish_reason::content_filter: return "refusal";
    case core::finish_reason::stop:
    case core::finish_reason::error: break;
    }
    if (saw_tool_call) return "tool_use";
    return matched_stop_sequence ? "stop_sequence" : "end_turn";
}

/// {"input_tokens","cache_creation_input_tokens","cache_read_input_tokens","output_tokens"}.
inline void append_usage(std::string& out, const core::usage& u) {
    out += "{\"input_tokens\":";
    append_number(out, u.input);
    out += ",\"cache_creation_input_tokens\":";
    append_number(out, u.cache_write);
    out += ",\"cache_read_input_tokens\":";
    append_number(out, u.cache_read);
    out += ",\"output_tokens\":";
    append_number(out, u.output);
    out += '}';
}

/// `"stop_reason":"…","stop_sequence":null|"…"`, shared by the body and message_delta.
inline void append_stop(std::string& out, core::finish_reason finish, std::string_view stop_sequence,
                        bool saw_tool_call) {
    const auto reason = stop_reason_for(finish, saw_tool_call, !stop_sequence.empty());
    out += "\"stop_reason\":";
    append_string(out, reason);
    out += ",\"stop_sequence\":";
    if (reason == "stop_sequence")
        append_string(out, stop_sequence);
    else
        out += "null";
}

/// The tool_use input for `call`: its arguments as a JSON object (see the decisions above).
inline void append_tool_input(std::string& out, const core::tool_call_part& call) {
    const std::string_view args = call.arguments;
    if (std::all_of(args.begin(), args.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
        out += "{}";
        return;
    }
    boost::system::error_code ec;
    const json::value parsed = json::parse(args, ec);
    if (!ec && parsed.is_object()) {
        out += json::serialize(parsed);
        return;
    }
    log::warn("messages_tool_arguments_not_an_object",
              {{"tool_call_id", call.id},
               {"tool_name", call.name},
               {"bytes", args.size()},
               {"reason", ec ? std::string_view("not valid JSON") : std::string_view("JSON but not an object")}});
    out += "{\"_raw_arguments\":";
    append_string(out, args);
    out += '}';
}

} // namespace messages_detail

/// The body of a non-streaming Messages answer; see the decisions at the top of this file.
inline std::string encode_messages_body(const core::response_aggregate& answer, const response_context& context) {
    namespace d = messages_detail;
    if (!answer.complete() || answer.finish() == core::finish_reason::error) {
        const auto& error = answer.error();
        return core::anthropic_error_body(
            error ? *error
                  : core::error{core::error_kind::upstream, "the upstream ended the answer with an error", {}, {}});
    }
    const auto& id = context.id.empty() ? answer.id() : context.id;
    const auto& model = context.model.empty() ? answer.model() : context.model;

    std::string out;
    out.reserve(256);
    out += "{\"id\":";
    d::append_string(out, id);
    out += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
    d::append_string(out, model);
    out += ",\"content\":[";
    bool first = true;
    bool saw_tool_call = false;
    auto next = [&] {
        if (!first) out += ',';
        first = false;
    };
    for (const auto& part : answer.message().content) {
        if (const auto* t = std::get_if<core::text_part>(&part)) {
            if (t->text.empty()) continue;
            next();
            out += "{\"type\":\"text\",\"text\":";
            d::append_string(out, t->text);
            out += '}';
        } else if (const auto* r = std::get_if<core::reasoning_part>(&part)) {
            if (r->text.empty() && r->signature.empty()) continue;
            next();
            if (r->redacted) {
                out += "{\"type\":\"redacted_thinking\",\"data\":";
                d::append_string(out, r->text);
            } else {
                out += "{\"type\":\"thinking\",\"thinking\":";
                d::append_string(out, r->text);
                out += ",\"signature\":";
                d::append_string(out, r->signature);
            }
            out += '}';
        } else if (const auto* call = std::get_if<core::tool_call_part>(&part)) {
            saw_tool_call = true;
            next();
            out += "{\"type\":\"tool_use\",\"id\":";
            d::append_string(out, call->id);
            out += ",\"name\":";
            d::append_string(out, call->name);
            out += ",\"input\":";
            d::append_tool_input(out, *call);
            out += '}';
        }
    }
    out += "],";
    d::append_stop(out, *answer.finish(), answer.stop_sequence(), saw_tool_call);
    out += ",\"usage\":";
    d::append_usage(out, answer.usage());
    out += '}';
    return out;
}

} // namespace sluice::api

#endif

#ifndef SLUICE_API_CHAT_COMPLETIONS_DECODE_HPP
#define SLUICE_API_CHAT_COMPLETIONS_DECODE_HPP

// POST /v1/chat/completions body -> envelope. Takes everything the official SDKs send; every
// refusal is a 400 whose `param` is the exact path and whose message says what was expected.
//
// Decisions (the rest follows the OpenAI reference):
//   - system/developer messages that lead the conversation become envelope.system; later ones
//     stay messages with their role.
//   - max_tokens and max_completion_tokens: both are read and checked; when both are given,
//     max_completion_tokens (the newer name) wins.
//   - n: only 1. The executor answers with one choice, so n > 1 is a 400, never a silent 1.
//   - reasoning_effort: none, low, medium, high as they are; minimal -> low; xhigh -> max
//     (and sluice's own word "max" is taken too).
//   - logprobs: true, or any top_logprobs above 0, is a 400: the answer never carries them.
//   - input_audio and file parts, audio output, and the legacy functions/function_call: 400.
//   - top_k (vLLM's extra_body knob): read into sampling.top_k; -1 means unset, as in vLLM.
//   - stream_options.include_usage counts only with stream: true.
//   - prompt_cache_retention "in-memory" (older SDKs' spelling) is read as "in_memory".
//   - cache_control ({type:"ephemeral", ttl?}) is kept where clients put Anthropic hints: on a
//     content part, on a tool, or on a message (then it marks the message's last part).
//   - A tool message must answer a tool call made by an earlier assistant message.
//   - Any other top-level field goes to envelope.extras as sent (nulls dropped): the executor
//     lets through what the model's catalog entry allows.
//   - A null optional field is the same as an absent one.

#include <sluice/api/chat_completions_json.hpp>
#include <sluice/api/chat_completions_messages.hpp>
#include <sluice/api/codec.hpp>
#include <sluice/core/envelope.hpp>
#include <sluice/core/result.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::api {

namespace chat_completions_detail {

/// Most stop sequences a request may give (OpenAI's limit).
inline constexpr std::size_t max_stop_sequences = 4;

/// The longest tool name OpenAI takes; the name must match ^[a-zA-Z0-9_-]+$ too.
inline constexpr std::size_t max_tool_name = 64;

/// The body's fields -> the envelope. Model and messages first, then the rest in body order;
/// checks that span fields (tool_choice against tools, the output limit) come last.
class request_decoder {
public:
    error_slot decode(json::object& body, core::envelope& env) {
        env.api = core::front_api::chat_completions;
        env.endpoint = core::endpoint::chat;
        const json_path root;

        const auto* model = body.if_contains("model");
        if (!model) return invalid(root / "model", "is required: name the model to use");
        if (auto e = read_string(*model, root / "model", env.model)) return e;
        if (env.model.empty()) return invalid(root / "model", "must not be empty");

        const auto* messages = body.if_contains("messages");
        if (!messages) return invalid(root / "messages", "is required: a non-empty array of messages");
        if (auto e = read_messages(*messages, root / "messages", env)) return e;

        for (auto& [key, value] : body) {
            if (key == "model" || key == "messages" || value.is_null()) continue;
            if (auto e = read_option(key, value, root / key, env)) return e;
        }
        return settle(root, env);
    }

private:
    error_slot read_messages(const json::value& v, const json_path& at, core::envelope& env) {
        const auto* list = v.if_array();
        if (!list) return wrong_type(v, at, "an array");
        if (list->empty()) return invalid(at, "must not be empty: send at least one message");
        bool leading = true; // system and developer messages before any other go to env.system
        for (std::size_t i = 0; i < list->size(); ++i) {
            const json_path m_at = at[i];
            const auto* m = (*list)[i].if_object();
            if (!m) return wrong_type((*list)[i], m_at, "an object");
            if (auto e = read_message(*m, m_at, env, leading)) return e;
        }
        return std::nullopt;
    }

    error_slot read_message(const json::object& m, const json_path& at, core::envelope& env, bool& leading) {
        const auto* role_v = m.if_contains("role");
        if (!role_v) return invalid(at / "role", "is required");
        std::string_view word;
        if (role_v->is_string() && role_v->get_string() == "function")
            return unsupported(at / "role",
                               "the legacy role \"function\" is not supported by this gateway; send tool messages");
        if (auto e = one_of(*role_v, at / "role", {"system", "developer", "user", "assistant", "tool"}, word))
            return e;
        core::message msg;
        msg.role = *core::role_from_string(word);
        if (const auto* name = field(m, "name"))
            if (auto e = read_string(*name, at / "name", msg.name)) return e;
        std::optional<core::cache_control> cache;
        if (const auto* cc = field(m, "cache_control"))
            if (auto e = read_cache_control(*cc, at / "cache_control", cache)) return e;

        const json_path content_at = at / "content";
        const auto* content = m.if_contains("content");
        switch (msg.role) {
        case core::role::system:
        case core::role::developer: {
            if (!content) return invalid(content_at, "is required");
            std::vector<core::text_part> parts;
            if (auto e = read_text_content(*content, content_at, parts)) return e;
            if (cache) parts.back().cache = cache;
            if (leading) {
                for (auto& p : parts) env.system.push_back(std::move(p));
                return std::nullopt;
            }
            for (auto& p : parts) msg.content.emplace_back(std::move(p));
            break;
        }
        case core::role::user:
            if (!content) return invalid(content_at, "is required");
            if (auto e = read_user_content(*content, content_at, msg.content)) return e;
            break;
        case core::role::assistant:
            if (auto e = read_assistant(m, at, msg, call_ids_)) return e;
            break;
        case core::role::tool: {
            core::tool_result_part result;
            const auto* id = m.if_contains("tool_call_id");
            if (!id) return invalid(at / "tool_call_id", "is required: the id of the tool call this answers");
            if (auto e = read_string(*id, at / "tool_call_id", result.call_id)) return e;
            if (std::find(call_ids_.begin(), call_ids_.end(), result.call_id) == call_ids_.end())
                return invalid(at / "tool_call_id", "must name a tool call of an earlier assistant message, got " +
                                                        shown(*id));
            if (!content) return invalid(content_at, "is required");
            std::vector<core::text_part> parts;
            if (auto e = read_text_content(*content, content_at, parts)) return e;
            for (auto& p : parts) result.content.emplace_back(std::move(p));
            msg.content.emplace_back(std::move(result));
            break;
        }
        }
        if (cache) mark_last(msg.content, *cache);
        leading = false;
        env.messages.push_back(std::move(msg));
        return std::nullopt;
    }

    error_slot read_tools(json::value& v, const json_path& at, core::envelope& env) {
        auto* list = v.if_array(); // parameters are moved out, not copied
        if (!list) return wrong_type(v, at, "an array");
        for (std::size_t i = 0; i < list->size(); ++i) {
            const json_path tool_at = at[i];
            auto* t = (*list)[i].if_object();
            if (!t) return wrong_type((*list)[i], tool_at, "an object");
            std::string_view word;
            const auto* type = t->if_contains("type");
            if (!type) return invalid(tool_at / "type", "is required (\"function\")");
            if (type->is_string() && type->get_string() != "function")
                return unsupported(tool_at / "type", "tools of type " + shown(*type) +
                                                         " are not supported by this gateway; only function tools are");
            if (auto e = one_of(*type, tool_at / "type", {"function"}, word)) return e;
            const json_path fn_at = tool_at / "function";
            auto* fn_v = t->if_contains("function");
            if (!fn_v) return invalid(fn_at, "is required");
            auto* fn = fn_v->if_object();
            if (!fn) return wrong_type(*fn_v, fn_at, "an object");

            core::tool tool;
            const auto* name = fn->if_contains("name");
            if (!name) return invalid(fn_at / "name", "is required");
            if (auto e = read_string(*name, fn_at / "name", tool.name)) return e;
            const bool name_ok = !tool.name.empty() && tool.name.size() <= max_tool_name &&
                                 std::all_of(tool.name.begin(), tool.name.end(), [](char c) {
                                     return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                            (c >= '0' && c <= '9') || c == '_' || c == '-';
                                 });
            if (!name_ok)
                return invalid(fn_at / "name", "must be 1 to " + std::to_string(max_tool_name) +
                                                   " letters, digits, _ or -, got " + shown(*name));
            for (const auto& earlier : env.tools)
                if (earlier.name == tool.name)
                    return invalid(fn_at / "name", "must be unique: " + shown(*name) + " names two tools");
            if (const auto* d = field(*fn, "description"))
                if (auto e = read_string(*d, fn_at / "description", tool.description)) return e;
            if (auto* p = fn->if_contains("parameters"); p && !p->is_null()) {
                if (!p->is_object()) return wrong_type(*p, fn_at / "parameters", "an object (a JSON Schema)");
                tool.input_schema = std::move(*p);
            }
            if (const auto* s = field(*fn, "strict")) {
                bool strict = false;
                if (auto e = read_bool(*s, fn_at / "strict", strict)) return e;
                tool.strict = strict;
            }
            if (const auto* cc = field(*t, "cache_control"))
                if (auto e = read_cache_control(*cc, tool_at / "cache_control", tool.cache)) return e;
            env.tools.push_back(std::move(tool));
        }
        return std::nullopt;
    }

    error_slot read_tool_choice(const json::value& v, const json_path& at, core::envelope& env) {
        if (v.is_string()) {
            std::string_view word;
            if (auto e = one_of(v, at, {"auto", "none", "required"}, word)) return e;
            using m = decltype(core::tool_choice::mode); // the member hides the enum's name
            const m mode = word == "auto" ? m::automatic : word == "none" ? m::none : m::required;
            env.tool_choice = core::tool_choice{mode, {}};
            return std::nullopt;
        }
        const auto* o = v.if_object();
        if (!o) return wrong_type(v, at, "\"auto\", \"none\", \"required\" or an object");
        const auto* type = o->if_contains("type");
        if (!type) return invalid(at / "type", "is required (\"function\")");
        if (type->is_string() && type->get_string() != "function")
            return unsupported(at / "type", "tool_choice of type " + shown(*type) +
                                                " is not supported by this gateway; name a function or send auto, "
                                                "none or required");
        std::string_view word;
        if (auto e = one_of(*type, at / "type", {"function"}, word)) return e;
        const json_path fn_at = at / "function";
        const auto* fn_v = o->if_contains("function");
        if (!fn_v) return invalid(fn_at, "is required");
        const auto* fn = fn_v->if_object();
        if (!fn) return wrong_type(*fn_v, fn_at, "an object");
        const auto* name = fn->if_contains("name");
        if (!name) return invalid(fn_at / "name", "is required");
        std::string tool_name;
        if (auto e = read_string(*name, fn_at / "name", tool_name)) return e;
        env.tool_choice = core::tool_choice::force(std::move(tool_name));
        return std::nullopt;
    }

    error_slot read_stop(const json::value& v, const json_path& at, std::vector<std::string>& out) {
        auto add = [&](const json::value& s, const json_path& s_at) -> error_slot {
            std::string text;
            if (auto e = read_string(s, s_at, text)) return e;
            if (text.empty()) return invalid(s_at, "must not be an empty string");
            out.push_back(std::move(text));
            return std::nullopt;
        };
        if (v.is_string()) return add(v, at);
        const auto* list = v.if_array();
        if (!list) return wrong_type(v, at, "a string or an array of strings");
        if (list->size() > max_stop_sequences)
            return invalid(at, "must hold at most " + std::to_string(max_stop_sequences) + " sequences, got " +
                                   std::to_string(list->size()));
        for (std::size_t i = 0; i < list->size(); ++i)
            if (auto e = add((*list)[i], at[i])) return e;
        return std::nullopt;
    }

    error_slot read_response_format(json::value& v, const json_path& at, core::envelope& env) {
        const auto* o = v.if_object();
        if (!o) return wrong_type(v, at, "an object");
        const auto* type = o->if_contains("type");
        if (!type) return invalid(at / "type", "is required");
        std::string_view word;
        if (auto e = one_of(*type, at / "type", {"text", "json_object", "json_schema"}, word)) return e;
        if (word == "json_schema") {
            const json_path schema_at = at / "json_schema";
            const auto* schema = o->if_contains("json_schema");
            if (!schema) return invalid(schema_at, "is required with type json_schema");
            if (!schema->is_object()) return wrong_type(*schema, schema_at, "an object");
            const auto* name = schema->get_object().if_contains("name");
            if (!name) return invalid(schema_at / "name", "is required");
            if (!name->is_string()) return wrong_type(*name, schema_at / "name", "a string");
        }
        env.response_format = std::move(v);
        return std::nullopt;
    }

    error_slot read_option(std::string_view key, json::value& v, const json_path& at, core::envelope& env) {
        auto& s = env.sampling;
        if (key == "tools") return read_tools(v, at, env);
        if (key == "tool_choice") return read_tool_choice(v, at, env);
        if (key == "parallel_tool_calls") {
            bool b = false;
            if (auto e = read_bool(v, at, b)) return e;
            env.parallel_tool_calls = b;
            return std::nullopt;
        }
        if (key == "temperature") return read_number(v, at, 0, 2, s.temperature);
        if (key == "top_p") return read_number(v, at, 0, 1, s.top_p);
        if (key == "presence_penalty") return read_number(v, at, -2, 2, s.presence_penalty);
        if (key == "frequency_penalty") return read_number(v, at, -2, 2, s.frequency_penalty);
        if (key == "max_tokens") return read_positive_count(v, at, max_tokens_);
        if (key == "max_completion_tokens") return read_positive_count(v, at, max_completion_tokens_);
        if (key == "stop") return read_stop(v, at, s.stop);
        if (key == "seed") {
            std::int64_t seed = 0;
            if (auto e = read_integer(v, at, seed)) return e;
            s.seed = seed;
            return std::nullopt;
        }
        if (key == "n") {
            std::int64_t n = 0;
            if (auto e = read_integer(v, at, n)) return e;
            if (n < 1) return invalid(at, "must be a positive integer, got " + shown(v));
            if (n > 1)
                return invalid(at, "must be 1, got " + shown(v) +
                                       ": this gateway answers with one choice (send separate requests for more)");
            s.n = 1;
            return std::nullopt;
        }
        if (key == "top_k") {
            std::int64_t k = 0;
            if (auto e = read_integer(v, at, k)) return e;
            if (k < -1 || k > std::int64_t(std::numeric_limits<std::uint32_t>::max()))
                return invalid(at, "must be a non-negative integer (or -1 for none), got " + shown(v));
            if (k >= 0) s.top_k = std::uint32_t(k);
            return std::nullopt;
        }
        if (key == "reasoning_effort") {
            std::string_view word;
            if (auto e = one_of(v, at, {"none", "minimal", "low", "medium", "high", "xhigh", "max"}, word)) return e;
            // OpenAI's six words onto sluice's five: minimal is the least that still reasons.
            if (word == "minimal") word = "low";
            else if (word == "xhigh") word = "max";
            env.reasoning.effort = core::reasoning_effort_from_string(word);
            return std::nullopt;
        }
        if (key == "response_format") return read_response_format(v, at, env);
        if (key == "stream") return read_bool(v, at, env.stream);
        if (key == "stream_options") {
            const auto* o = v.if_object();
            if (!o) return wrong_type(v, at, "an object");
            if (const auto* u = field(*o, "include_usage")) return read_bool(*u, at / "include_usage", include_usage_);
            return std::nullopt;
        }
        if (key == "user") return read_string(v, at, env.user);
        if (key == "metadata") {
            const auto* o = v.if_object();
            if (!o) return wrong_type(v, at, "an object of strings");
            for (const auto& [k, value] : *o) {
                std::string text;
                if (auto e = read_string(value, at / k, text)) return e;
                env.metadata[std::string(k)] = std::move(text);
            }
            return std::nullopt;
        }
        if (key == "prompt_cache_key") return read_string(v, at, env.prompt_cache_key);
        if (key == "prompt_cache_retention") {
            std::string_view word;
            if (auto e = one_of(v, at, {"in_memory", "in-memory", "24h"}, word)) return e;
            env.prompt_cache_retention = word == "24h" ? "24h" : "in_memory";
            return std::nullopt;
        }
        if (key == "logprobs") {
            bool wanted = false;
            if (auto e = read_bool(v, at, wanted)) return e;
            if (wanted) return unsupported(at, "log probabilities are not supported by this gateway");
            return std::nullopt;
        }
        if (key == "top_logprobs") {
            std::int64_t k = 0;
            if (auto e = read_integer(v, at, k)) return e;
            if (k != 0) return unsupported(at, "log probabilities are not supported by this gateway");
            return std::nullopt;
        }
        if (key == "functions" || key == "function_call")
            return unsupported(at, "the legacy " + std::string(key) +
                                       " parameter is not supported by this gateway; send tools and tool_choice");
        if (key == "audio") return unsupported(at, "audio output is not supported by this gateway");
        if (key == "modalities") {
            const auto* list = v.if_array();
            if (!list) return wrong_type(v, at, "an array of strings");
            for (std::size_t i = 0; i < list->size(); ++i) {
                std::string_view word;
                if ((*list)[i].is_string() && (*list)[i].get_string() == "audio")
                    return unsupported(at[i], "audio output is not supported by this gateway");
                if (auto e = one_of((*list)[i], at[i], {"text"}, word)) return e;
            }
            return std::nullopt;
        }
        env.extras[key] = std::move(v); // the catalog decides what reaches the provider
        return std::nullopt;
    }

    /// Checks that span fields, after every field was read.
    error_slot settle(const json_path& root, core::envelope& env) {
        env.sampling.max_output_tokens = max_completion_tokens_ ? max_completion_tokens_ : max_tokens_;
        env.include_usage = env.stream && include_usage_;
        if (env.tool_choice) {
            const json_path at = root / "tool_choice";
            using m = decltype(core::tool_choice::mode); // the member hides the enum's name
            if (env.tools.empty() && env.tool_choice->mode != m::automatic && env.tool_choice->mode != m::none)
                return invalid(at, "needs tools: the request defines none");
            if (env.tool_choice->mode == m::named &&
                std::none_of(env.tools.begin(), env.tools.end(),
                             [&](const core::tool& t) { return t.name == env.tool_choice->name; })) {
                const json_path fn_at = at / "function";
                return invalid(fn_at / "name",
                               "names no tool of the request: " + shown(json::value(env.tool_choice->name)));
            }
        }
        return std::nullopt;
    }

    std::vector<std::string_view> call_ids_; // tool call ids seen so far, pointing into the body
    std::optional<std::uint32_t> max_tokens_;
    std::optional<std::uint32_t> max_completion_tokens_;
    bool include_usage_ = false;
};

} // namespace chat_completions_detail

/// A Chat Completions request body -> the canonical envelope (api chat_completions, endpoint
/// chat), or a 400 naming the exact parameter. No header changes the decoding today.
inline core::result<core::envelope> decode_chat_completions_request(std::string_view body,
                                                                    const request_headers& /*headers*/) {
    namespace detail = chat_completions_detail;
    boost::json::value root;
    if (auto e = detail::parse_body(body, root)) return std::move(*e);
    core::envelope env;
    detail::request_decoder decoder;
    if (auto e = decoder.decode(root.get_object(), env)) return std::move(*e);
    return env;
}

} // namespace sluice::api

#endif

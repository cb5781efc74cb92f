#ifndef SLUICE_PLUGINS_OPENAI_REQUEST_HPP
#define SLUICE_PLUGINS_OPENAI_REQUEST_HPP

// envelope -> POST {base_url}/chat/completions. Keys are written in one fixed order, so the same
// envelope always gives the same bytes (golden tests compare them).
//
// Not sent, on purpose:
//   - reasoning parts of assistant turns: OpenAI-compatible servers take no reasoning back
//     (OpenAI keeps it server-side; vLLM and DeepSeek ignore or reject reasoning_content);
//   - cache_control hints: OpenAI and vLLM cache prefixes by themselves (prompt_cache_key and
//     prompt_cache_retention, which they do take, are passed through);
//   - metadata: OpenAI keeps it only with store=true, and some compatible servers refuse it;
//   - tool_result.is_error: Chat Completions has no such flag; the result text says it;
//   - top_k unless options.dialect is vllm (OpenAI rejects it).

#include "options.hpp"

#include <sluice/core/envelope.hpp>
#include <sluice/plugin/provider.hpp>
#include <sluice/plugin/result.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sluice::providers::openai {

inline constexpr std::string_view chat_path = "/chat/completions";

namespace detail {

namespace json = boost::json;

inline core::error bad_request(std::string message, std::string param) {
    return core::error{core::error_kind::invalid_request, "openai: " + std::move(message), std::move(param), {}};
}

/// A whole message made of one text part is sent as a plain string, which every compatible
/// server takes; anything else as OpenAI's list of content parts.
inline json::value content_value(json::array parts) {
    if (parts.size() == 1)
        if (const auto* text = parts[0].as_object().if_contains("text")) return *text;
    return parts;
}

inline json::value tool_choice_json(const core::tool_choice& c) {
    switch (c.mode) {
    case core::tool_choice::mode::automatic: return "auto";
    case core::tool_choice::mode::none: return "none";
    case core::tool_choice::mode::required: return "required";
    case core::tool_choice::mode::named: break;
    }
    return json::object{{"type", "function"}, {"function", json::object{{"name", c.name}}}};
}

inline json::value tool_json(const core::tool& t) {
    json::object function;
    function["name"] = t.name;
    if (!t.description.empty()) function["description"] = t.description;
    if (!t.input_schema.is_null()) function["parameters"] = t.input_schema;
    if (t.strict) function["strict"] = *t.strict;
    return json::object{{"type", "function"}, {"function", std::move(function)}};
}

/// Chat Completions wants {type:"json_schema", json_schema:{name, schema, strict}}; the
/// Responses API's flat {type:"json_schema", name, schema, strict} is folded into that shape.
inline json::value response_format_json(const json::value& format) {
    const auto* o = format.if_object();
    if (!o || o->contains("json_schema") || !o->contains("schema")) return format;
    const auto* type = o->if_contains("type");
    if (!type || !type->is_string() || type->get_string() != "json_schema") return format;
    json::object schema;
    for (const auto& [key, value] : *o)
        if (key != "type") schema[key] = value;
    return json::object{{"type", "json_schema"}, {"json_schema", std::move(schema)}};
}

/// The messages array. Tool results become `tool` messages, in order, right after the turn
/// that called them; images inside tool results (which `tool` messages cannot hold) follow in
/// the next user message, after every tool message of that run.
class message_encoder {
public:
    std::optional<core::error> add(const core::message& m, std::size_t at) {
        const std::string where = "messages[" + std::to_string(at) + "]";
        json::array parts;
        bool has_result = false;
        for (std::size_t i = 0; i < m.content.size(); ++i) {
            const auto& part = m.content[i];
            if (const auto* t = std::get_if<core::text_part>(&part)) {
                parts.push_back(json::object{{"type", "text"}, {"text", t->text}});
            } else if (const auto* img = std::get_if<core::image_part>(&part)) {
                auto v = image_json(*img, where + ".content[" + std::to_string(i) + "]");
                if (!v) return std::move(v).error();
                parts.push_back(std::move(*v));
            } else if (const auto* r = std::get_if<core::tool_result_part>(&part)) {
                has_result = true;
                if (auto e = add_tool_result(*r, where + ".content[" + std::to_string(i) + "]")) return e;
            }
            // tool_call parts outside an assistant turn, and reasoning parts, have no place here.
        }

        switch (m.role) {
        case core::role::system:
        case core::role::developer:
            // "system" everywhere: OpenAI reads it as developer for reasoning models, and vLLM
            // chat templates know no developer role.
            flush_images();
            push_plain("system", json::value(core::text_of(m.content)), m.name);
            return std::nullopt;
        case core::role::assistant: flush_images(); return add_assistant(m, where);
        case core::role::tool:
            // Its tool results are out already; a tool message has nothing else to say.
            if (!has_result) return bad_request(where + ": a tool message needs a tool result", where);
            return std::nullopt;
        case core::role::user: break;
        }
        if (!images_.empty()) {
            parts.insert(parts.begin(), images_.begin(), images_.end());
            images_.clear();
        }
        if (!parts.empty()) push_plain("user", content_value(std::move(parts)), m.name);
        return std::nullopt;
    }

    json::array take() {
        flush_images();
        return std::move(out_);
    }

    json::array& out() noexcept { return out_; }

private:
    static plugin::result<json::value> image_json(const core::image_part& img, const std::string& where) {
        if (img.url.empty() && img.data.empty()) return bad_request(where + ": an image needs a url or data", where);
        if (img.is_inline() && img.media_type.empty())
            return bad_request(where + ": an inline image needs its media type", where);
        json::object url{{"url", img.data_url()}};
        if (!img.detail.empty()) url["detail"] = img.detail;
        return json::value(json::object{{"type", "image_url"}, {"image_url", std::move(url)}});
    }

    std::optional<core::error> add_tool_result(const core::tool_result_part& r, const std::string& where) {
        if (r.call_id.empty()) return bad_request(where + ": a tool result needs its call id", where);
        std::string text;
        for (const auto& c : r.content) {
            if (const auto* t = std::get_if<core::text_part>(&c)) {
                if (!text.empty()) text += '\n';
                text += t->text;
            } else {
                auto v = image_json(std::get<core::image_part>(c), where);
                if (!v) return std::move(v).error();
                images_.push_back(std::move(*v));
            }
        }
        out_.push_back(json::object{{"role", "tool"}, {"tool_call_id", r.call_id}, {"content", std::move(text)}});
        return std::nullopt;
    }

    std::optional<core::error> add_assistant(const core::message& m, const std::string& where) {
        // Reasoning parts are dropped: see the note at the top of this file.
        std::string text = core::text_of(m.content);
        json::array calls;
        for (const auto& part : m.content) {
            const auto* c = std::get_if<core::tool_call_part>(&part);
            if (!c) continue;
            if (c->id.empty() || c->name.empty())
                return bad_request(where + ": a tool call needs an id and a name", where);
            calls.push_back(json::object{
                {"id", c->id},
                {"type", "function"},
                // Empty arguments are not JSON; servers that parse them (vLLM templates) would fail.
                {"function", json::object{{"name", c->name}, {"arguments", c->arguments.empty() ? "{}" : c->arguments}}}});
        }
        json::object msg{{"role", "assistant"}};
        msg["content"] = text.empty() && !calls.empty() ? json::value(nullptr) : json::value(std::move(text));
        if (!m.name.empty()) msg["name"] = m.name;
        if (!calls.empty()) msg["tool_calls"] = std::move(calls);
        out_.push_back(std::move(msg));
        return std::nullopt;
    }

    void push_plain(std::string_view role, json::value content, const std::string& name) {
        json::object msg{{"role", role}, {"content", std::move(content)}};
        if (!name.empty()) msg["name"] = name;
        out_.push_back(std::move(msg));
    }

    void flush_images() {
        if (images_.empty()) return;
        push_plain("user", std::move(images_), {});
        images_ = {};
    }

    json::array out_;
    json::array images_; // from tool results, waiting for the end of the tool-message run
};

inline std::optional<std::string> effort_word(const core::envelope& e, const options& opt) {
    std::optional<core::reasoning_effort> effort = e.reasoning.effort;
    if (!effort && e.reasoning.budget_tokens) // an Anthropic-style budget: the nearest effort
        effort = core::effort_for_budget(*e.reasoning.budget_tokens, e.sampling.max_output_tokens.value_or(0));
    if (!effort) return std::nullopt;
    if (*effort == core::reasoning_effort::max) return opt.max_effort;
    return std::string(core::to_string(*effort)); // none | low | medium | high, OpenAI's own words
}

} // namespace detail

/// The Chat Completions body for `e`, or why it cannot be expressed.
inline plugin::result<boost::json::object> encode_body(const core::envelope& e, const options& opt) {
    namespace json = boost::json;
    if (e.endpoint != core::endpoint::chat)
        return detail::bad_request("this provider serves chat only, not " + std::string(core::to_string(e.endpoint)),
                                   "model");
    if (e.model.empty()) return detail::bad_request("the request names no model", "model");

    detail::message_encoder messages;
    if (!e.system.empty()) messages.out().push_back(json::object{{"role", "system"}, {"content", e.system_text()}});
    for (std::size_t i = 0; i < e.messages.size(); ++i)
        if (auto err = messages.add(e.messages[i], i)) return std::move(*err);

    json::object body;
    body["model"] = e.model;
    body["messages"] = messages.take();
    if (body["messages"].as_array().empty()) return detail::bad_request("the request has no messages", "messages");

    if (!e.tools.empty()) {
        json::array tools;
        for (const auto& t : e.tools) tools.push_back(detail::tool_json(t));
        body["tools"] = std::move(tools);
        // OpenAI refuses tool_choice and parallel_tool_calls without tools.
        if (e.tool_choice) body["tool_choice"] = detail::tool_choice_json(*e.tool_choice);
        if (e.parallel_tool_calls) body["parallel_tool_calls"] = *e.parallel_tool_calls;
    }

    const auto& s = e.sampling;
    if (s.temperature) body["temperature"] = *s.temperature;
    if (s.top_p) body["top_p"] = *s.top_p;
    if (s.top_k && opt.allows_top_k()) body["top_k"] = *s.top_k;
    if (s.max_output_tokens) body[opt.max_tokens_name()] = *s.max_output_tokens;
    if (!s.stop.empty()) {
        json::array stop;
        for (const auto& x : s.stop) stop.emplace_back(x);
        body["stop"] = std::move(stop);
    }
    if (s.seed) body["seed"] = *s.seed;
    if (s.n) body["n"] = *s.n;
    if (s.presence_penalty) body["presence_penalty"] = *s.presence_penalty;
    if (s.frequency_penalty) body["frequency_penalty"] = *s.frequency_penalty;

    if (auto effort = detail::effort_word(e, opt)) body["reasoning_effort"] = std::move(*effort);
    if (!e.response_format.is_null()) body["response_format"] = detail::response_format_json(e.response_format);
    if (!e.prompt_cache_key.empty()) body["prompt_cache_key"] = e.prompt_cache_key;
    if (!e.prompt_cache_retention.empty()) body["prompt_cache_retention"] = e.prompt_cache_retention;
    if (!e.user.empty()) body["user"] = e.user;

    if (e.stream) {
        body["stream"] = true;
        // Always: billing needs the upstream's own count (WIRE.md failure 4).
        body["stream_options"] = json::object{{"include_usage", true}};
    }

    // Extras the catalog let through, last so they may refine anything but what decides the
    // shape of the answer (the host picked the decoder by e.stream).
    for (const auto& [key, value] : e.extras)
        if (key != "model" && key != "messages" && key != "stream" && key != "stream_options") body[key] = value;
    return body;
}

/// The whole native request: path, headers (credential first, then the configured extras), body.
inline plugin::result<plugin::upstream_request> build_request(const core::envelope& e,
                                                              const plugin::provider_config& config,
                                                              const options& opt) {
    auto body = encode_body(e, opt);
    if (!body) return std::move(body).error();
    plugin::upstream_request out;
    out.method = "POST";
    out.path = std::string(chat_path);
    out.headers.emplace_back("Content-Type", "application/json");
    if (!config.api_key.empty()) out.headers.emplace_back("Authorization", "Bearer " + config.api_key);
    out.headers.insert(out.headers.end(), config.headers.begin(), config.headers.end());
    out.body = boost::json::serialize(*body);
    return out;
}

} // namespace sluice::providers::openai

#endif

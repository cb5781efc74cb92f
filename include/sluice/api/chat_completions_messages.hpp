#ifndef SLUICE_API_CHAT_COMPLETIONS_MESSAGES_HPP
#define SLUICE_API_CHAT_COMPLETIONS_MESSAGES_HPP

// The pieces of a Chat Completions `messages` array -> canonical content parts: text and image
// parts, Anthropic-style cache_control hints, and assistant turns with reasoning and tool calls.
// Each reader names the exact path of what it refuses; chat_completions_decode.hpp walks the array.

#include <sluice/api/chat_completions_json.hpp>
#include <sluice/core/envelope.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sluice::api::chat_completions_detail {

inline error_slot read_cache_control(const json::value& v, const json_path& at,
                                     std::optional<core::cache_control>& out) {
    const auto* o = v.if_object();
    if (!o) return wrong_type(v, at, "an object");
    std::string_view word;
    const auto* type = o->if_contains("type");
    if (!type) return invalid(at / "type", "is required (\"ephemeral\")");
    if (auto e = one_of(*type, at / "type", {"ephemeral"}, word)) return e;
    core::cache_control c;
    if (const auto* ttl = field(*o, "ttl")) {
        if (auto e = one_of(*ttl, at / "ttl", {"5m", "1h"}, word)) return e;
        c.ttl = *core::ttl_from_string(word);
    }
    out = c;
    return std::nullopt;
}

/// The part's `type`, which every content part must name.
inline error_slot part_type(const json::object& part, const json_path& at, std::string_view& out) {
    const auto* type = part.if_contains("type");
    if (!type) return invalid(at / "type", "is required");
    if (!type->is_string()) return wrong_type(*type, at / "type", "a string");
    out = type->get_string();
    return std::nullopt;
}

inline error_slot read_text_part(const json::object& part, const json_path& at, core::text_part& out) {
    const auto* text = part.if_contains("text");
    if (!text) return invalid(at / "text", "is required");
    if (auto e = read_string(*text, at / "text", out.text)) return e;
    if (const auto* cc = field(part, "cache_control"))
        if (auto e = read_cache_control(*cc, at / "cache_control", out.cache)) return e;
    return std::nullopt;
}

/// An image_url part: an https URL, or a data URL split into media type and base64 data.
inline error_slot read_image_part(const json::object& part, const json_path& at, core::image_part& out) {
    const json_path image_at = at / "image_url";
    const auto* image = part.if_contains("image_url");
    if (!image) return invalid(image_at, "is required");
    const json_path url_at = image_at / "url";
    std::string url;
    if (image->is_string()) { // an early shape some clients still send
        url = std::string(image->get_string());
    } else if (const auto* o = image->if_object()) {
        const auto* u = o->if_contains("url");
        if (!u) return invalid(url_at, "is required");
        if (auto e = read_string(*u, url_at, url)) return e;
        if (const auto* detail = field(*o, "detail")) {
            std::string_view word;
            if (auto e = one_of(*detail, image_at / "detail", {"auto", "low", "high"}, word)) return e;
            out.detail = std::string(word);
        }
    } else {
        return wrong_type(*image, image_at, "an object");
    }
    if (url.empty()) return invalid(url_at, "must not be empty");
    if (url.size() > 5 && std::string_view(url).substr(0, 5) == "data:") {
        const auto comma = url.find(',');
        const std::string_view header = std::string_view(url).substr(5, comma == std::string::npos ? 0 : comma - 5);
        constexpr std::string_view base64_mark = ";base64";
        if (comma == std::string::npos || header.size() <= base64_mark.size() ||
            header.substr(header.size() - base64_mark.size()) != base64_mark || header.front() == ';' ||
            comma + 1 == url.size())
            return invalid(url_at, "must be an http(s) URL or a base64 data URL (data:image/png;base64,...)");
        out.media_type = std::string(header.substr(0, header.find(';')));
        out.data = url.substr(comma + 1);
    } else {
        out.url = std::move(url);
    }
    if (const auto* cc = field(part, "cache_control"))
        if (auto e = read_cache_control(*cc, at / "cache_control", out.cache)) return e;
    return std::nullopt;
}

/// `content` of system, developer and tool messages: a string or an array of text parts.
inline error_slot read_text_content(const json::value& v, const json_path& at, std::vector<core::text_part>& out) {
    if (const auto* s = v.if_string()) {
        out.push_back({std::string(*s), {}});
        return std::nullopt;
    }
    const auto* parts = v.if_array();
    if (!parts) return wrong_type(v, at, "a string or an array of text parts");
    if (parts->empty()) return invalid(at, "must not be an empty array");
    for (std::size_t i = 0; i < parts->size(); ++i) {
        const json_path part_at = at[i];
        const auto* part = (*parts)[i].if_object();
        if (!part) return wrong_type((*parts)[i], part_at, "an object");
        std::string_view type;
        if (auto e = part_type(*part, part_at, type)) return e;
        if (type != "text") return invalid(part_at / "type", "must be \"text\" here, got " + shown(part->at("type")));
        core::text_part t;
        if (auto e = read_text_part(*part, part_at, t)) return e;
        out.push_back(std::move(t));
    }
    return std::nullopt;
}

/// `content` of a user message: a string or an array of text and image_url parts.
inline error_slot read_user_content(const json::value& v, const json_path& at, std::vector<core::content_part>& out) {
    if (const auto* s = v.if_string()) {
        out.emplace_back(core::text_part{std::string(*s), {}});
        return std::nullopt;
    }
    const auto* parts = v.if_array();
    if (!parts) return wrong_type(v, at, "a string or an array of content parts");
    if (parts->empty()) return invalid(at, "must not be an empty array");
    for (std::size_t i = 0; i < parts->size(); ++i) {
        const json_path part_at = at[i];
        const auto* part = (*parts)[i].if_object();
        if (!part) return wrong_type((*parts)[i], part_at, "an object");
        std::string_view type;
        if (auto e = part_type(*part, part_at, type)) return e;
        if (type == "text") {
            core::text_part t;
            if (auto e = read_text_part(*part, part_at, t)) return e;
            out.emplace_back(std::move(t));
        } else if (type == "image_url") {
            core::image_part img;
            if (auto e = read_image_part(*part, part_at, img)) return e;
            out.emplace_back(std::move(img));
        } else if (type == "input_audio" || type == "file") {
            return unsupported(part_at / "type", std::string(type) +
                                                         " content is not supported by this gateway; send text or "
                                                         "image_url parts");
        } else {
            return invalid(part_at / "type", "must be one of text, image_url, got " + shown(part->at("type")));
        }
    }
    return std::nullopt;
}

/// An assistant message: [reasoning] [text] [tool calls], in the order the model produced them.
inline error_slot read_assistant(const json::object& m, const json_path& at, core::message& out,
                                 std::vector<std::string_view>& call_ids) {
    if (const auto* r = field(m, "reasoning_content")) {
        core::reasoning_part reasoning;
        if (auto e = read_string(*r, at / "reasoning_content", reasoning.text)) return e;
        if (!reasoning.text.empty()) out.content.emplace_back(std::move(reasoning));
    }
    const json_path content_at = at / "content";
    if (const auto* c = field(m, "content")) {
        if (const auto* s = c->if_string()) {
            if (!s->empty()) out.content.emplace_back(core::text_part{std::string(*s), {}});
        } else if (const auto* parts = c->if_array()) {
            for (std::size_t i = 0; i < parts->size(); ++i) {
                const json_path part_at = content_at[i];
                const auto* part = (*parts)[i].if_object();
                if (!part) return wrong_type((*parts)[i], part_at, "an object");
                std::string_view type;
                if (auto e = part_type(*part, part_at, type)) return e;
                core::text_part t;
                if (type == "text") {
                    if (auto e = read_text_part(*part, part_at, t)) return e;
                } else if (type == "refusal") { // the canonical answer has no refusal: it is text
                    const auto* refusal = part->if_contains("refusal");
                    if (!refusal) return invalid(part_at / "refusal", "is required");
                    if (auto e = read_string(*refusal, part_at / "refusal", t.text)) return e;
                } else {
                    return invalid(part_at / "type", "must be one of text, refusal, got " + shown(part->at("type")));
                }
                out.content.emplace_back(std::move(t));
            }
        } else {
            return wrong_type(*c, content_at, "a string, an array of content parts or null");
        }
    }
    if (const auto* r = field(m, "refusal")) {
        core::text_part t;
        if (auto e = read_string(*r, at / "refusal", t.text)) return e;
        if (!t.text.empty()) out.content.emplace_back(std::move(t));
    }
    if (field(m, "function_call"))
        return unsupported(at / "function_call",
                           "the legacy function_call is not supported by this gateway; send tool_calls");
    if (field(m, "audio")) return unsupported(at / "audio", "audio is not supported by this gateway");

    const json_path calls_at = at / "tool_calls";
    const auto* calls_v = field(m, "tool_calls");
    if (!calls_v) return std::nullopt;
    const auto* calls = calls_v->if_array();
    if (!calls) return wrong_type(*calls_v, calls_at, "an array");
    for (std::size_t i = 0; i < calls->size(); ++i) {
        const json_path call_at = calls_at[i];
        const auto* call = (*calls)[i].if_object();
        if (!call) return wrong_type((*calls)[i], call_at, "an object");
        core::tool_call_part part;
        const auto* id = call->if_contains("id");
        if (!id) return invalid(call_at / "id", "is required");
        if (auto e = read_string(*id, call_at / "id", part.id)) return e;
        if (part.id.empty()) return invalid(call_at / "id", "must not be empty");
        if (const auto* type = field(*call, "type")) {
            std::string_view word;
            if (auto e = one_of(*type, call_at / "type", {"function"}, word)) return e;
        }
        const json_path function_at = call_at / "function";
        const auto* function_v = call->if_contains("function");
        if (!function_v) return invalid(function_at, "is required");
        const auto* function = function_v->if_object();
        if (!function) return wrong_type(*function_v, function_at, "an object");
        const auto* name = function->if_contains("name");
        if (!name) return invalid(function_at / "name", "is required");
        if (auto e = read_string(*name, function_at / "name", part.name)) return e;
        if (part.name.empty()) return invalid(function_at / "name", "must not be empty");
        const auto* arguments = function->if_contains("arguments");
        if (!arguments) return invalid(function_at / "arguments", "is required (a JSON text, such as \"{}\")");
        if (auto e = read_string(*arguments, function_at / "arguments", part.arguments)) return e;
        call_ids.push_back(id->get_string());
        out.content.emplace_back(std::move(part));
    }
    return std::nullopt;
}

/// Sets `cache` on the part where the message's cache_control lands: its last part.
inline void mark_last(std::vector<core::content_part>& parts, const core::cache_control& cache) {
    if (parts.empty()) return;
    std::visit(
        [&](auto& p) {
            if constexpr (requires { p.cache; }) p.cache = cache;
        },
        parts.back());
}

} // namespace sluice::api::chat_completions_detail

#endif

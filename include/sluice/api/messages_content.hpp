#ifndef SLUICE_API_MESSAGES_CONTENT_HPP
#define SLUICE_API_MESSAGES_CONTENT_HPP

// Messages content blocks -> canonical content parts, for the request decoder
// (messages_decode.hpp, where the decisions are listed). Each reader names the first thing wrong
// with the field's full path: messages[1].content[0].source.media_type.

#include <sluice/api/messages_json.hpp>

#include <sluice/core/envelope.hpp>
#include <sluice/core/result.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::api::messages_detail {

inline constexpr std::array<std::string_view, 4> image_media_types{"image/jpeg", "image/png", "image/gif",
                                                                   "image/webp"};

inline core::result<std::string_view> block_type(const json::object& b, const std::string& path) {
    const auto* type = b.if_contains("type");
    if (!type) return invalid(at(path, "type"), "field required (the block's type, e.g. \"text\")");
    if (!type->is_string()) return invalid(at(path, "type"), "expected a string, " + got(*type));
    return std::string_view(type->get_string());
}

inline failure read_cache(const json::object& b, const std::string& path, std::optional<core::cache_control>& out) {
    const auto* v = b.if_contains("cache_control");
    if (!v || v->is_null()) return {};
    const std::string where = at(path, "cache_control");
    const auto* c = v->if_object();
    if (!c) return invalid(where, "expected {\"type\": \"ephemeral\"}, " + got(*v));
    const auto* type = c->if_contains("type");
    if (!type || !type->is_string() || type->get_string() != "ephemeral")
        return invalid(at(where, "type"),
                       type ? "expected \"ephemeral\", " + got(*type) : std::string("field required (\"ephemeral\")"));
    core::cache_control cache;
    if (const auto* ttl = c->if_contains("ttl"); ttl && !ttl->is_null()) {
        const auto parsed = ttl->is_string() ? core::ttl_from_string(ttl->get_string()) : std::nullopt;
        if (!parsed) return invalid(at(where, "ttl"), "expected \"5m\" or \"1h\", " + got(*ttl));
        cache.ttl = *parsed;
    }
    out = cache;
    return {};
}

inline failure read_text(const json::object& b, const std::string& path, core::text_part& out) {
    const auto* text = b.if_contains("text");
    if (!text) return invalid(at(path, "text"), "field required (a string)");
    if (!text->is_string()) return invalid(at(path, "text"), "expected a string, " + got(*text));
    out.text = std::string(text->get_string());
    return read_cache(b, path, out.cache);
}

inline failure read_image(const json::object& b, const std::string& path, core::image_part& out) {
    const std::string where = at(path, "source");
    const auto* v = b.if_contains("source");
    if (!v)
        return invalid(
            where, "field required ({\"type\": \"base64\", \"media_type\", \"data\"} or {\"type\": \"url\", \"url\"})");
    const auto* s = v->if_object();
    if (!s) return invalid(where, "expected an object, " + got(*v));
    const auto* type = s->if_contains("type");
    const std::string_view kind = type && type->is_string() ? std::string_view(type->get_string()) : "";
    if (kind == "base64") {
        const auto* media = s->if_contains("media_type");
        const auto media_type = media && media->is_string() ? std::string_view(media->get_string()) : "";
        if (std::find(image_media_types.begin(), image_media_types.end(), media_type) == image_media_types.end())
            return invalid(at(where, "media_type"),
                           "expected \"image/jpeg\", \"image/png\", \"image/gif\" or \"image/webp\", " +
                               (media ? got(*media) : std::string("got nothing")));
        const auto* data = s->if_contains("data");
        if (!data || !data->is_string() || data->get_string().empty())
            return invalid(at(where, "data"), "expected the image as a non-empty base64 string, " +
                                                  (data ? got(*data) : std::string("got nothing")));
        out.media_type = std::string(media_type);
        out.data = std::string(data->get_string());
    } else if (kind == "url") {
        const auto* url = s->if_contains("url");
        if (!url || !url->is_string() || url->get_string().empty())
            return invalid(at(where, "url"),
                           "expected a non-empty string, " + (url ? got(*url) : std::string("got nothing")));
        out.url = std::string(url->get_string());
    } else if (kind == "file") {
        return invalid(at(where, "type"), "file sources (the Files API) are not supported by this gateway; "
                                          "send the image as base64 or url");
    } else {
        return invalid(at(where, "type"),
                       "expected \"base64\" or \"url\", " + (type ? got(*type) : std::string("got nothing")));
    }
    return read_cache(b, path, out.cache);
}

inline failure read_document(const json::object& b, const std::string& path, std::vector<core::content_part>& out) {
    const std::string where = at(path, "source");
    const auto* v = b.if_contains("source");
    const auto* s = v ? v->if_object() : nullptr;
    if (!s) return invalid(where, v ? "expected an object, " + got(*v) : std::string("field required"));
    std::optional<core::cache_control> cache;
    if (auto f = read_cache(b, path, cache)) return f;
    const auto* type = s->if_contains("type");
    const std::string_view kind = type && type->is_string() ? std::string_view(type->get_string()) : "";
    if (kind == "text") {
        const auto* data = s->if_contains("data");
        if (!data || !data->is_string())
            return invalid(at(where, "data"), "expected the document text as a string, " +
                                                  (data ? got(*data) : std::string("got nothing")));
        out.emplace_back(core::text_part{std::string(data->get_string()), cache});
        return {};
    }
    if (kind == "content") {
        const auto* content = s->if_contains("content");
        if (content && content->is_string()) {
            out.emplace_back(core::text_part{std::string(content->get_string()), cache});
            return {};
        }
        const auto* blocks = content ? content->if_array() : nullptr;
        if (!blocks) return invalid(at(where, "content"), "expected a string or an array of text blocks");
        for (std::size_t i = 0; i < blocks->size(); ++i) {
            const std::string item = at(at(where, "content"), i);
            const auto* t = (*blocks)[i].if_object();
            const auto* tt = t ? t->if_contains("type") : nullptr;
            if (!tt || !tt->is_string() || tt->get_string() != "text")
                return invalid(item, "a document's content takes text blocks only");
            core::text_part part;
            if (auto f = read_text(*t, item, part)) return f;
            if (!part.cache && i + 1 == blocks->size()) part.cache = cache;
            out.emplace_back(std::move(part));
        }
        return {};
    }
    return invalid(at(where, "type"), (kind.empty() ? std::string("a source type is required")
                                                    : quote_json(kind) + " documents are not supported") +
                                          " by this gateway: it takes plain-text documents (source type \"text\" "
                                          "or \"content\"); send a PDF's text as a text block");
}

inline failure read_tool_use(const json::object& b, const std::string& path, core::tool_call_part& out) {
    for (std::string_view key : {"id", "name"}) {
        const auto* v = b.if_contains(key);
        if (!v || !v->is_string() || v->get_string().empty())
            return invalid(at(path, key), "expected a non-empty string, " + (v ? got(*v) : std::string("got nothing")));
    }
    out.id = std::string(b.at("id").get_string());
    out.name = std::string(b.at("name").get_string());
    const auto* input = b.if_contains("input");
    if (!input || input->is_null()) {
        out.arguments = "{}";
    } else if (input->is_object()) {
        out.arguments = json::serialize(*input);
    } else {
        return invalid(at(path, "input"), "expected the tool's arguments as a JSON object, " + got(*input));
    }
    return read_cache(b, path, out.cache);
}

inline failure read_tool_result(const json::object& b, const std::string& path, core::tool_result_part& out) {
    const auto* id = b.if_contains("tool_use_id");
    if (!id || !id->is_string() || id->get_string().empty())
        return invalid(at(path, "tool_use_id"),
                       "expected the id of the tool_use this answers, " + (id ? got(*id) : std::string("got nothing")));
    out.call_id = std::string(id->get_string());
    if (const auto* e = b.if_contains("is_error"); e && !e->is_null()) {
        if (!e->is_bool()) return invalid(at(path, "is_error"), "expected true or false, " + got(*e));
        out.is_error = e->get_bool();
    }
    const auto* content = b.if_contains("content");
    if (content && content->is_string()) {
        if (!content->get_string().empty())
            out.content.emplace_back(core::text_part{std::string(content->get_string()), {}});
    } else if (const auto* blocks = content ? content->if_array() : nullptr) {
        for (std::size_t i = 0; i < blocks->size(); ++i) {
            const std::string item = at(at(path, "content"), i);
            const auto* c = (*blocks)[i].if_object();
            if (!c) return invalid(item, "expected a content block, " + got((*blocks)[i]));
            auto type = block_type(*c, item);
            if (!type) return std::move(type).error();
            if (*type == "text") {
                core::text_part part;
                if (auto f = read_text(*c, item, part)) return f;
                out.content.emplace_back(std::move(part));
            } else if (*type == "image") {
                core::image_part part;
                if (auto f = read_image(*c, item, part)) return f;
                out.content.emplace_back(std::move(part));
            } else if (*type == "document") {
                std::vector<core::content_part> parts;
                if (auto f = read_document(*c, item, parts)) return f;
                for (auto& p : parts) out.content.emplace_back(std::move(std::get<core::text_part>(p)));
            } else {
                return invalid(at(item, "type"), quote_json(*type) + " is not supported in a tool_result; it takes "
                                                                     "text, image and document blocks");
            }
        }
    } else if (content && !content->is_null()) {
        return invalid(at(path, "content"), "expected a string or an array of content blocks, " + got(*content));
    }
    return read_cache(b, path, out.cache);
}

inline failure read_block(const json::value& v, const std::string& path, core::message& m) {
    const auto* b = v.if_object();
    if (!b) return invalid(path, "expected a content block {\"type\": ...}, " + got(v));
    auto type = block_type(*b, path);
    if (!type) return std::move(type).error();
    const bool user = m.role == core::role::user;
    const std::string_view t = *type;
    if (t == "text") {
        core::text_part part;
        if (auto f = read_text(*b, path, part)) return f;
        m.content.emplace_back(std::move(part));
    } else if (t == "image" && user) {
        core::image_part part;
        if (auto f = read_image(*b, path, part)) return f;
        m.content.emplace_back(std::move(part));
    } else if (t == "document" && user) {
        if (auto f = read_document(*b, path, m.content)) return f;
    } else if (t == "tool_result" && user) {
        core::tool_result_part part;
        if (auto f = read_tool_result(*b, path, part)) return f;
        m.content.emplace_back(std::move(part));
    } else if (t == "tool_use" && !user) {
        core::tool_call_part part;
        if (auto f = read_tool_use(*b, path, part)) return f;
        m.content.emplace_back(std::move(part));
    } else if (t == "thinking" && !user) {
        const auto* thinking = b->if_contains("thinking");
        if (!thinking || !thinking->is_string())
            return invalid(at(path, "thinking"),
                           thinking ? "expected a string, " + got(*thinking) : "field required (a string)");
        const auto* signature = b->if_contains("signature");
        if (signature && !signature->is_null() && !signature->is_string())
            return invalid(at(path, "signature"), "expected a string, " + got(*signature));
        m.content.emplace_back(core::reasoning_part{
            std::string(thinking->get_string()),
            signature && signature->is_string() ? std::string(signature->get_string()) : std::string(), false});
    } else if (t == "redacted_thinking" && !user) {
        const auto* data = b->if_contains("data");
        if (!data || !data->is_string())
            return invalid(at(path, "data"), data ? "expected a string, " + got(*data) : "field required (a string)");
        m.content.emplace_back(core::reasoning_part{std::string(data->get_string()), {}, true});
    } else {
        const bool known = t == "image" || t == "document" || t == "tool_result" || t == "tool_use" ||
                           t == "thinking" || t == "redacted_thinking";
        return invalid(at(path, "type"),
                       quote_json(t) + (known ? " blocks do not belong in " : " is not supported in ") +
                           std::string(user ? "a user message; a user message takes text, image, document and "
                                              "tool_result blocks"
                                            : "an assistant message; an assistant message takes text, tool_use, "
                                              "thinking and redacted_thinking blocks"));
    }
    return {};
}

inline failure read_message(const json::value& v, const std::string& path, std::vector<core::message>& out_messages) {
    const auto* m = v.if_object();
    if (!m) return invalid(path, "expected a message {\"role\": ..., \"content\": ...}, " + got(v));
    const auto* role = m->if_contains("role");
    if (!role) return invalid(at(path, "role"), "field required (\"user\" or \"assistant\")");
    const auto* role_name = role->if_string();
    core::message out;
    if (role_name && *role_name == "user") {
        out.role = core::role::user;
    } else if (role_name && *role_name == "assistant") {
        out.role = core::role::assistant;
    } else if (role_name && *role_name == "system") {
        return invalid(at(path, "role"), "\"system\" is not a message role in the Messages API; put system "
                                         "instructions in the top-level system field");
    } else {
        return invalid(at(path, "role"), "expected \"user\" or \"assistant\", " + got(*role));
    }
    const auto* content = m->if_contains("content");
    if (!content) return invalid(at(path, "content"), "field required (a string or an array of content blocks)");
    if (const auto* s = content->if_string()) {
        out.content.emplace_back(core::text_part{std::string(*s), {}});
    } else if (const auto* blocks = content->if_array()) {
        out.content.reserve(blocks->size());
        for (std::size_t j = 0; j < blocks->size(); ++j)
            if (auto f = read_block((*blocks)[j], at(at(path, "content"), j), out)) return f;
    } else {
        return invalid(at(path, "content"), "expected a string or an array of content blocks, " + got(*content));
    }
    out_messages.push_back(std::move(out));
    return {};
}

} // namespace sluice::api::messages_detail

#endif

#ifndef SLUICE_API_RESPONSES_INPUT_HPP
#define SLUICE_API_RESPONSES_INPUT_HPP

// The Responses API's `input` -> canonical messages, and the error helpers the decoder shares.
//
// Items: messages (role user | assistant | system | developer, content a string or parts:
// input_text, input_image by URL or data: URL, output_text and refusal from the assistant),
// function_call, function_call_output, reasoning (summary text, encrypted_content kept as the
// signature). Assistant-side items that follow one another (reasoning, assistant messages,
// function_call) make one assistant turn; function_call_output items that follow one another
// make one `tool` turn. Refused with a 400 naming the field: item_reference (sluice is
// stateless), images by file_id and input_file parts (sluice keeps no files), hosted-tool items.

#include <sluice/core/envelope.hpp>
#include <sluice/core/error.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sluice::api::responses_detail {

namespace json = boost::json;

using failure = std::optional<core::error>;

inline core::error bad(std::string param, std::string message) {
    return core::error{core::error_kind::invalid_request, std::move(message), std::move(param), {}};
}

inline std::string_view kind_words(const json::value& v) noexcept {
    switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64: return "an integer";
    case json::kind::double_: return "a decimal";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
    }
    return "a value";
}

inline core::error missing(std::string param) {
    std::string m = "Missing required parameter: '" + param + "'.";
    return bad(std::move(param), std::move(m));
}

inline core::error wrong_type(std::string param, std::string_view expected, const json::value& got) {
    std::string m = "Invalid type for '" + param + "': expected " + std::string(expected) + ", but got " +
                    std::string(kind_words(got)) + " instead.";
    return bad(std::move(param), std::move(m));
}

inline core::error bad_value(std::string param, std::string_view got, std::string_view supported) {
    return bad(std::move(param),
               "Invalid value: '" + std::string(got) + "'. Supported values are: " + std::string(supported) + ".");
}

/// Stateless: what OpenAI would look up on its side, the caller must send.
inline core::error stateless(std::string param, std::string_view what) {
    std::string m = "'" + param + "' is not supported: sluice is stateless; " + std::string(what);
    return bad(std::move(param), std::move(m));
}

inline std::string index_path(std::string_view base, std::size_t i) {
    return std::string(base) + "[" + std::to_string(i) + "]";
}

/// A data: URL split into media type and base64 data; nullopt when it is not base64 data.
inline std::optional<core::image_part> image_from_url(std::string_view url) {
    core::image_part img;
    if (!url.starts_with("data:")) {
        img.url = std::string(url);
        return img;
    }
    auto comma = url.find(',');
    if (comma == std::string_view::npos) return std::nullopt;
    auto header = url.substr(5, comma - 5);
    if (!header.ends_with(";base64")) return std::nullopt;
    img.media_type = std::string(header.substr(0, header.size() - 7));
    img.data = std::string(url.substr(comma + 1));
    return img;
}

class input_reader {
public:
    explicit input_reader(std::vector<core::message>& messages) : messages_(messages) {}

    /// `input`: a string (one user message) or a list of items.
    failure read(json::value& v) {
        if (v.is_string()) {
            messages_.push_back(core::message::user(std::string(v.get_string())));
            return {};
        }
        if (!v.is_array()) return wrong_type("input", "a string or an array", v);
        auto& items = v.get_array();
        if (items.empty()) return bad("input", "Invalid value for 'input': send at least one input item.");
        for (std::size_t i = 0; i < items.size(); ++i) {
            const std::string where = index_path("input", i);
            if (!items[i].is_object()) return wrong_type(where, "an object", items[i]);
            if (auto e = read_item(items[i].get_object(), where)) return e;
        }
        return {};
    }

private:
    failure read_item(json::object& item, const std::string& where) {
        std::string_view type = "message";
        if (const auto* t = item.if_contains("type"); t && !t->is_null()) {
            if (!t->is_string()) return wrong_type(where + ".type", "a string", *t);
            type = t->get_string();
        } else if (!item.contains("role")) {
            return missing(where + ".type");
        }
        if (type == "message") return read_message(item, where);
        if (type == "function_call") return read_function_call(item, where);
        if (type == "function_call_output") return read_function_call_output(item, where);
        if (type == "reasoning") return read_reasoning_item(item, where);
        if (type == "item_reference") return stateless(where, "it cannot look items up; send the item itself.");
        return bad_value(where + ".type", type, "'message', 'function_call', 'function_call_output' and 'reasoning'");
    }

    /// The assistant turn to add to: the last message when it is one, else a new one.
    core::message& assistant_turn() {
        if (messages_.empty() || messages_.back().role != core::role::assistant)
            messages_.push_back({core::role::assistant, {}, {}});
        return messages_.back();
    }

    failure read_message(json::object& item, const std::string& where) {
        const auto* r = item.if_contains("role");
        if (!r || r->is_null()) return missing(where + ".role");
        if (!r->is_string()) return wrong_type(where + ".role", "a string", *r);
        const std::string_view role_word = r->get_string();
        auto role = core::role_from_string(role_word);
        if (!role || *role == core::role::tool)
            return bad_value(where + ".role", role_word, "'user', 'assistant', 'system' and 'developer'");

        auto* content = item.if_contains("content");
        if (!content || content->is_null()) return missing(where + ".content");
        std::vector<core::content_part> parts;
        if (auto e = read_content(*content, where + ".content", *role, parts)) return e;

        if (*role == core::role::assistant) {
            auto& turn = assistant_turn();
            for (auto& p : parts) turn.content.push_back(std::move(p));
        } else {
            messages_.push_back({*role, std::move(parts), {}});
        }
        return {};
    }

    failure read_content(json::value& v, const std::string& where, core::role role,
                         std::vector<core::content_part>& out) {
        if (v.is_string()) {
            out.emplace_back(core::text_part{std::string(v.get_string()), {}});
            return {};
        }
        if (!v.is_array()) return wrong_type(where, "a string or an array", v);
        auto& parts = v.get_array();
        const bool assistant = role == core::role::assistant;
        const std::string_view supported = assistant ? "'output_text', 'refusal' and 'input_text'"
                                           : role == core::role::user ? "'input_text' and 'input_image'"
                                                                      : "'input_text'";
        for (std::size_t i = 0; i < parts.size(); ++i) {
            const std::string at = index_path(where, i);
            if (!parts[i].is_object()) return wrong_type(at, "an object", parts[i]);
            auto& p = parts[i].get_object();
            const auto* t = p.if_contains("type");
            if (!t) return missing(at + ".type");
            if (!t->is_string()) return wrong_type(at + ".type", "a string", *t);
            const std::string_view type = t->get_string();
            const char* text_key = nullptr;
            if (type == "input_text" || (assistant && type == "output_text")) text_key = "text";
            else if (assistant && type == "refusal") text_key = "refusal";
            if (text_key) {
                const auto* text = p.if_contains(text_key);
                if (!text || text->is_null()) return missing(at + "." + text_key);
                if (!text->is_string()) return wrong_type(at + "." + text_key, "a string", *text);
                out.emplace_back(core::text_part{std::string(text->get_string()), {}});
            } else if (type == "input_image" && role == core::role::user) {
                core::image_part img;
                if (auto e = read_image(p, at, img)) return e;
                out.emplace_back(std::move(img));
            } else if (type == "input_file") {
                return bad(at + ".type", "Input files are not supported: send the document's text as "
                                         "'input_text' (or a page as an 'input_image').");
            } else {
                return bad_value(at + ".type", type, supported);
            }
        }
        return {};
    }

    static failure read_image(const json::object& p, const std::string& at, core::image_part& out) {
        if (const auto* id = p.if_contains("file_id"); id && !id->is_null())
            return bad(at + ".file_id", "Images by 'file_id' are not supported: sluice keeps no files; send "
                                        "'image_url' as an https URL or a data: URL.");
        const auto* url = p.if_contains("image_url");
        if (!url || url->is_null()) return missing(at + ".image_url");
        if (!url->is_string()) return wrong_type(at + ".image_url", "a string", *url);
        auto img = image_from_url(url->get_string());
        if (!img)
            return bad(at + ".image_url", "Invalid value for '" + at + ".image_url': a data URL must look like "
                                          "data:<media type>;base64,<data>.");
        if (const auto* detail = p.if_contains("detail"); detail && !detail->is_null()) {
            if (!detail->is_string()) return wrong_type(at + ".detail", "a string", *detail);
            img->detail = std::string(detail->get_string());
        }
        out = std::move(*img);
        return {};
    }

    static failure required_text(const json::object& item, const std::string& where, const char* key,
                                 std::string& out) {
        const auto* v = item.if_contains(key);
        if (!v || v->is_null()) return missing(where + "." + key);
        if (!v->is_string()) return wrong_type(where + "." + key, "a string", *v);
        out = std::string(v->get_string());
        return {};
    }

    failure read_function_call(const json::object& item, const std::string& where) {
        core::tool_call_part call;
        if (auto e = required_text(item, where, "call_id", call.id)) return e;
        if (auto e = required_text(item, where, "name", call.name)) return e;
        if (auto e = required_text(item, where, "arguments", call.arguments)) return e;
        assistant_turn().content.emplace_back(std::move(call));
        return {};
    }

    failure read_function_call_output(json::object& item, const std::string& where) {
        core::tool_result_part result;
        if (auto e = required_text(item, where, "call_id", result.call_id)) return e;
        auto* output = item.if_contains("output");
        if (!output || output->is_null()) return missing(where + ".output");
        std::vector<core::content_part> parts;
        if (auto e = read_content(*output, where + ".output", core::role::user, parts)) return e;
        for (auto& p : parts) {
            if (auto* t = std::get_if<core::text_part>(&p)) result.content.emplace_back(std::move(*t));
            else if (auto* img = std::get_if<core::image_part>(&p)) result.content.emplace_back(std::move(*img));
        }
        if (messages_.empty() || messages_.back().role != core::role::tool)
            messages_.push_back({core::role::tool, {}, {}});
        messages_.back().content.emplace_back(std::move(result));
        return {};
    }

    /// The summary texts (or, without a summary, the raw reasoning texts) joined by blank lines.
    static failure joined_texts(const json::object& item, const std::string& where, const char* key,
                                std::string_view part_type, std::string& out) {
        const auto* v = item.if_contains(key);
        if (!v || v->is_null()) return {};
        const std::string path = where + "." + key;
        if (!v->is_array()) return wrong_type(path, "an array", *v);
        const auto& parts = v->get_array();
        for (std::size_t i = 0; i < parts.size(); ++i) {
            const std::string at = index_path(path, i);
            if (!parts[i].is_object()) return wrong_type(at, "an object", parts[i]);
            const auto& p = parts[i].get_object();
            const auto* t = p.if_contains("type");
            if (t && t->is_string() && t->get_string() != part_type)
                return bad_value(at + ".type", t->get_string(), "'" + std::string(part_type) + "'");
            std::string text;
            if (auto e = required_text(p, at, "text", text)) return e;
            if (!out.empty()) out += "\n\n";
            out += text;
        }
        return {};
    }

    failure read_reasoning_item(const json::object& item, const std::string& where) {
        core::reasoning_part r;
        if (auto e = joined_texts(item, where, "summary", "summary_text", r.text)) return e;
        if (r.text.empty())
            if (auto e = joined_texts(item, where, "content", "reasoning_text", r.text)) return e;
        if (const auto* enc = item.if_contains("encrypted_content"); enc && !enc->is_null()) {
            if (!enc->is_string()) return wrong_type(where + ".encrypted_content", "a string", *enc);
            r.signature = std::string(enc->get_string());
        }
        assistant_turn().content.emplace_back(std::move(r));
        return {};
    }

    std::vector<core::message>& messages_;
};

} // namespace sluice::api::responses_detail

#endif

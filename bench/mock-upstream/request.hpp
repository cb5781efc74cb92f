#ifndef SLUICE_MOCK_REQUEST_HPP
#define SLUICE_MOCK_REQUEST_HPP

// What the mock reads of a request: the API it came in on, the model to echo, stream flags, a
// rough prompt size, and the directives of the last user message. Beast-free.

#include "directives.hpp"
#include "json_text.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sluice::mock {

enum class api { openai, anthropic };

struct mock_request {
    api kind = api::openai;
    std::string model;
    bool stream = false;
    bool include_usage = false;       // OpenAI stream_options.include_usage
    std::int64_t prompt_tokens = 1;   // request bytes / 4, at least 1
    directives dir;
    bool after_tool_result = false;   // tool results follow the directive message: tools= was dropped
};

/// A request the provider would refuse (400): its message, and OpenAI's param and code.
struct request_error {
    int status = 400;
    std::string message;
    std::string param; // empty: null
    std::string code;  // empty: null
    friend bool operator==(const request_error&, const request_error&) = default;
};

using read_result = std::variant<mock_request, request_error>;

namespace detail {

/// The text of one message's content: a string, or the text parts/blocks joined by newlines.
/// `tool_result` tells whether the content carries Anthropic tool_result blocks.
inline std::string message_text(const boost::json::value& content, bool& tool_result) {
    if (auto s = content.if_string()) return std::string(*s);
    std::string text;
    if (auto parts = content.if_array()) {
        for (const auto& p : *parts) {
            auto o = p.if_object();
            if (!o) continue;
            auto type = o->find("type");
            if (type == o->end() || !type->value().is_string()) continue;
            auto t = type->value().get_string();
            if (t == "text") {
                auto v = o->find("text");
                if (v != o->end() && v->value().is_string()) {
                    if (!text.empty()) text += '\n';
                    text += v->value().get_string();
                }
            } else if (t == "tool_result") {
                tool_result = true;
            }
        }
    }
    return text;
}

/// Directives come from the last user message that has text. Tool results after it (an OpenAI
/// `tool` message, or an Anthropic user turn of tool_result blocks) mean the client ran the
/// tools: the mock then answers with text instead of asking for the tools again.
inline void read_directives(const boost::json::array& messages, mock_request& r) {
    bool tool_result_seen = false;
    for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
        auto m = it->if_object();
        if (!m) continue;
        auto role = m->find("role");
        if (role == m->end() || !role->value().is_string()) continue;
        auto rs = role->value().get_string();
        if (rs == "tool" || rs == "function") {
            tool_result_seen = true;
            continue;
        }
        if (rs != "user") continue;
        auto content = m->find("content");
        if (content == m->end()) continue;
        bool has_tool_result = false;
        auto text = message_text(content->value(), has_tool_result);
        if (text.empty()) {
            tool_result_seen = tool_result_seen || has_tool_result;
            continue;
        }
        r.dir = parse_directives(text);
        if (tool_result_seen && r.dir.tools > 0) {
            r.dir.tools = 0;
            r.after_tool_result = true;
        }
        return;
    }
}

inline bool is_integer(const boost::json::value& v) { return v.is_int64() || v.is_uint64(); }

} // namespace detail

/// Reads a POST body of /v1/chat/completions (api::openai) or /v1/messages (api::anthropic).
/// Refuses what the provider refuses: bad JSON, no model, no messages, Anthropic without max_tokens.
inline read_result read_request(api kind, std::string_view body) {
    unsigned char buffer[8192];
    boost::json::monotonic_resource arena(buffer, sizeof buffer);
    boost::system::error_code ec;
    auto doc = boost::json::parse(body, ec, &arena);
    const bool openai = kind == api::openai;
    if (ec)
        return request_error{400,
                             openai ? "We could not parse the JSON body of your request. (HINT: This likely means you "
                                      "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
                                      "but what was sent was not valid JSON.)"
                                    : "There was an error parsing the body of your request: " + ec.message(),
                             {}, {}};
    auto obj = doc.if_object();
    if (!obj) return request_error{400, openai ? "Invalid type for body: expected an object." : "body: Input should be an object", {}, {}};

    mock_request r;
    r.kind = kind;
    r.prompt_tokens = std::max<std::int64_t>(1, std::int64_t(body.size() / 4));

    auto model = obj->find("model");
    if (model == obj->end() || !model->value().is_string())
        return request_error{400, openai ? "you must provide a model parameter" : "model: Field required", {}, {}};
    r.model = model->value().get_string();

    auto messages = obj->find("messages");
    if (messages == obj->end())
        return request_error{400, openai ? "Missing required parameter: 'messages'." : "messages: Field required",
                             "messages", "missing_required_parameter"};
    if (!messages->value().is_array())
        return request_error{400, openai ? "Invalid type for 'messages': expected an array." : "messages: Input should be a valid list",
                             "messages", "invalid_type"};

    if (!openai) {
        auto max_tokens = obj->find("max_tokens");
        if (max_tokens == obj->end()) return request_error{400, "max_tokens: Field required", {}, {}};
        if (!detail::is_integer(max_tokens->value()))
            return request_error{400, "max_tokens: Input should be a valid integer", {}, {}};
    }

    if (auto s = obj->find("stream"); s != obj->end() && s->value().is_bool()) r.stream = s->value().get_bool();
    if (openai) {
        if (auto so = obj->find("stream_options"); so != obj->end() && so->value().is_object()) {
            auto& o = so->value().get_object();
            if (auto u = o.find("include_usage"); u != o.end() && u->value().is_bool())
                r.include_usage = u->value().get_bool();
        }
    }
    detail::read_directives(messages->value().get_array(), r);
    return r;
}

/// POST /v1/messages/count_tokens: the same rough count as the usage, or nothing for bad JSON.
inline std::optional<std::int64_t> rough_token_count(std::string_view body) {
    unsigned char buffer[8192];
    boost::json::monotonic_resource arena(buffer, sizeof buffer);
    boost::system::error_code ec;
    auto doc = boost::json::parse(body, ec, &arena);
    if (ec || !doc.is_object()) return std::nullopt;
    return std::max<std::int64_t>(1, std::int64_t(body.size() / 4));
}

/// The text of an echo=1 answer: {"headers":{lower-case name: value},"body":<the body as received>}.
/// Repeated headers are joined with ", ". The body is inserted as is: it parsed as JSON.
inline std::string echo_text(const std::vector<std::pair<std::string, std::string>>& headers, std::string_view body) {
    std::string out;
    out.reserve(body.size() + 64 * headers.size() + 32);
    out += "{\"headers\":{";
    bool first = true;
    for (std::size_t i = 0; i < headers.size(); ++i) {
        bool earlier = false;
        for (std::size_t j = 0; j < i && !earlier; ++j) earlier = headers[j].first == headers[i].first;
        if (earlier) continue;
        std::string value = headers[i].second;
        for (std::size_t j = i + 1; j < headers.size(); ++j)
            if (headers[j].first == headers[i].first) value += ", " + headers[j].second;
        if (!first) out += ',';
        first = false;
        append_json_string(out, headers[i].first);
        out += ':';
        append_json_string(out, value);
    }
    out += "},\"body\":";
    out += body;
    out += '}';
    return out;
}

} // namespace sluice::mock

#endif

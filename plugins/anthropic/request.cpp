#include "request.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <utility>
#include <vector>

namespace sluice::anthropic {

namespace json = boost::json;
using plugin::header_list;

namespace {

core::error invalid(std::string message, std::string param) {
    return core::error{core::error_kind::invalid_request, std::move(message), std::move(param), {}};
}

std::string message_param(std::size_t index) { return "messages[" + std::to_string(index) + "]"; }

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

bool is_blank(std::string_view s) noexcept {
    return std::all_of(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

// ---------------------------------------------------------------- blocks

void put_cache(json::object& block, const std::optional<core::cache_control>& cache) {
    if (!cache) return;
    json::object c;
    c["type"] = "ephemeral";
    if (cache->ttl == core::cache_control::time_to_live::one_hour) c["ttl"] = "1h";
    block["cache_control"] = std::move(c);
}

json::object text_block(const core::text_part& t) {
    json::object b;
    b["type"] = "text";
    b["text"] = t.text;
    put_cache(b, t.cache);
    return b;
}

plugin::result<json::object> image_block(const core::image_part& img, std::size_t msg) {
    json::object source;
    std::string_view url = img.url;
    if (img.is_inline()) {
        source["type"] = "base64";
        source["media_type"] = img.media_type;
        source["data"] = img.data;
    } else if (url.starts_with("data:")) {
        // An OpenAI client sends inline images as data URLs: data:<media type>;base64,<data>.
        const auto comma = url.find(',');
        const auto head = url.substr(5, comma == std::string_view::npos ? 0 : comma - 5);
        if (comma == std::string_view::npos || !head.ends_with(";base64"))
            return invalid(message_param(msg) + ": an image data URL must be base64 (data:<type>;base64,<data>)",
                           message_param(msg));
        source["type"] = "base64";
        source["media_type"] = head.substr(0, head.size() - 7);
        source["data"] = url.substr(comma + 1);
    } else {
        source["type"] = "url";
        source["url"] = img.url;
    }
    json::object b;
    b["type"] = "image";
    b["source"] = std::move(source);
    put_cache(b, img.cache);
    return b;
}

plugin::result<json::object> tool_use_block(const core::tool_call_part& call, std::size_t msg) {
    json::value input = json::object{};
    if (!is_blank(call.arguments)) {
        boost::system::error_code ec;
        input = json::parse(call.arguments, ec);
        if (ec || !input.is_object())
            return invalid(
                message_param(msg) + ": the arguments of tool call " + call.id + " (" + call.name + ") " +
                    (ec ? "are not valid JSON (" + ec.message() + ")" : std::string("are not a JSON object")) +
                    "; Anthropic takes tool_use.input as a JSON object",
                message_param(msg));
    }
    json::object b;
    b["type"] = "tool_use";
    b["id"] = call.id;
    b["name"] = call.name;
    b["input"] = std::move(input);
    put_cache(b, call.cache);
    return b;
}

plugin::result<json::object> tool_result_block(const core::tool_result_part& r, std::size_t msg) {
    json::object b;
    b["type"] = "tool_result";
    b["tool_use_id"] = r.call_id;
    const auto* only_text = r.content.size() == 1 ? std::get_if<core::text_part>(&r.content.front()) : nullptr;
    if (only_text && !only_text->cache) {
        b["content"] = only_text->text;
    } else if (!r.content.empty()) {
        json::array content;
        for (const auto& c : r.content) {
            if (const auto* t = std::get_if<core::text_part>(&c)) {
                if (!t->text.empty()) content.push_back(text_block(*t));
            } else {
                auto img = image_block(std::get<core::image_part>(c), msg);
                if (!img) return std::move(img).error();
                content.push_back(std::move(*img));
            }
        }
        b["content"] = std::move(content);
    }
    if (r.is_error) b["is_error"] = true;
    put_cache(b, r.cache);
    return b;
}

/// Appends the blocks of message `msg` to `out`; a part Anthropic cannot take in this role is skipped.
plugin::result<void> append_blocks(const core::message& m, std::size_t msg, bool assistant, json::array& out) {
    for (const auto& part : m.content) {
        if (const auto* t = std::get_if<core::text_part>(&part)) {
            if (!t->text.empty()) out.push_back(text_block(*t));
        } else if (const auto* img = std::get_if<core::image_part>(&part)) {
            auto b = image_block(*img, msg);
            if (!b) return std::move(b).error();
            out.push_back(std::move(*b));
        } else if (const auto* call = std::get_if<core::tool_call_part>(&part)) {
            auto b = tool_use_block(*call, msg);
            if (!b) return std::move(b).error();
            out.push_back(std::move(*b));
        } else if (const auto* res = std::get_if<core::tool_result_part>(&part)) {
            auto b = tool_result_block(*res, msg);
            if (!b) return std::move(b).error();
            out.push_back(std::move(*b));
        } else if (const auto* r = std::get_if<core::reasoning_part>(&part); r && assistant) {
            if (r->redacted) {
                out.push_back(json::object{{"type", "redacted_thinking"}, {"data", r->text}});
            } else if (!r->signature.empty()) {
                out.push_back(json::object{{"type", "thinking"}, {"thinking", r->text}, {"signature", r->signature}});
            }
        }
    }
    return {};
}

// ---------------------------------------------------------------- turns

struct turn {
    bool assistant = false;
    json::array content;
};

/// tool_result blocks first in a user turn, the rest in their order after them.
void tool_results_first(json::array& content) {
    std::stable_partition(content.begin(), content.end(),
                          [](const json::value& b) { return b.as_object().at("type").as_string() == "tool_result"; });
}

plugin::result<void> encode_conversation(const core::envelope& request, json::object& body) {
    std::vector<const core::text_part*> system;
    for (const auto& s : request.system) system.push_back(&s);

    std::vector<turn> turns;
    for (std::size_t i = 0; i < request.messages.size(); ++i) {
        const auto& m = request.messages[i];
        if (m.role == core::role::system || m.role == core::role::developer) {
            for (const auto& part : m.content)
                if (const auto* t = std::get_if<core::text_part>(&part)) system.push_back(t);
            continue;
        }
        const bool assistant = m.role == core::role::assistant;
        json::array blocks;
        if (auto r = append_blocks(m, i, assistant, blocks); !r) return std::move(r).error();
        if (blocks.empty()) continue;
        if (turns.empty() || turns.back().assistant != assistant) turns.push_back({assistant, {}});
        for (auto& b : blocks) turns.back().content.push_back(std::move(b));
    }

    const bool system_blocks =
        std::any_of(system.begin(), system.end(), [](const core::text_part* t) { return t->cache.has_value(); });
    if (system_blocks) {
        json::array blocks;
        for (const auto* t : system)
            if (!t->text.empty()) blocks.push_back(text_block(*t));
        body["system"] = std::move(blocks);
    } else {
        std::string text;
        for (const auto* t : system) {
            if (t->text.empty()) continue;
            if (!text.empty()) text += "\n\n";
            text += t->text;
        }
        if (!text.empty()) body["system"] = std::move(text);
    }

    json::array messages;
    for (auto& t : turns) {
        if (!t.assistant) tool_results_first(t.content);
        messages.push_back(
            json::object{{"role", t.assistant ? "assistant" : "user"}, {"content", std::move(t.content)}});
    }
    body["messages"] = std::move(messages);
    return {};
}

void encode_tools(const core::envelope& request, json::object& body) {
    if (request.tools.empty()) return;
    json::array tools;
    for (const auto& t : request.tools) {
        json::object o;
        o["name"] = t.name;
        if (!t.description.empty()) o["description"] = t.description;
        o["input_schema"] = t.input_schema.is_null()
                                ? json::value(json::object{{"type", "object"}, {"properties", json::object{}}})
                                : t.input_schema;
        put_cache(o, t.cache);
        tools.push_back(std::move(o));
    }
    body["tools"] = std::move(tools);

    const auto choice = request.tool_choice.value_or(core::tool_choice{});
    json::object c;
    switch (choice.mode) {
    case core::tool_choice::mode::automatic: c["type"] = "auto"; break;
    case core::tool_choice::mode::required: c["type"] = "any"; break;
    case core::tool_choice::mode::none: c["type"] = "none"; break;
    case core::tool_choice::mode::named:
        c["type"] = "tool";
        c["name"] = choice.name;
        break;
    }
    const bool serial = request.parallel_tool_calls == false && choice.mode != core::tool_choice::mode::none;
    if (serial) c["disable_parallel_tool_use"] = true;
    if (request.tool_choice || serial) body["tool_choice"] = std::move(c);
}

} // namespace

// ---------------------------------------------------------------- settings

std::string messages_path(std::string_view base_url) {
    while (base_url.ends_with('/')) base_url.remove_suffix(1);
    return base_url.ends_with("/v1") ? "/messages" : "/v1/messages";
}

request_settings request_settings::from_config(const plugin::provider_config& config) {
    request_settings s;
    s.path = messages_path(config.base_url);
    s.api_key = config.api_key;
    s.headers = config.headers;
    if (const auto* v = config.options.if_contains("default_max_tokens")) {
        const auto* n = v->if_int64();
        const auto* u = v->if_uint64();
        const std::uint64_t value = n ? (*n > 0 ? std::uint64_t(*n) : 0) : u ? *u : 0;
        if (value == 0 || value > UINT32_MAX)
            throw std::invalid_argument("anthropic: option default_max_tokens must be a positive integer, got " +
                                        json::serialize(*v));
        s.default_max_tokens = std::uint32_t(value);
    }
    if (const auto* v = config.options.if_contains("anthropic_version")) {
        if (!v->is_string() || v->as_string().empty())
            throw std::invalid_argument("anthropic: option anthropic_version must be a non-empty string, got " +
                                        json::serialize(*v));
        s.api_version = std::string(v->as_string());
    }
    return s;
}

// ---------------------------------------------------------------- the body

plugin::result<json::object> encode_body(const core::envelope& request, const request_settings& settings) {
    const auto& sampling = request.sampling;
    if (sampling.n && *sampling.n > 1) return invalid("Anthropic answers one choice per request; n must be 1", "n");

    const std::uint32_t max_tokens = sampling.max_output_tokens.value_or(settings.default_max_tokens);
    std::optional<std::uint32_t> budget = core::reasoning_budget(request.reasoning, max_tokens);
    if (budget && *budget > 0) {
        if (max_tokens <= min_thinking_budget)
            return invalid("reasoning on Anthropic needs max_tokens above " + std::to_string(min_thinking_budget) +
                               " (thinking.budget_tokens is at least " + std::to_string(min_thinking_budget) +
                               " and below max_tokens); got " + std::to_string(max_tokens),
                           "max_tokens");
        budget = std::clamp(*budget, min_thinking_budget, max_tokens - 1);
    }

    json::object body;
    body["model"] = request.model;
    body["max_tokens"] = max_tokens;
    if (auto r = encode_conversation(request, body); !r) return std::move(r).error();
    encode_tools(request, body);
    if (budget && *budget > 0) body["thinking"] = json::object{{"type", "enabled"}, {"budget_tokens", *budget}};
    if (sampling.temperature) body["temperature"] = *sampling.temperature;
    if (sampling.top_p) body["top_p"] = *sampling.top_p;
    if (sampling.top_k) body["top_k"] = *sampling.top_k;
    if (!sampling.stop.empty()) {
        json::array stops;
        for (const auto& s : sampling.stop) stops.emplace_back(s);
        body["stop_sequences"] = std::move(stops);
    }
    std::string user = request.user;
    if (auto it = request.metadata.find("user_id"); user.empty() && it != request.metadata.end()) user = it->second;
    if (!user.empty()) body["metadata"] = json::object{{"user_id", user}};
    if (request.stream) body["stream"] = true;

    for (const auto& [key, value] : request.extras)
        if (!body.contains(key)) body[key] = value;
    return body;
}

// ---------------------------------------------------------------- the request

plugin::result<plugin::upstream_request> build_request(const core::envelope& request,
                                                       const request_settings& settings) {
    auto body = encode_body(request, settings);
    if (!body) return std::move(body).error();

    std::string version = settings.api_version;
    std::vector<std::string> betas;
    auto add_betas = [&betas](std::string_view list) {
        while (!list.empty()) {
            const auto comma = list.find(',');
            auto item = list.substr(0, comma);
            list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
            while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
            while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
            if (!item.empty() && std::find(betas.begin(), betas.end(), item) == betas.end()) betas.emplace_back(item);
        }
    };
    for (const auto& [name, value] : settings.headers) {
        if (iequals(name, "anthropic-version")) version = value;
        if (iequals(name, "anthropic-beta")) add_betas(value);
    }
    // The client's own headers (core::envelope::forward_headers): its anthropic-version wins,
    // its beta flags join the config's, and other anthropic-* headers go on as they are.
    header_list forwarded;
    for (const auto& [name, value] : request.forward_headers) {
        if (iequals(name, "anthropic-version")) {
            if (!value.empty()) version = value;
        } else if (iequals(name, "anthropic-beta")) {
            add_betas(value);
        } else if (name.size() > 10 && iequals(std::string_view(name).substr(0, 10), "anthropic-")) {
            forwarded.emplace_back(name, value);
        }
    }

    plugin::upstream_request out;
    out.method = "POST";
    out.path = settings.path;
    out.headers.emplace_back("content-type", "application/json");
    if (!settings.api_key.empty()) out.headers.emplace_back("x-api-key", settings.api_key);
    out.headers.emplace_back("anthropic-version", std::move(version));
    if (!betas.empty()) {
        std::string joined;
        for (const auto& b : betas) joined += (joined.empty() ? "" : ",") + b;
        out.headers.emplace_back("anthropic-beta", std::move(joined));
    }
    for (const auto& [name, value] : settings.headers)
        if (!iequals(name, "anthropic-version") && !iequals(name, "anthropic-beta"))
            out.headers.emplace_back(name, value);
    for (auto& h : forwarded) out.headers.push_back(std::move(h));
    out.body = json::serialize(*body);
    return out;
}

} // namespace sluice::anthropic

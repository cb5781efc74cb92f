#ifndef SLUICE_API_MESSAGES_DECODE_HPP
#define SLUICE_API_MESSAGES_DECODE_HPP

// POST /v1/messages (and /v1/messages/count_tokens) -> envelope. Decisions, each one line:
// - Errors are 400 invalid_request with the field's path as param (`messages[1].content[0].source
//   .media_type`) and at the head of the message, which is all an Anthropic client shows.
// - anthropic-version and anthropic-beta are copied to forward_headers, never judged (WIRE.md).
// - cache_control {type:"ephemeral", ttl 5m|1h} is kept on system, text, image, document, tool_use,
//   tool_result blocks and tools (WIRE.md failure 6); another type or ttl is a 400.
// - Tools with a `type` other than "custom" (web_search_20250305, bash_20250124, text_editor_*,
//   computer_*…) are a 400, not dropped: Anthropic runs or defines them, the gateway has neither
//   the runner nor the schema, and Claude Code sends web_search only in its WebSearch sub-request,
//   with tool_choice naming it; dropping it would let the model answer as if it had searched.
// - redacted_thinking is kept as a redacted reasoning part (its data in `text`); thinking without
//   a signature is kept with an empty one (the Anthropic provider drops unsigned thinking).
// - document blocks with a plain-text source (`text`, or `content` of text blocks) become text
//   parts; PDF sources (base64, url, file) are a 400: no backend here reads PDFs.
// - thinking {type:"adaptive"} is reasoning at output_config.effort (high when unset; xhigh reads
//   as high); with thinking enabled the effort is kept beside the budget; without thinking it is
//   ignored. thinking.budget_tokens must be >= 1024 and < max_tokens, except with the
//   interleaved-thinking beta, where Anthropic lets the budget pass max_tokens.
// - tool_use.input becomes the arguments as compact JSON text, keys in the client's order.
// - output_config.format (and the beta's top-level output_format) {type:"json_schema", schema} is
//   kept as response_format in the flat shape {type, name:"response", schema}.
// - container and mcp_servers are a 400 (Anthropic-hosted features); service_tier,
//   context_management and fields this decoder does not know are ignored, so a newer client
//   still gets through.
// - metadata.user_id becomes the envelope's user; include_usage follows stream (Anthropic streams
//   always report usage).

#include <sluice/api/codec.hpp>
#include <sluice/api/messages_content.hpp>
#include <sluice/api/messages_json.hpp>

#include <sluice/core/envelope.hpp>
#include <sluice/core/result.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::api {

namespace messages_detail {

/// Anthropic's floor for thinking.budget_tokens.
inline constexpr std::uint64_t min_thinking_budget = 1024;

inline bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

/// Anthropic's rule for tool names: 1 to 128 of [a-zA-Z0-9_-].
inline bool valid_tool_name(std::string_view name) noexcept {
    return !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
}

/// Reads one request body into an envelope; each read_* names the first thing wrong.
class request_reader {
public:
    request_reader(const request_headers& headers, bool count_tokens)
        : headers_(headers), count_tokens_(count_tokens) {}

    core::result<core::envelope> read(const json::value& body) {
        const auto* o = body.if_object();
        if (!o) return invalid("", "the request body must be a JSON object, " + got(body));
        env_.endpoint = core::endpoint::chat;
        env_.api = core::front_api::messages;
        copy_headers();
        for (auto step :
             {&request_reader::read_model, &request_reader::read_max_tokens, &request_reader::refuse_hosted,
              &request_reader::read_system, &request_reader::read_messages, &request_reader::read_tools,
              &request_reader::read_tool_choice, &request_reader::read_sampling, &request_reader::read_thinking,
              &request_reader::read_output_format, &request_reader::read_metadata})
            if (auto f = (this->*step)(*o)) return std::move(*f);
        return std::move(env_);
    }

private:
    void copy_headers() {
        for (const auto& [name, value] : headers_) {
            for (std::string_view forwarded : {"anthropic-version", "anthropic-beta"}) {
                if (!iequals(name, forwarded)) continue;
                env_.forward_headers.emplace_back(std::string(forwarded), value);
                if (forwarded == "anthropic-beta" && value.find("interleaved-thinking") != std::string::npos)
                    interleaved_thinking_ = true;
            }
        }
    }

    // ------------------------------------------------------------ top level

    failure read_model(const json::object& o) {
        const auto* v = o.if_contains("model");
        if (!v) return invalid("model", "field required (the model to answer, e.g. \"claude-sonnet-4-5\")");
        if (!v->is_string() || v->get_string().empty())
            return invalid("model", "expected a non-empty string, " + got(*v));
        env_.model = std::string(v->get_string());
        return {};
    }

    failure read_max_tokens(const json::object& o) {
        const auto* v = o.if_contains("max_tokens");
        if (!v || v->is_null()) {
            if (count_tokens_) return {};
            return invalid("max_tokens", "field required (the most tokens the answer may have, a positive integer)");
        }
        auto n = whole_number(*v, "max_tokens", 1, UINT32_MAX, "the most tokens the answer may have");
        if (!n) return std::move(n).error();
        env_.sampling.max_output_tokens = std::uint32_t(*n);
        return {};
    }

    failure refuse_hosted(const json::object& o) {
        for (std::string_view key : {"container", "mcp_servers"})
            if (const auto* v = o.if_contains(key); v && !v->is_null())
                return invalid(std::string(key), "not supported by this gateway: it is an Anthropic-hosted feature "
                                                 "that no backend here runs; remove the field");
        return {};
    }

    failure read_system(const json::object& o) {
        const auto* v = o.if_contains("system");
        if (!v || v->is_null()) return {};
        if (const auto* s = v->if_string()) {
            if (!s->empty()) env_.system.push_back(core::text_part{std::string(*s), {}});
            return {};
        }
        const auto* blocks = v->if_array();
        if (!blocks) return invalid("system", "expected a string or an array of text blocks, " + got(*v));
        for (std::size_t i = 0; i < blocks->size(); ++i) {
            const std::string path = at("system", i);
            const auto* b = (*blocks)[i].if_object();
            if (!b)
                return invalid(path, "expected a text block {\"type\": \"text\", \"text\": ...}, " + got((*blocks)[i]));
            if (auto type = block_type(*b, path); !type)
                return std::move(type).error();
            else if (*type != "text")
                return invalid(at(path, "type"), "system takes text blocks only, got " + quote_json(*type));
            core::text_part t;
            if (auto f = read_text(*b, path, t)) return f;
            env_.system.push_back(std::move(t));
        }
        return {};
    }

    failure read_messages(const json::object& o) {
        const auto* v = o.if_contains("messages");
        if (!v)
            return invalid("messages", "field required (the conversation: an array of user and assistant messages)");
        const auto* list = v->if_array();
        if (!list) return invalid("messages", "expected an array of messages, " + got(*v));
        if (list->empty()) return invalid("messages", "must hold at least one message");
        env_.messages.reserve(list->size());
        for (std::size_t i = 0; i < list->size(); ++i)
            if (auto f = read_message((*list)[i], at("messages", i), env_.messages)) return f;
        return {};
    }

    // ------------------------------------------------------------ tools

    failure read_tools(const json::object& o) {
        const auto* v = o.if_contains("tools");
        if (!v || v->is_null()) return {};
        const auto* list = v->if_array();
        if (!list) return invalid("tools", "expected an array of tools, " + got(*v));
        for (std::size_t i = 0; i < list->size(); ++i) {
            const std::string path = at("tools", i);
            const auto* t = (*list)[i].if_object();
            if (!t)
                return invalid(path,
                               "expected a tool {\"name\", \"description\", \"input_schema\"}, " + got((*list)[i]));
            if (const auto* type = t->if_contains("type");
                type && !type->is_null() && !(type->is_string() && type->get_string() == "custom"))
                return invalid(at(path, "type"),
                               (type->is_string() ? quote_json(type->get_string()) : got(*type)) +
                                   " is an Anthropic-defined tool that this gateway can neither run nor describe to "
                                   "other models; define it as a custom tool (name, description, input_schema)");
            core::tool tool;
            const auto* name = t->if_contains("name");
            if (!name || !name->is_string() || !valid_tool_name(name->get_string()))
                return invalid(at(path, "name"), "expected 1 to 128 letters, digits, '_' or '-', " +
                                                     (name ? got(*name) : std::string("got nothing")));
            tool.name = std::string(name->get_string());
            for (std::size_t j = 0; j < env_.tools.size(); ++j)
                if (env_.tools[j].name == tool.name)
                    return invalid(at(path, "name"), quote_json(tool.name) + " is already the name of tools[" +
                                                         std::to_string(j) + "]; tool names must be unique");
            if (const auto* d = t->if_contains("description"); d && !d->is_null()) {
                if (!d->is_string()) return invalid(at(path, "description"), "expected a string, " + got(*d));
                tool.description = std::string(d->get_string());
            }
            const auto* schema = t->if_contains("input_schema");
            if (!schema || !schema->is_object())
                return invalid(at(path, "input_schema"), "expected a JSON Schema object ({\"type\": \"object\", "
                                                         "\"properties\": ...}), " +
                                                             (schema ? got(*schema) : std::string("got nothing")));
            if (const auto* st = schema->get_object().if_contains("type");
                st && !(st->is_string() && st->get_string() == "object"))
                return invalid(at(at(path, "input_schema"), "type"), "expected \"object\", " + got(*st));
            tool.input_schema = *schema;
            if (const auto* s = t->if_contains("strict"); s && !s->is_null()) {
                if (!s->is_bool()) return invalid(at(path, "strict"), "expected true or false, " + got(*s));
                tool.strict = s->get_bool();
            }
            if (auto f = read_cache(*t, path, tool.cache)) return f;
            env_.tools.push_back(std::move(tool));
        }
        return {};
    }

    failure read_tool_choice(const json::object& o) {
        const auto* v = o.if_contains("tool_choice");
        if (!v || v->is_null()) return {};
        const auto* c = v->if_object();
        if (!c)
            return invalid("tool_choice",
                           "expected an object {\"type\": \"auto\" | \"any\" | \"tool\" | \"none\"}, " + got(*v));
        const auto* type = c->if_contains("type");
        const std::string_view kind = type && type->is_string() ? std::string_view(type->get_string()) : "";
        core::tool_choice choice;
        if (kind == "auto") {
            choice.mode = core::tool_choice::mode::automatic;
        } else if (kind == "any") {
            choice.mode = core::tool_choice::mode::required;
        } else if (kind == "none") {
            choice.mode = core::tool_choice::mode::none;
        } else if (kind == "tool") {
            choice.mode = core::tool_choice::mode::named;
            const auto* name = c->if_contains("name");
            if (!name || !name->is_string() || name->get_string().empty())
                return invalid("tool_choice.name", "expected the name of the tool to call, " +
                                                       (name ? got(*name) : std::string("got nothing")));
            choice.name = std::string(name->get_string());
            const bool defined = std::any_of(env_.tools.begin(), env_.tools.end(),
                                             [&](const core::tool& t) { return t.name == choice.name; });
            if (!defined)
                return invalid("tool_choice.name", quote_json(choice.name) + " is not one of the tools in the request");
        } else {
            return invalid("tool_choice.type", "expected \"auto\", \"any\", \"tool\" or \"none\", " +
                                                   (type ? got(*type) : std::string("got nothing")));
        }
        if (env_.tools.empty() && (kind == "any" || kind == "tool"))
            return invalid("tool_choice", "tool_choice " + quote_json(kind) + " needs tools, and the request has none");
        if (const auto* d = c->if_contains("disable_parallel_tool_use"); d && !d->is_null()) {
            if (!d->is_bool())
                return invalid("tool_choice.disable_parallel_tool_use", "expected true or false, " + got(*d));
            env_.parallel_tool_calls = !d->get_bool();
        }
        env_.tool_choice = std::move(choice);
        return {};
    }

    // ------------------------------------------------------------ generation options

    failure read_sampling(const json::object& o) {
        auto& s = env_.sampling;
        if (const auto* v = o.if_contains("temperature"); v && !v->is_null()) {
            auto d = number_in(*v, "temperature", 0, 1);
            if (!d) return std::move(d).error();
            s.temperature = *d;
        }
        if (const auto* v = o.if_contains("top_p"); v && !v->is_null()) {
            auto d = number_in(*v, "top_p", 0, 1);
            if (!d) return std::move(d).error();
            s.top_p = *d;
        }
        if (const auto* v = o.if_contains("top_k"); v && !v->is_null()) {
            auto n = whole_number(*v, "top_k", 0, UINT32_MAX, "sample from the k likeliest tokens");
            if (!n) return std::move(n).error();
            s.top_k = std::uint32_t(*n);
        }
        if (const auto* v = o.if_contains("stop_sequences"); v && !v->is_null()) {
            const auto* list = v->if_array();
            if (!list) return invalid("stop_sequences", "expected an array of strings, " + got(*v));
            for (std::size_t i = 0; i < list->size(); ++i) {
                const auto* str = (*list)[i].if_string();
                if (!str || str->empty())
                    return invalid(at("stop_sequences", i), "expected a non-empty string, " + got((*list)[i]));
                s.stop.emplace_back(*str);
            }
        }
        if (const auto* v = o.if_contains("stream"); v && !v->is_null()) {
            if (!v->is_bool()) return invalid("stream", "expected true or false, " + got(*v));
            env_.stream = v->get_bool() && !count_tokens_;
            env_.include_usage = env_.stream;
        }
        return {};
    }

    failure read_thinking(const json::object& o) {
        const auto* v = o.if_contains("thinking");
        if (!v || v->is_null()) return {};
        const auto* t = v->if_object();
        if (!t)
            return invalid("thinking",
                           "expected {\"type\": \"enabled\", \"budget_tokens\": N}, {\"type\": \"adaptive\"} "
                           "or {\"type\": \"disabled\"}, " +
                               got(*v));
        const auto* type = t->if_contains("type");
        const std::string_view kind = type && type->is_string() ? std::string_view(type->get_string()) : "";
        if (kind == "disabled") return {};
        if (kind == "adaptive") {
            auto effort = read_effort(o);
            if (!effort) return std::move(effort).error();
            env_.reasoning.effort = *effort;
            return {};
        }
        if (kind != "enabled")
            return invalid("thinking.type", "expected \"enabled\", \"adaptive\" or \"disabled\", " +
                                                (type ? got(*type) : std::string("got nothing")));
        const auto* budget = t->if_contains("budget_tokens");
        if (!budget)
            return invalid("thinking.budget_tokens",
                           "field required with thinking enabled (an integer of at least 1024)");
        auto n = whole_number(*budget, "thinking.budget_tokens", min_thinking_budget, UINT32_MAX,
                              "tokens the model may think");
        if (!n) return std::move(n).error();
        const auto max = env_.sampling.max_output_tokens;
        if (max && *n >= *max && !interleaved_thinking_)
            return invalid("thinking.budget_tokens",
                           "must be less than max_tokens (" + std::to_string(*max) + "), got " + std::to_string(*n) +
                               "; only with the interleaved-thinking beta may the budget pass max_tokens");
        env_.reasoning.budget_tokens = std::uint32_t(*n);
        if (const auto* oc = o.if_contains("output_config");
            oc && oc->is_object() && oc->get_object().contains("effort")) {
            auto effort = read_effort(o);
            if (!effort) return std::move(effort).error();
            env_.reasoning.effort = *effort;
        }
        return {};
    }

    /// output_config.effort; high when unset (Anthropic's default).
    core::result<core::reasoning_effort> read_effort(const json::object& o) {
        const auto* oc = o.if_contains("output_config");
        if (!oc || oc->is_null()) return core::reasoning_effort::high;
        if (!oc->is_object()) return invalid("output_config", "expected an object, " + got(*oc));
        const auto* e = oc->get_object().if_contains("effort");
        if (!e || e->is_null()) return core::reasoning_effort::high;
        const std::string_view word = e->is_string() ? std::string_view(e->get_string()) : "";
        if (word == "xhigh") return core::reasoning_effort::high;
        const auto effort = core::reasoning_effort_from_string(word);
        if (!effort || *effort == core::reasoning_effort::none)
            return invalid("output_config.effort",
                           "expected \"low\", \"medium\", \"high\", \"xhigh\" or \"max\", " + got(*e));
        return *effort;
    }

    failure read_output_format(const json::object& o) {
        const json::value* format = nullptr;
        std::string path = "output_config.format";
        if (const auto* oc = o.if_contains("output_config"); oc && oc->is_object())
            format = oc->get_object().if_contains("format");
        if (!format || format->is_null()) {
            format = o.if_contains("output_format");
            path = "output_format";
        }
        if (!format || format->is_null()) return {};
        const auto* f = format->if_object();
        const auto* type = f ? f->if_contains("type") : nullptr;
        if (!type || !type->is_string() || type->get_string() != "json_schema")
            return invalid(at(path, "type"),
                           "expected \"json_schema\", " + (type ? got(*type) : std::string("got nothing")));
        const auto* schema = f->if_contains("schema");
        if (!schema || !schema->is_object())
            return invalid(at(path, "schema"),
                           "expected a JSON Schema object, " + (schema ? got(*schema) : std::string("got nothing")));
        env_.response_format = json::object{{"type", "json_schema"}, {"name", "response"}, {"schema", *schema}};
        return {};
    }

    failure read_metadata(const json::object& o) {
        const auto* v = o.if_contains("metadata");
        if (!v || v->is_null()) return {};
        const auto* m = v->if_object();
        if (!m) return invalid("metadata", "expected an object {\"user_id\": ...}, " + got(*v));
        if (const auto* user = m->if_contains("user_id"); user && !user->is_null()) {
            if (!user->is_string()) return invalid("metadata.user_id", "expected a string, " + got(*user));
            env_.user = std::string(user->get_string());
        }
        return {};
    }

    const request_headers& headers_;
    bool count_tokens_;
    bool interleaved_thinking_ = false;
    core::envelope env_;
};

} // namespace messages_detail

/// `POST /v1/messages` -> the canonical request, or a 400 that names the field at fault.
inline core::result<core::envelope> decode_messages_request(std::string_view body, const request_headers& headers) {
    auto parsed = messages_detail::parse_body(body);
    if (!parsed) return std::move(parsed).error();
    return messages_detail::request_reader(headers, false).read(*parsed);
}

/// `POST /v1/messages/count_tokens`: the same request, max_tokens optional and stream ignored.
inline core::result<core::envelope> decode_count_tokens_request(std::string_view body, const request_headers& headers) {
    auto parsed = messages_detail::parse_body(body);
    if (!parsed) return std::move(parsed).error();
    return messages_detail::request_reader(headers, true).read(*parsed);
}

} // namespace sluice::api

#endif

#ifndef SLUICE_API_RESPONSES_DECODE_HPP
#define SLUICE_API_RESPONSES_DECODE_HPP

// POST /v1/responses body -> envelope, as the official SDKs send it.
//
// sluice is stateless, and this decides what the decoder takes:
//   - refused (400 naming the param): previous_response_id, conversation, prompt (stored
//     templates), background: true, item_reference items, file_id images, input_file parts,
//     built-in tools (web_search, file_search, ...): a gateway can neither look up what OpenAI
//     stores nor run OpenAI's hosted tools;
//   - accepted and ignored: store (nothing is kept, whatever it says), include (reasoning comes
//     back with its signature as encrypted_content whenever the model gives one; logprobs and
//     hosted-tool outputs never exist here), stream_options, truncation, max_tool_calls,
//     reasoning.summary;
//   - text.verbosity goes to extras as `verbosity` (Chat Completions' name); every unknown
//     top-level field goes to extras, for the catalog to let through or drop.
// `input` is read by responses_input.hpp. Errors use OpenAI's own wording and the exact path of
// the field at fault; malformed JSON gets its line, column and byte.

#include <sluice/api/codec.hpp>
#include <sluice/api/responses_input.hpp>
#include <sluice/core/envelope.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/result.hpp>

#include <boost/json/parse_options.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::api {

namespace responses_detail {

inline std::string number_text(double d) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, d);
    return std::string(buf, r.ptr);
}

/// Line and column (from 1) of byte `at` in `text`.
inline std::string position_text(std::string_view text, std::size_t at) {
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < at && i < text.size(); ++i) {
        if (text[i] == '\n') ++line, column = 1;
        else ++column;
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column) + " (byte " + std::to_string(at) + ")";
}

class request_reader {
public:
    core::envelope envelope;

    failure read(json::object& root) {
        envelope.api = core::front_api::responses;
        envelope.endpoint = core::endpoint::chat;

        auto* model = root.if_contains("model");
        if (!model || model->is_null()) return missing("model");
        if (!model->is_string()) return wrong_type("model", "a string", *model);
        if (model->get_string().empty()) return bad("model", "Invalid value for 'model': it must not be empty.");
        envelope.model = std::string(model->get_string());

        auto* input = root.if_contains("input");
        if (!input || input->is_null()) return missing("input");

        for (auto& [k, v] : root) {
            const std::string_view key = k;
            if (key == "model" || key == "input") continue;
            if (auto e = read_field(key, v)) return e;
        }
        return input_reader(envelope.messages).read(*input);
    }

private:
    // ------------------------------------------------------------ top-level fields

    failure read_field(std::string_view key, json::value& v) {
        const std::string param(key);
        if (key == "previous_response_id" || key == "conversation") {
            if (v.is_null()) return {};
            return stateless(param, "send the whole input.");
        }
        if (key == "prompt") {
            if (v.is_null()) return {};
            return stateless(param, "stored prompt templates live at OpenAI; send the whole input.");
        }
        if (key == "background") {
            if (v.is_null() || (v.is_bool() && !v.get_bool())) return {};
            if (!v.is_bool()) return wrong_type(param, "a boolean", v);
            return stateless(param, "it keeps no response to poll later; leave background out or false.");
        }
        if (key == "instructions") {
            if (v.is_null()) return {};
            if (!v.is_string()) return wrong_type(param, "a string", v);
            if (!v.get_string().empty()) envelope.system.push_back({std::string(v.get_string()), {}});
            return {};
        }
        if (key == "temperature") return read_number(param, v, 2.0, envelope.sampling.temperature);
        if (key == "top_p") return read_number(param, v, 1.0, envelope.sampling.top_p);
        if (key == "max_output_tokens") return read_count(param, v, envelope.sampling.max_output_tokens);
        if (key == "parallel_tool_calls") return read_flag(param, v, envelope.parallel_tool_calls);
        if (key == "stream") {
            std::optional<bool> s;
            if (auto e = read_flag(param, v, s)) return e;
            envelope.stream = s.value_or(false);
            envelope.include_usage = envelope.stream; // response.completed always carries usage
            return {};
        }
        if (key == "store") {
            std::optional<bool> ignored;
            return read_flag(param, v, ignored);
        }
        if (key == "user") return read_text(param, v, envelope.user);
        if (key == "prompt_cache_key") return read_text(param, v, envelope.prompt_cache_key);
        if (key == "prompt_cache_retention") {
            std::string r;
            if (auto e = read_text(param, v, r)) return e;
            if (r == "in-memory" || r == "in_memory") envelope.prompt_cache_retention = "in_memory";
            else if (r == "24h") envelope.prompt_cache_retention = "24h";
            else if (!r.empty()) return bad_value(param, r, "'in_memory' and '24h'");
            return {};
        }
        if (key == "metadata") return read_metadata(v);
        if (key == "tools") return read_tools(v);
        if (key == "tool_choice") return read_tool_choice(v);
        if (key == "reasoning") return read_reasoning(v);
        if (key == "text") return read_text_options(v);
        if (key == "include") {
            if (v.is_null()) return {};
            if (!v.is_array()) return wrong_type(param, "an array", v);
            for (std::size_t i = 0; i < v.get_array().size(); ++i)
                if (!v.get_array()[i].is_string()) return wrong_type(index_path(param, i), "a string", v.get_array()[i]);
            return {};
        }
        if (key == "stream_options") {
            if (v.is_null() || v.is_object()) return {};
            return wrong_type(param, "an object", v);
        }
        if (key == "truncation") {
            std::string t;
            if (auto e = read_text(param, v, t)) return e;
            if (!t.empty() && t != "auto" && t != "disabled") return bad_value(param, t, "'auto' and 'disabled'");
            return {};
        }
        if (key == "max_tool_calls") {
            std::optional<std::uint32_t> ignored; // counts hosted-tool calls, which never happen here
            return read_count(param, v, ignored);
        }
        envelope.extras[key] = std::move(v);
        return {};
    }

    static failure read_number(const std::string& param, const json::value& v, double max,
                               std::optional<double>& out) {
        if (v.is_null()) return {};
        if (!v.is_number()) return wrong_type(param, "a decimal", v);
        const double d = v.to_number<double>();
        if (d < 0 || d > max)
            return bad(param, "Invalid value for '" + param + "': expected a number from 0 to " + number_text(max) +
                                  ", but got " + number_text(d) + ".");
        out = d;
        return {};
    }

    static failure read_count(const std::string& param, const json::value& v, std::optional<std::uint32_t>& out) {
        if (v.is_null()) return {};
        if (!v.is_int64() && !v.is_uint64()) return wrong_type(param, "an integer", v);
        const bool negative = v.is_int64() && v.get_int64() < 1;
        const std::uint64_t n = negative ? 0 : v.to_number<std::uint64_t>();
        if (n < 1 || n > UINT32_MAX)
            return bad(param, "Invalid value for '" + param + "': expected an integer from 1 to " +
                                  std::to_string(UINT32_MAX) + ", but got " + json::serialize(v) + ".");
        out = std::uint32_t(n);
        return {};
    }

    static failure read_flag(const std::string& param, const json::value& v, std::optional<bool>& out) {
        if (v.is_null()) return {};
        if (!v.is_bool()) return wrong_type(param, "a boolean", v);
        out = v.get_bool();
        return {};
    }

    static failure read_text(const std::string& param, const json::value& v, std::string& out) {
        if (v.is_null()) return {};
        if (!v.is_string()) return wrong_type(param, "a string", v);
        out = std::string(v.get_string());
        return {};
    }

    failure read_metadata(const json::value& v) {
        if (v.is_null()) return {};
        if (!v.is_object()) return wrong_type("metadata", "an object", v);
        for (const auto& [k, value] : v.get_object()) {
            if (!value.is_string()) return wrong_type("metadata." + std::string(k), "a string", value);
            envelope.metadata[std::string(k)] = std::string(value.get_string());
        }
        return {};
    }

    failure read_tools(json::value& v) {
        if (v.is_null()) return {};
        if (!v.is_array()) return wrong_type("tools", "an array", v);
        auto& tools = v.get_array();
        for (std::size_t i = 0; i < tools.size(); ++i) {
            const std::string where = index_path("tools", i);
            if (!tools[i].is_object()) return wrong_type(where, "an object", tools[i]);
            auto& t = tools[i].get_object();
            auto* type = t.if_contains("type");
            if (!type) return missing(where + ".type");
            if (!type->is_string()) return wrong_type(where + ".type", "a string", *type);
            if (type->get_string() != "function")
                return bad(where + ".type", "The tool type '" + std::string(type->get_string()) +
                                                "' is not supported: it is a tool that OpenAI runs, and a gateway "
                                                "cannot run it. Declare it as a 'function' tool and run it yourself.");
            core::tool tool;
            auto* name = t.if_contains("name");
            if (!name || name->is_null()) return missing(where + ".name");
            if (auto e = read_text(where + ".name", *name, tool.name)) return e;
            if (auto* d = t.if_contains("description"))
                if (auto e = read_text(where + ".description", *d, tool.description)) return e;
            if (auto* p = t.if_contains("parameters"); p && !p->is_null()) {
                if (!p->is_object()) return wrong_type(where + ".parameters", "an object", *p);
                tool.input_schema = std::move(*p);
            }
            if (auto* s = t.if_contains("strict"))
                if (auto e = read_flag(where + ".strict", *s, tool.strict)) return e;
            envelope.tools.push_back(std::move(tool));
        }
        return {};
    }

    failure read_tool_choice(const json::value& v) {
        if (v.is_null()) return {};
        if (v.is_string()) {
            const std::string_view s = v.get_string();
            if (s == "auto") envelope.tool_choice = core::tool_choice{};
            else if (s == "none") envelope.tool_choice = core::tool_choice{core::tool_choice::mode::none, {}};
            else if (s == "required") envelope.tool_choice = core::tool_choice{core::tool_choice::mode::required, {}};
            else return bad_value("tool_choice", s, "'auto', 'none' and 'required'");
            return {};
        }
        if (!v.is_object()) return wrong_type("tool_choice", "a string or an object", v);
        const auto& o = v.get_object();
        const auto* type = o.if_contains("type");
        if (!type) return missing("tool_choice.type");
        if (!type->is_string()) return wrong_type("tool_choice.type", "a string", *type);
        if (type->get_string() != "function")
            return bad("tool_choice.type", "The tool_choice type '" + std::string(type->get_string()) +
                                               "' is not supported: name a 'function' tool, or use 'auto', "
                                               "'none' or 'required'.");
        const auto* name = o.if_contains("name");
        if (!name || name->is_null()) return missing("tool_choice.name");
        if (!name->is_string()) return wrong_type("tool_choice.name", "a string", *name);
        envelope.tool_choice = core::tool_choice::force(std::string(name->get_string()));
        return {};
    }

    failure read_reasoning(const json::value& v) {
        if (v.is_null()) return {};
        if (!v.is_object()) return wrong_type("reasoning", "an object", v);
        const auto& o = v.get_object();
        if (const auto* effort = o.if_contains("effort"); effort && !effort->is_null()) {
            if (!effort->is_string()) return wrong_type("reasoning.effort", "a string", *effort);
            const std::string_view e = effort->get_string();
            // OpenAI's six words onto the canonical five: minimal is the least that still reasons.
            if (e == "minimal") envelope.reasoning.effort = core::reasoning_effort::low;
            else if (e == "xhigh") envelope.reasoning.effort = core::reasoning_effort::max;
            else if (e != "max") envelope.reasoning.effort = core::reasoning_effort_from_string(e);
            if (!envelope.reasoning.effort)
                return bad_value("reasoning.effort", e, "'none', 'minimal', 'low', 'medium', 'high' and 'xhigh'");
        }
        for (const char* key : {"summary", "generate_summary"}) {
            const auto* s = o.if_contains(key);
            if (!s || s->is_null()) continue;
            const std::string param = "reasoning." + std::string(key);
            if (!s->is_string()) return wrong_type(param, "a string", *s);
            const std::string_view word = s->get_string();
            if (word != "auto" && word != "concise" && word != "detailed")
                return bad_value(param, word, "'auto', 'concise' and 'detailed'");
        }
        return {};
    }

    failure read_text_options(json::value& v) {
        if (v.is_null()) return {};
        if (!v.is_object()) return wrong_type("text", "an object", v);
        auto& o = v.get_object();
        if (auto* verbosity = o.if_contains("verbosity"); verbosity && !verbosity->is_null()) {
            if (!verbosity->is_string()) return wrong_type("text.verbosity", "a string", *verbosity);
            envelope.extras["verbosity"] = *verbosity;
        }
        auto* format = o.if_contains("format");
        if (!format || format->is_null()) return {};
        if (!format->is_object()) return wrong_type("text.format", "an object", *format);
        auto& f = format->get_object();
        const auto* type = f.if_contains("type");
        if (!type) return missing("text.format.type");
        if (!type->is_string()) return wrong_type("text.format.type", "a string", *type);
        const std::string_view t = type->get_string();
        if (t == "text") return {}; // the default: no response_format
        if (t == "json_schema") {
            const auto* name = f.if_contains("name");
            if (!name || name->is_null()) return missing("text.format.name");
            if (!name->is_string()) return wrong_type("text.format.name", "a string", *name);
            const auto* schema = f.if_contains("schema");
            if (!schema || schema->is_null()) return missing("text.format.schema");
            if (!schema->is_object()) return wrong_type("text.format.schema", "an object", *schema);
        } else if (t != "json_object") {
            return bad_value("text.format.type", t, "'text', 'json_object' and 'json_schema'");
        }
        envelope.response_format = std::move(*format); // the Responses API's own (flat) shape
        return {};
    }
};

} // namespace responses_detail

/// POST /v1/responses -> envelope (api responses, endpoint chat), or a 400 naming the field.
inline core::result<core::envelope> decode_responses_request(std::string_view body, const request_headers&) {
    namespace json = boost::json;
    json::parse_options options;
    options.max_depth = 64; // JSON schemas nest deeper than Boost's default of 32
    json::stream_parser parser({}, options);
    boost::system::error_code ec;
    const std::size_t at = parser.write(body.data(), body.size(), ec);
    if (!ec) parser.finish(ec);
    if (ec)
        return responses_detail::bad({}, "We could not parse the JSON body of your request: " + ec.message() +
                                             " at " + responses_detail::position_text(body, at) + ".");
    json::value root = parser.release();
    if (!root.is_object())
        return responses_detail::bad({}, "The request body must be a JSON object, but it is " +
                                             std::string(responses_detail::kind_words(root)) + ".");
    responses_detail::request_reader reader;
    if (auto e = reader.read(root.get_object())) return std::move(*e);
    return std::move(reader.envelope);
}

} // namespace sluice::api

#endif

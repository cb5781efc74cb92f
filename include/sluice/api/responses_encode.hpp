#ifndef SLUICE_API_RESPONSES_ENCODE_HPP
#define SLUICE_API_RESPONSES_ENCODE_HPP

// Canonical events (folded in a response_aggregate) -> the Responses API's Response object.
//
// One canonical block is one output item, numbered by the order blocks start (so interleaved
// tool calls keep their output_index from added to done): text -> `message` with one
// `output_text`; tool_call -> `function_call`; reasoning -> `reasoning` whose text is one
// `summary_text` part and whose signature is `encrypted_content`. Item ids derive from the
// response id and the output index (resp_X -> msg_X_0, fc_X_1, rs_X_2): stable and unique.
//
// The stream encoder (responses_stream.hpp) ends with this same object. Writers build JSON by
// hand: fixed key order, no DOM per delta, numbers as JavaScript prints them (0.7, not 7E-1).

#include <sluice/core/json_text.hpp>
#include <sluice/api/codec.hpp>
#include <sluice/core/aggregate.hpp>
#include <sluice/core/envelope.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/event.hpp>

#include <boost/json/serialize.hpp>

#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sluice::api {

/// What a Response repeats of its request. The defaults are OpenAI's; of() takes them from the
/// decoded request.
struct responses_echo {
    std::string instructions; // empty: null
    std::optional<std::uint32_t> max_output_tokens;
    bool parallel_tool_calls = true;
    std::optional<core::reasoning_effort> effort;
    std::optional<double> temperature;
    std::optional<double> top_p;
    boost::json::value text_format; // null: {"type":"text"}
    core::tool_choice tool_choice;
    std::vector<core::tool> tools;
    std::string user;
    std::map<std::string, std::string> metadata;

    static responses_echo of(const core::envelope& e) {
        responses_echo r;
        r.instructions = e.system_text();
        r.max_output_tokens = e.sampling.max_output_tokens;
        r.parallel_tool_calls = e.parallel_tool_calls.value_or(true);
        r.effort = e.reasoning.effort;
        r.temperature = e.sampling.temperature;
        r.top_p = e.sampling.top_p;
        r.text_format = e.response_format;
        r.tool_choice = e.tool_choice.value_or(core::tool_choice{});
        r.tools = e.tools;
        r.user = e.user;
        r.metadata = e.metadata;
        return r;
    }
};

namespace responses_detail {

// ---------------------------------------------------------------- JSON by hand

inline void put_string(std::string& out, std::string_view s) { core::append_json_string(out, s); }

inline void put_number(std::string& out, double d) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, d); // shortest round-trip form: 0.7, not 7E-1
    out.append(buf, r.ptr);
}

/// `{"k":v,...}` with the commas placed for you; values are written straight into `out`.
class object_writer {
public:
    explicit object_writer(std::string& out) : out_(out) { out_ += '{'; }
    std::string& key(std::string_view k) {
        if (!first_) out_ += ',';
        first_ = false;
        put_string(out_, k);
        out_ += ':';
        return out_;
    }
    void string(std::string_view k, std::string_view v) { put_string(key(k), v); }
    void string_or_null(std::string_view k, std::string_view v) {
        if (v.empty()) raw(k, "null");
        else string(k, v);
    }
    void count(std::string_view k, std::uint64_t n) { key(k) += std::to_string(n); }
    void raw(std::string_view k, std::string_view json) { key(k) += json; }
    void boolean(std::string_view k, bool b) { raw(k, b ? "true" : "false"); }
    void close() { out_ += '}'; }

private:
    std::string& out_;
    bool first_ = true;
};

// ---------------------------------------------------------------- output items

enum class response_state : std::uint8_t { in_progress, completed, incomplete, failed };

/// "resp_X" -> "X": what item ids are made from.
inline std::string_view id_stem(std::string_view response_id) noexcept {
    return response_id.starts_with("resp_") ? response_id.substr(5) : response_id;
}

inline std::string item_id(std::string_view prefix, std::string_view response_id, std::size_t output_index) {
    std::string id(prefix);
    id += id_stem(response_id);
    id += '_';
    id += std::to_string(output_index);
    return id;
}

inline std::string_view item_prefix(core::block_kind k) noexcept {
    switch (k) {
    case core::block_kind::text: return "msg_";
    case core::block_kind::tool_call: return "fc_";
    case core::block_kind::reasoning: return "rs_";
    }
    return "msg_";
}

/// A call id the client can answer: the upstream's, or one made from the item (some servers
/// send none, and the SDK refuses function_call items without one).
inline std::string call_id_of(const core::tool_call_part& c, std::string_view response_id, std::size_t output_index) {
    return c.id.empty() ? item_id("call_", response_id, output_index) : c.id;
}

/// Arguments the client can JSON.parse: a call without arguments takes none.
inline std::string_view arguments_of(const core::tool_call_part& c) noexcept {
    return c.arguments.empty() ? std::string_view("{}") : std::string_view(c.arguments);
}

inline void put_output_text(std::string& out, std::string_view text) {
    object_writer w(out);
    w.string("type", "output_text");
    w.string("text", text);
    w.raw("annotations", "[]");
    w.close();
}

inline void put_summary_text(std::string& out, std::string_view text) {
    object_writer w(out);
    w.string("type", "summary_text");
    w.string("text", text);
    w.close();
}

/// One output item. `done` false writes it as output_item.added shows it: empty and in progress.
inline void put_item(std::string& out, const core::content_part& part, std::string_view response_id,
                     std::size_t output_index, bool done, std::string_view status) {
    object_writer w(out);
    if (const auto* t = std::get_if<core::text_part>(&part)) {
        w.string("id", item_id("msg_", response_id, output_index));
        w.string("type", "message");
        w.string("status", done ? status : "in_progress");
        w.string("role", "assistant");
        auto& content = w.key("content");
        content += '[';
        if (done) put_output_text(content, t->text);
        content += ']';
    } else if (const auto* c = std::get_if<core::tool_call_part>(&part)) {
        w.string("id", item_id("fc_", response_id, output_index));
        w.string("type", "function_call");
        w.string("status", done ? status : "in_progress");
        w.string("call_id", call_id_of(*c, response_id, output_index));
        w.string("name", c->name);
        w.string("arguments", done ? arguments_of(*c) : std::string_view());
    } else if (const auto* r = std::get_if<core::reasoning_part>(&part)) {
        w.string("id", item_id("rs_", response_id, output_index));
        w.string("type", "reasoning");
        auto& summary = w.key("summary");
        summary += '[';
        if (done && !r->redacted && !r->text.empty()) put_summary_text(summary, r->text);
        summary += ']';
        if (done && !r->signature.empty()) w.string("encrypted_content", r->signature);
    }
    w.close();
}

// ---------------------------------------------------------------- the Response object

inline response_state state_of(const core::response_aggregate& a) noexcept {
    if (a.error() || !a.done()) return response_state::failed;
    auto f = a.finish().value_or(core::finish_reason::stop);
    if (f == core::finish_reason::length || f == core::finish_reason::content_filter) return response_state::incomplete;
    return response_state::completed;
}

inline std::string_view status_word(response_state s) noexcept {
    switch (s) {
    case response_state::in_progress: return "in_progress";
    case response_state::completed: return "completed";
    case response_state::incomplete: return "incomplete";
    case response_state::failed: return "failed";
    }
    return "failed";
}

/// OpenAI's ResponseError codes are a closed set; a canonical error maps onto the nearest.
inline std::string_view failure_code(const core::error& e) noexcept {
    if (!e.code.empty()) return e.code;
    switch (e.kind) {
    case core::error_kind::rate_limit: return "rate_limit_exceeded";
    case core::error_kind::invalid_request: return "invalid_prompt";
    default: return "server_error";
    }
}

/// The error a failed response carries: the stream's own, or the cut it suffered.
inline core::error failure_of(const core::response_aggregate& a) {
    if (a.error()) return *a.error();
    return core::error{core::error_kind::upstream, "the response ended before it was complete", {}, {}};
}

inline void put_tool(std::string& out, const core::tool& t) {
    object_writer w(out);
    w.string("type", "function");
    w.string("name", t.name);
    w.string_or_null("description", t.description);
    w.raw("parameters", t.input_schema.is_null() ? std::string("null") : boost::json::serialize(t.input_schema));
    if (t.strict) w.boolean("strict", *t.strict);
    else w.raw("strict", "null");
    w.close();
}

inline void put_tool_choice(std::string& out, const core::tool_choice& c) {
    switch (c.mode) {
    case core::tool_choice::mode::automatic: out += "\"auto\""; return;
    case core::tool_choice::mode::none: out += "\"none\""; return;
    case core::tool_choice::mode::required: out += "\"required\""; return;
    case core::tool_choice::mode::named: break;
    }
    object_writer w(out);
    w.string("type", "function");
    w.string("name", c.name);
    w.close();
}

/// OpenAI's word for a canonical effort (max is OpenAI's xhigh).
inline std::string_view effort_word(core::reasoning_effort e) noexcept {
    return e == core::reasoning_effort::max ? "xhigh" : core::to_string(e);
}

inline void put_usage(std::string& out, const core::usage& u) {
    object_writer w(out);
    w.count("input_tokens", u.prompt()); // every prompt token, cached ones included, as OpenAI counts
    {
        object_writer d(w.key("input_tokens_details"));
        d.count("cached_tokens", u.cache_read);
        d.close();
    }
    w.count("output_tokens", u.output);
    {
        object_writer d(w.key("output_tokens_details"));
        d.count("reasoning_tokens", u.reasoning);
        d.close();
    }
    w.count("total_tokens", u.total());
    w.close();
}

/// The whole Response object. In progress it has no output and no usage yet.
inline void put_response(std::string& out, const core::response_aggregate& a, const response_context& ctx,
                         const responses_echo& echo, response_state state) {
    object_writer w(out);
    w.string("id", ctx.id);
    w.string("object", "response");
    w.count("created_at", std::uint64_t(ctx.created < 0 ? 0 : ctx.created));
    w.string("status", status_word(state));
    if (state == response_state::failed) {
        const auto err = failure_of(a);
        object_writer e(w.key("error"));
        e.string("code", failure_code(err));
        e.string("message", err.message);
        e.close();
    } else {
        w.raw("error", "null");
    }
    if (state == response_state::incomplete) {
        const bool filtered = a.finish() == core::finish_reason::content_filter;
        object_writer d(w.key("incomplete_details"));
        d.string("reason", filtered ? "content_filter" : "max_output_tokens");
        d.close();
    } else {
        w.raw("incomplete_details", "null");
    }
    w.string_or_null("instructions", echo.instructions);
    if (echo.max_output_tokens) w.count("max_output_tokens", *echo.max_output_tokens);
    else w.raw("max_output_tokens", "null");
    w.string("model", ctx.model.empty() ? a.model() : ctx.model);

    auto& output = w.key("output");
    output += '[';
    if (state != response_state::in_progress) {
        const auto& parts = a.message().content;
        const std::string_view item_status = state == response_state::failed ? "incomplete" : "completed";
        for (std::size_t i = 0; i < parts.size(); ++i) {
            if (i) output += ',';
            put_item(output, parts[i], ctx.id, i, true, item_status);
        }
    }
    output += ']';

    w.boolean("parallel_tool_calls", echo.parallel_tool_calls);
    w.raw("previous_response_id", "null");
    {
        object_writer r(w.key("reasoning"));
        if (echo.effort) r.string("effort", effort_word(*echo.effort));
        else r.raw("effort", "null");
        r.raw("summary", "null");
        r.close();
    }
    w.boolean("store", false); // nothing is kept: a later GET /v1/responses/{id} finds nothing
    if (echo.temperature) put_number(w.key("temperature"), *echo.temperature);
    else w.raw("temperature", "null");
    {
        object_writer t(w.key("text"));
        t.raw("format", echo.text_format.is_null() ? std::string(R"({"type":"text"})")
                                                   : boost::json::serialize(echo.text_format));
        t.close();
    }
    put_tool_choice(w.key("tool_choice"), echo.tool_choice);
    auto& tools = w.key("tools");
    tools += '[';
    for (std::size_t i = 0; i < echo.tools.size(); ++i) {
        if (i) tools += ',';
        put_tool(tools, echo.tools[i]);
    }
    tools += ']';
    if (echo.top_p) put_number(w.key("top_p"), *echo.top_p);
    else w.raw("top_p", "null");
    w.string("truncation", "disabled");
    if (state == response_state::in_progress) w.raw("usage", "null");
    else put_usage(w.key("usage"), a.usage());
    w.string_or_null("user", echo.user);
    {
        object_writer m(w.key("metadata"));
        for (const auto& [k, v] : echo.metadata) m.string(k, v);
        m.close();
    }
    w.close();
}

} // namespace responses_detail

/// The Response object for a finished answer: completed, incomplete (length, content filter) or
/// failed (an error, or events that ended without message_stop).
inline std::string encode_responses_body(const core::response_aggregate& answer, const response_context& ctx,
                                         const responses_echo& echo = {}) {
    std::string out;
    out.reserve(1024);
    responses_detail::put_response(out, answer, ctx, echo, responses_detail::state_of(answer));
    return out;
}

} // namespace sluice::api

#endif

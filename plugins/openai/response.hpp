#ifndef SLUICE_PLUGINS_OPENAI_RESPONSE_HPP
#define SLUICE_PLUGINS_OPENAI_RESPONSE_HPP

// A whole chat.completion body -> the events of the answer, the same vocabulary a stream gives:
//   message_start, [reasoning block], [text block], tool_call blocks..., [usage], message_stop
// Blocks are numbered in that order. Only choice 0 is read: the canonical answer is one message.

#include "errors.hpp"
#include "wire.hpp"

#include <sluice/core/event.hpp>
#include <sluice/plugin/result.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::providers::openai {

namespace detail {

inline core::error malformed(std::string what) {
    return core::error{core::error_kind::upstream, std::string(upstream_prefix) + std::move(what), {}, {}};
}

/// `content` as text: a string, or (some servers) a list of {type:"text", text} parts.
inline std::string content_text(const boost::json::object& message) {
    const auto* v = message.if_contains("content");
    if (!v) return {};
    if (const auto* s = v->if_string()) return std::string(*s);
    std::string out;
    if (const auto* parts = v->if_array())
        for (const auto& p : *parts)
            if (const auto* o = p.if_object()) out += string_at(*o, "text");
    return out;
}

/// Tool arguments are JSON text; a server that sends them as an object gets them serialized.
inline std::string arguments_text(const boost::json::object& function) {
    const auto* v = function.if_contains("arguments");
    if (!v || v->is_null()) return {};
    if (const auto* s = v->if_string()) return std::string(*s);
    return boost::json::serialize(*v);
}

inline const boost::json::object* first_choice(const boost::json::array& choices) {
    for (const auto& c : choices)
        if (const auto* o = c.if_object())
            if (count_at(o, "index") == 0) return o;
    return nullptr;
}

} // namespace detail

inline plugin::result<std::vector<core::event>> decode_response(std::string_view body) {
    // The tree lives only for this call and every string is copied out: one arena, mostly on
    // the stack, instead of an allocation per key, string, object and array.
    unsigned char arena[4096];
    boost::json::monotonic_resource memory(arena, sizeof arena);
    boost::system::error_code ec;
    auto parsed = boost::json::parse(body, ec, &memory);
    if (ec)
        return detail::malformed("the response body is not JSON (" + ec.message() + "): " + detail::excerpt(body));
    const auto* root = parsed.if_object();
    if (!root) return detail::malformed("the response body is not a JSON object: " + detail::excerpt(body));
    if (auto e = error_from_json(*root, std::nullopt)) return std::move(*e); // an error sent with 200
    const auto* choices = array_at(*root, "choices");
    if (!choices) return detail::malformed("the response has no 'choices' array: " + detail::excerpt(body));
    const auto* choice = detail::first_choice(*choices);
    if (!choice) return detail::malformed("the response has no choice with index 0: " + detail::excerpt(body));
    const auto* message = object_at(*choice, "message");
    if (!message) return detail::malformed("choices[0] has no 'message' object: " + detail::excerpt(body));

    std::vector<core::event> out;
    out.emplace_back(core::message_start{std::string(string_at(*root, "id")), std::string(string_at(*root, "model"))});
    std::uint32_t index = 0;

    if (auto reasoning = reasoning_text_of(*message); !reasoning.empty()) {
        out.push_back(core::reasoning_start(index));
        out.push_back(core::reasoning_delta(index, std::string(reasoning)));
        out.emplace_back(core::block_stop{index++});
    }

    std::string text = detail::content_text(*message);
    if (text.empty()) text = std::string(string_at(*message, "refusal")); // OpenAI's structured-output refusal
    if (!text.empty()) {
        out.push_back(core::text_start(index));
        out.push_back(core::text_delta(index, std::move(text)));
        out.emplace_back(core::block_stop{index++});
    }

    bool made_tool_calls = false;
    auto add_call = [&](std::string id, const boost::json::object& function) {
        out.push_back(core::tool_call_start(index, std::move(id), std::string(string_at(function, "name"))));
        if (auto args = detail::arguments_text(function); !args.empty())
            out.push_back(core::arguments_delta(index, std::move(args)));
        out.emplace_back(core::block_stop{index++});
        made_tool_calls = true;
    };
    if (const auto* calls = array_at(*message, "tool_calls")) {
        for (const auto& c : *calls) {
            const auto* call = c.if_object();
            const auto* function = call ? object_at(*call, "function") : nullptr;
            if (!function) return detail::malformed("a tool call has no 'function' object: " + detail::excerpt(body));
            std::string id(string_at(*call, "id"));
            if (id.empty()) id = "call_" + std::to_string(index); // some servers leave it out
            add_call(std::move(id), *function);
        }
    } else if (const auto* legacy = object_at(*message, "function_call")) {
        add_call("call_" + std::to_string(index), *legacy); // the pre-tools shape carries no id
    }

    if (const auto* u = object_at(*root, "usage")) out.emplace_back(usage_from_json(*u));

    const auto finish = settle_finish(finish_from_openai(string_at(*choice, "finish_reason")), made_tool_calls);
    out.emplace_back(core::message_stop{finish, stop_sequence_of(*choice, finish)});
    return out;
}

} // namespace sluice::providers::openai

#endif

#ifndef SLUICE_API_CODEC_HPP
#define SLUICE_API_CODEC_HPP

// What every front API codec shares. A codec is pure: bytes in, envelope out; events in,
// bytes out. No I/O and no Beast, so codecs are cheap to compile, test and fuzz.
//
// Each front API (chat completions, responses, messages) provides, in its own header:
//   core::result<core::envelope> decode_<api>_request(std::string_view body, const request_headers&);
//   std::string encode_<api>_body(const core::response_aggregate&, const response_context&);
//   class <api>_stream_encoder { explicit <api>_stream_encoder(response_context);
//                                void add(const core::event&, std::vector<sse_frame>& out); };
// A non-streaming answer is the aggregate of the same events a stream would carry: one path.

#include <sluice/core/envelope.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::api {

/// One server-sent event: an optional name and its data (JSON, or OpenAI's "[DONE]").
struct sse_frame {
    std::string event; // empty: no `event:` line (OpenAI chat chunks)
    std::string data;
    friend bool operator==(const sse_frame&, const sse_frame&) = default;
};

/// Appends one SSE event as it goes on the wire. Data with line breaks becomes several `data:`
/// lines, as the format requires.
inline void append_sse_event(std::string& out, std::string_view event, std::string_view data) {
    if (!event.empty()) {
        out += "event: ";
        out += event;
        out += '\n';
    }
    for (;;) {
        auto nl = data.find('\n');
        out += "data: ";
        out += data.substr(0, nl);
        out += '\n';
        if (nl == std::string_view::npos) break;
        data.remove_prefix(nl + 1);
    }
    out += '\n';
}

/// The request headers a decoder may read (lower-case names): anthropic-version, anthropic-beta…
using request_headers = std::vector<std::pair<std::string, std::string>>;

inline std::string_view find_header(const request_headers& h, std::string_view lower_name) noexcept {
    for (const auto& [k, v] : h)
        if (k == lower_name) return v;
    return {};
}

/// How a front API names the request fields the catalog checks, so an error names them as the
/// caller wrote them.
struct param_names {
    std::string_view max_tokens;
    std::string_view tools;
    std::string_view reasoning;
    std::string_view response_format;
    std::string_view images; // where image inputs live
};

/// What an encoder needs besides the events; the executor fills it per response.
struct response_context {
    std::string id;             // shown to the client: "chatcmpl-…", "resp_…", "msg_…"
    std::string model;          // the model id shown to the client: the public id that served
    std::int64_t created = 0;   // unix seconds
    bool include_usage = false; // chat streams: a last chunk with usage (stream_options.include_usage)
};

/// An id in the style of each API: a prefix and random letters and digits. Ids name answers,
/// they guard nothing: a per-thread splitmix64 seeded from random_device is enough, and one
/// 64-bit draw gives ten letters (62^10 < 2^64), where a distribution per letter cost far more.
inline std::string new_response_id(core::front_api api) {
    static constexpr char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static constexpr std::uint64_t letters = sizeof alphabet - 1;
    thread_local std::uint64_t state = (std::uint64_t(std::random_device{}()) << 32) ^ std::random_device{}();
    auto next = [] {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    };
    std::string_view prefix = "req_";
    std::size_t n = 24;
    switch (api) {
    case core::front_api::chat_completions: prefix = "chatcmpl-"; n = 29; break;
    case core::front_api::responses: prefix = "resp_"; n = 32; break;
    case core::front_api::messages: prefix = "msg_"; n = 24; break;
    default: break;
    }
    std::string id;
    id.reserve(prefix.size() + n);
    id += prefix;
    std::uint64_t r = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (i % 10 == 0) r = next();
        id += alphabet[r % letters];
        r /= letters;
    }
    return id;
}

} // namespace sluice::api

#endif

#ifndef SLUICE_API_FRONTS_HPP
#define SLUICE_API_FRONTS_HPP

// The text-generation front APIs as traits types, for exec::serve_text<Front>: each names its
// API, how it calls the output limit, its decoder and its encoders. `echo` is what an encoder
// repeats of the request (the Responses API echoes its settings), taken before the executor
// rewrites the envelope for the upstream.

#include <sluice/api/chat_completions.hpp>
#include <sluice/api/messages.hpp>
#include <sluice/api/responses.hpp>

namespace sluice::api {

struct chat_completions_front {
    static constexpr core::front_api api = core::front_api::chat_completions;
    static constexpr param_names params{"max_completion_tokens", "tools", "reasoning_effort", "response_format",
                                        "messages"};
    struct echo {};
    static echo echo_of(const core::envelope&) { return {}; }
    static core::result<core::envelope> decode(std::string_view body, const request_headers& h) {
        return decode_chat_completions_request(body, h);
    }
    static std::string encode_body(const core::response_aggregate& a, const response_context& c, const echo&) {
        return encode_chat_completions_body(a, c);
    }
    static chat_completions_stream_encoder stream_encoder(response_context c, const echo&) {
        return chat_completions_stream_encoder(std::move(c));
    }
};

struct responses_front {
    static constexpr core::front_api api = core::front_api::responses;
    static constexpr param_names params{"max_output_tokens", "tools", "reasoning", "text.format", "input"};
    using echo = responses_echo;
    static echo echo_of(const core::envelope& env) { return responses_echo::of(env); }
    static core::result<core::envelope> decode(std::string_view body, const request_headers& h) {
        return decode_responses_request(body, h);
    }
    static std::string encode_body(const core::response_aggregate& a, const response_context& c, const echo& e) {
        return encode_responses_body(a, c, e);
    }
    static responses_stream_encoder stream_encoder(response_context c, const echo& e) {
        return responses_stream_encoder(std::move(c), e);
    }
};

struct messages_front {
    static constexpr core::front_api api = core::front_api::messages;
    static constexpr param_names params{"max_tokens", "tools", "thinking", "output_config.format", "messages"};
    struct echo {};
    static echo echo_of(const core::envelope&) { return {}; }
    static core::result<core::envelope> decode(std::string_view body, const request_headers& h) {
        return decode_messages_request(body, h);
    }
    static std::string encode_body(const core::response_aggregate& a, const response_context& c, const echo&) {
        return encode_messages_body(a, c);
    }
    static messages_stream_encoder stream_encoder(response_context c, const echo&) {
        return messages_stream_encoder(std::move(c));
    }
};

} // namespace sluice::api

#endif

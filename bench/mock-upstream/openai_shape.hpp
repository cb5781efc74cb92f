#ifndef SLUICE_MOCK_OPENAI_SHAPE_HPP
#define SLUICE_MOCK_OPENAI_SHAPE_HPP

// OpenAI Chat Completions as api.openai.com sends it: `chat.completion` bodies, and
// `chat.completion.chunk` streams (role first, content / reasoning_content / tool_calls deltas,
// a finish chunk, the usage chunk with `choices: []` when asked for, `[DONE]`). Beast-free.

#include "answer.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::mock {

namespace openai_detail {

inline std::string_view finish_reason(finish_kind f) noexcept {
    switch (f) {
    case finish_kind::length: return "length";
    case finish_kind::tool_calls: return "tool_calls";
    default: return "stop";
    }
}

inline void append_usage(std::string& out, const answer_usage& u) {
    out += "{\"prompt_tokens\":";
    append_int(out, u.prompt);
    out += ",\"completion_tokens\":";
    append_int(out, u.completion);
    out += ",\"total_tokens\":";
    append_int(out, u.prompt + u.completion);
    out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
    append_int(out, u.cached);
    out += ",\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":";
    append_int(out, u.reasoning);
    out += ",\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}";
}

inline const answer_block* find_block(const answer_plan& p, block_kind k) noexcept {
    for (const auto& b : p.blocks)
        if (b.kind == k) return &b;
    return nullptr;
}

} // namespace openai_detail

/// The whole `chat.completion` body.
inline std::string openai_body(const answer_plan& p) {
    using namespace openai_detail;
    std::string out;
    out.reserve(512 + (p.blocks.empty() ? 0 : p.blocks.front().text.size()));
    out += "{\"id\":";
    append_json_string(out, p.id);
    out += ",\"object\":\"chat.completion\",\"created\":";
    append_int(out, p.created);
    out += ",\"model\":";
    append_json_string(out, p.model);
    out += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":";
    if (auto t = find_block(p, block_kind::text)) append_json_string(out, t->text);
    else out += "null";
    if (auto r = find_block(p, block_kind::reasoning)) {
        out += ",\"reasoning_content\":";
        append_json_string(out, r->text);
    }
    bool first_call = true;
    for (const auto& b : p.blocks) {
        if (b.kind != block_kind::tool_call) continue;
        out += first_call ? ",\"tool_calls\":[" : ",";
        first_call = false;
        out += "{\"id\":";
        append_json_string(out, b.id);
        out += ",\"type\":\"function\",\"function\":{\"name\":";
        append_json_string(out, tool_name);
        out += ",\"arguments\":";
        append_json_string(out, b.text);
        out += "}}";
    }
    if (!first_call) out += ']';
    out += ",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"";
    out += finish_reason(p.finish);
    out += "\"}],\"usage\":";
    append_usage(out, p.usage);
    out += ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\"}";
    return out;
}

/// The chunks of a streamed answer, rendered one at a time: a stream holds its plan and a list of
/// small steps, not its bytes, so ten thousand open streams stay cheap.
class openai_stream {
public:
    enum step_kind : std::uint8_t { role, reasoning, content, tool_start, tool_fragment, finish, usage, done };

    explicit openai_stream(const answer_plan& p) : plan_(p) {
        steps_.push_back({role, 0, 0});
        std::size_t most = 0;
        for (std::size_t b = 0; b < p.blocks.size(); ++b) {
            const auto& blk = p.blocks[b];
            if (blk.kind == block_kind::tool_call) {
                steps_.push_back({tool_start, std::uint16_t(b), 0});
                most = std::max(most, blk.pieces());
                continue;
            }
            auto kind = blk.kind == block_kind::reasoning ? reasoning : content;
            for (std::size_t i = 0; i < blk.pieces(); ++i) steps_.push_back({kind, std::uint16_t(b), std::uint32_t(i)});
        }
        // Parallel calls interleave their argument fragments: call 0, call 1, …, then call 0 again.
        for (std::size_t i = 0; i < most; ++i)
            for (std::size_t b = 0; b < p.blocks.size(); ++b)
                if (p.blocks[b].kind == block_kind::tool_call && i < p.blocks[b].pieces())
                    steps_.push_back({tool_fragment, std::uint16_t(b), std::uint32_t(i)});
        steps_.push_back({finish, 0, 0});
        if (p.include_usage) steps_.push_back({usage, 0, 0});
        steps_.push_back({done, 0, 0});

        prefix_ = "{\"id\":";
        append_json_string(prefix_, p.id);
        prefix_ += ",\"object\":\"chat.completion.chunk\",\"created\":";
        append_int(prefix_, p.created);
        prefix_ += ",\"model\":";
        append_json_string(prefix_, p.model);
        prefix_ += ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\",\"choices\":[";
    }

    std::size_t size() const noexcept { return steps_.size(); }

    /// The next event; false after `data: [DONE]`.
    bool next(stream_event& ev) {
        if (at_ >= steps_.size()) return false;
        render(steps_[at_++], ev);
        return true;
    }

private:
    void render(const stream_step& s, stream_event& ev) const {
        ev.event = {};
        ev.token = s.what == reasoning || s.what == content || s.what == tool_fragment;
        auto& out = ev.data;
        out.clear();
        if (s.what == done) {
            out = "[DONE]";
            return;
        }
        out.reserve(prefix_.size() + 160);
        out += prefix_;
        if (s.what == usage) {
            out += "],\"usage\":";
            openai_detail::append_usage(out, plan_.usage);
            out += '}';
            return;
        }
        out += "{\"index\":0,\"delta\":{";
        const auto& b = plan_.blocks.empty() ? empty_block() : plan_.blocks[s.block];
        switch (s.what) {
        case role: {
            bool text_first = !plan_.blocks.empty() && plan_.blocks.front().kind != block_kind::tool_call;
            out += text_first ? "\"role\":\"assistant\",\"content\":\"\",\"refusal\":null"
                              : "\"role\":\"assistant\",\"content\":null,\"refusal\":null";
            break;
        }
        case reasoning:
            out += "\"reasoning_content\":";
            append_json_string(out, b.piece(s.piece));
            break;
        case content:
            out += "\"content\":";
            append_json_string(out, b.piece(s.piece));
            break;
        case tool_start:
            out += "\"tool_calls\":[{\"index\":";
            append_int(out, b.tool_index);
            out += ",\"id\":";
            append_json_string(out, b.id);
            out += ",\"type\":\"function\",\"function\":{\"name\":";
            append_json_string(out, tool_name);
            out += ",\"arguments\":\"\"}}]";
            break;
        case tool_fragment:
            out += "\"tool_calls\":[{\"index\":";
            append_int(out, b.tool_index);
            out += ",\"function\":{\"arguments\":";
            append_json_string(out, b.piece(s.piece));
            out += "}}]";
            break;
        default: break;
        }
        out += "},\"logprobs\":null,\"finish_reason\":";
        if (s.what == finish) {
            out += '"';
            out += openai_detail::finish_reason(plan_.finish);
            out += '"';
        } else {
            out += "null";
        }
        out += "}]";
        if (plan_.include_usage) out += ",\"usage\":null";
        out += '}';
    }

    static const answer_block& empty_block() {
        static const answer_block b;
        return b;
    }

    const answer_plan& plan_;
    std::vector<stream_step> steps_;
    std::string prefix_;
    std::size_t at_ = 0;
};

/// OpenAI's error type and code for a status.
struct openai_error_kind {
    std::string_view type;
    std::string_view code; // empty: null
    std::string_view message;
};

inline openai_error_kind openai_error_for(int status) noexcept {
    switch (status) {
    case 400: return {"invalid_request_error", {}, "Invalid request (mock error=400)."};
    case 401: return {"invalid_request_error", "invalid_api_key", "Incorrect API key provided (mock error=401)."};
    case 403: return {"invalid_request_error", "permission_denied", "You are not allowed to use this model (mock error=403)."};
    case 404: return {"invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it (mock error=404)."};
    case 429: return {"requests", "rate_limit_exceeded", "Rate limit reached for requests (mock error=429). Please try again in 1s."};
    case 500: return {"server_error", {}, "The server had an error while processing your request (mock error=500)."};
    case 503: return {"server_error", {}, "The engine is currently overloaded, please try again later (mock error=503)."};
    default:
        if (status >= 500) return {"server_error", {}, "The server had an error while processing your request (mock error)."};
        return {"invalid_request_error", {}, "Invalid request (mock error)."};
    }
}

/// `{"error":{"message","type","param","code"}}`.
inline std::string openai_error_body(std::string_view message, std::string_view type, std::string_view param = {},
                                     std::string_view code = {}) {
    std::string out = "{\"error\":{\"message\":";
    append_json_string(out, message);
    out += ",\"type\":";
    append_json_string(out, type);
    out += ",\"param\":";
    if (param.empty()) out += "null";
    else append_json_string(out, param);
    out += ",\"code\":";
    if (code.empty()) out += "null";
    else append_json_string(out, code);
    out += "}}";
    return out;
}

inline std::string openai_error_body(int status) {
    auto k = openai_error_for(status);
    return openai_error_body(k.message, k.type, {}, k.code);
}

inline std::string openai_error_body(const request_error& e) {
    return openai_error_body(e.message, "invalid_request_error", e.param, e.code);
}

/// GET /v1/models.
inline std::string openai_models_body() {
    return R"({"object":"list","data":[)"
           R"({"id":"mock-model","object":"model","created":1700000000,"owned_by":"sluice-mock"},)"
           R"({"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"},)"
           R"({"id":"claude-sonnet-4-5","object":"model","created":1759104000,"owned_by":"anthropic"}]})";
}

} // namespace sluice::mock

#endif

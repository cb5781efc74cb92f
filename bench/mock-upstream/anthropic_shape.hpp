#ifndef SLUICE_MOCK_ANTHROPIC_SHAPE_HPP
#define SLUICE_MOCK_ANTHROPIC_SHAPE_HPP

// Anthropic Messages as api.anthropic.com sends it: `message` bodies, and streams of
// message_start (input usage) → ping → per block content_block_start / _delta / _stop with
// sequential indexes → message_delta (stop_reason, output usage) → message_stop. Beast-free.

#include "answer.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace sluice::mock {

namespace anthropic_detail {

inline std::string_view stop_reason(finish_kind f) noexcept {
    switch (f) {
    case finish_kind::length: return "max_tokens";
    case finish_kind::tool_calls: return "tool_use";
    default: return "end_turn";
    }
}

/// Anthropic counts cached tokens apart: input_tokens are the uncached rest.
inline void append_usage(std::string& out, const answer_usage& u, std::int64_t output_tokens) {
    out += "{\"input_tokens\":";
    append_int(out, u.prompt - u.cached);
    out += ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":";
    append_int(out, u.cached);
    out += ",\"output_tokens\":";
    append_int(out, output_tokens);
    out += ",\"service_tier\":\"standard\"}";
}

inline void append_message_head(std::string& out, const answer_plan& p) {
    out += "{\"id\":";
    append_json_string(out, p.id);
    out += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
    append_json_string(out, p.model);
}

} // namespace anthropic_detail

/// The whole `message` body.
inline std::string anthropic_body(const answer_plan& p) {
    using namespace anthropic_detail;
    std::string out;
    out.reserve(512 + (p.blocks.empty() ? 0 : p.blocks.back().text.size()));
    append_message_head(out, p);
    out += ",\"content\":[";
    for (std::size_t i = 0; i < p.blocks.size(); ++i) {
        const auto& b = p.blocks[i];
        if (i) out += ',';
        switch (b.kind) {
        case block_kind::reasoning:
            out += "{\"type\":\"thinking\",\"thinking\":";
            append_json_string(out, b.text);
            out += ",\"signature\":";
            append_json_string(out, thinking_signature);
            out += '}';
            break;
        case block_kind::text:
            out += "{\"type\":\"text\",\"text\":";
            append_json_string(out, b.text);
            out += '}';
            break;
        case block_kind::tool_call:
            out += "{\"type\":\"tool_use\",\"id\":";
            append_json_string(out, b.id);
            out += ",\"name\":";
            append_json_string(out, tool_name);
            out += ",\"input\":";
            out += b.text; // the arguments are JSON already
            out += '}';
            break;
        }
    }
    out += "],\"stop_reason\":\"";
    out += stop_reason(p.finish);
    out += "\",\"stop_sequence\":null,\"usage\":";
    append_usage(out, p.usage, p.usage.completion);
    out += '}';
    return out;
}

/// The events of a streamed answer, rendered one at a time from the plan.
class anthropic_stream {
public:
    enum step_kind : std::uint8_t { message_start, block_start, ping, delta, empty_json, signature, block_stop, message_delta, message_stop };

    explicit anthropic_stream(const answer_plan& p) : plan_(p) {
        steps_.push_back({message_start, 0, 0});
        for (std::size_t b = 0; b < p.blocks.size(); ++b) {
            const auto& blk = p.blocks[b];
            steps_.push_back({block_start, std::uint16_t(b), 0});
            if (b == 0) steps_.push_back({ping, 0, 0});
            if (blk.kind == block_kind::tool_call) steps_.push_back({empty_json, std::uint16_t(b), 0});
            for (std::size_t i = 0; i < blk.pieces(); ++i) steps_.push_back({delta, std::uint16_t(b), std::uint32_t(i)});
            if (blk.kind == block_kind::reasoning) steps_.push_back({signature, std::uint16_t(b), 0});
            steps_.push_back({block_stop, std::uint16_t(b), 0});
        }
        steps_.push_back({message_delta, 0, 0});
        steps_.push_back({message_stop, 0, 0});
    }

    std::size_t size() const noexcept { return steps_.size(); }

    /// The next event; false after message_stop.
    bool next(stream_event& ev) {
        if (at_ >= steps_.size()) return false;
        render(steps_[at_++], ev);
        return true;
    }

private:
    void render(const stream_step& s, stream_event& ev) const {
        using namespace anthropic_detail;
        auto& out = ev.data;
        out.clear();
        ev.token = s.what == delta;
        switch (s.what) {
        case message_start:
            ev.event = "message_start";
            out += "{\"type\":\"message_start\",\"message\":";
            append_message_head(out, plan_);
            out += ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":";
            append_usage(out, plan_.usage, 1);
            out += "}}";
            return;
        case ping:
            ev.event = "ping";
            out = "{\"type\":\"ping\"}";
            return;
        case message_delta:
            ev.event = "message_delta";
            out += "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"";
            out += stop_reason(plan_.finish);
            out += "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":";
            append_int(out, plan_.usage.completion);
            out += "}}";
            return;
        case message_stop:
            ev.event = "message_stop";
            out = "{\"type\":\"message_stop\"}";
            return;
        default: break;
        }
        const auto& b = plan_.blocks[s.block];
        switch (s.what) {
        case block_start:
            ev.event = "content_block_start";
            out += "{\"type\":\"content_block_start\",\"index\":";
            append_int(out, s.block);
            if (b.kind == block_kind::reasoning) {
                out += ",\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}";
            } else if (b.kind == block_kind::text) {
                out += ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}";
            } else {
                out += ",\"content_block\":{\"type\":\"tool_use\",\"id\":";
                append_json_string(out, b.id);
                out += ",\"name\":";
                append_json_string(out, tool_name);
                out += ",\"input\":{}}}";
            }
            return;
        case block_stop:
            ev.event = "content_block_stop";
            out += "{\"type\":\"content_block_stop\",\"index\":";
            append_int(out, s.block);
            out += '}';
            return;
        default: break;
        }
        ev.event = "content_block_delta";
        out += "{\"type\":\"content_block_delta\",\"index\":";
        append_int(out, s.block);
        if (s.what == signature) {
            out += ",\"delta\":{\"type\":\"signature_delta\",\"signature\":";
            append_json_string(out, thinking_signature);
        } else if (s.what == empty_json) {
            out += ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"";
        } else if (b.kind == block_kind::reasoning) {
            out += ",\"delta\":{\"type\":\"thinking_delta\",\"thinking\":";
            append_json_string(out, b.piece(s.piece));
        } else if (b.kind == block_kind::text) {
            out += ",\"delta\":{\"type\":\"text_delta\",\"text\":";
            append_json_string(out, b.piece(s.piece));
        } else {
            out += ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":";
            append_json_string(out, b.piece(s.piece));
        }
        out += "}}";
    }

    const answer_plan& plan_;
    std::vector<stream_step> steps_;
    std::size_t at_ = 0;
};

/// Anthropic's error type for a status.
inline std::string_view anthropic_error_type(int status) noexcept {
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 500: return "api_error";
    case 504: return "timeout_error";
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

/// `{"type":"error","error":{"type","message"}}`.
inline std::string anthropic_error_body(std::string_view type, std::string_view message) {
    std::string out = "{\"type\":\"error\",\"error\":{\"type\":";
    append_json_string(out, type);
    out += ",\"message\":";
    append_json_string(out, message);
    out += "}}";
    return out;
}

inline std::string anthropic_error_body(int status) {
    auto type = anthropic_error_type(status);
    std::string message = status == 529   ? "Overloaded"
                          : status == 429 ? "Number of request tokens has exceeded your per-minute rate limit"
                                          : "mock error";
    message += " (mock error=" + std::to_string(status) + ")";
    return anthropic_error_body(type, message);
}

inline std::string anthropic_error_body(const request_error& e) {
    return anthropic_error_body("invalid_request_error", e.message);
}

/// GET /v1/models with anthropic-version: Anthropic's list shape.
inline std::string anthropic_models_body() {
    return R"({"data":[)"
           R"({"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"},)"
           R"({"type":"model","id":"mock-model","display_name":"Mock Model","created_at":"2023-11-14T00:00:00Z"}],)"
           R"("has_more":false,"first_id":"claude-sonnet-4-5","last_id":"mock-model"})";
}

/// POST /v1/messages/count_tokens.
inline std::string anthropic_count_tokens_body(std::int64_t input_tokens) {
    std::string out = "{\"input_tokens\":";
    append_int(out, input_tokens);
    out += '}';
    return out;
}

} // namespace sluice::mock

#endif

#ifndef SLUICE_API_EMBEDDINGS_HPP
#define SLUICE_API_EMBEDDINGS_HPP

// POST /v1/embeddings in OpenAI's shape: the request decoded and checked (input as a string, an
// array of strings, an array of token ids or an array of token-id arrays; encoding_format;
// dimensions), and the answer encoded, as float arrays or as base64 of little-endian float32 (what
// the official SDKs ask for by default and decode themselves).

#include <sluice/core/error.hpp>
#include <sluice/core/result.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::api {

/// OpenAI's limit on inputs per request.
inline constexpr std::size_t max_embedding_inputs = 2048;

struct embeddings_request {
    std::string model;
    std::vector<std::string> texts;                // string inputs, or
    std::vector<std::vector<std::int64_t>> tokens; // token-id inputs: exactly one of the two is set
    bool base64 = false;                           // encoding_format "base64"
    std::optional<std::uint32_t> dimensions;
    boost::json::object body; // the request as sent, for an upstream that takes it as it is

    std::size_t size() const noexcept { return texts.empty() ? tokens.size() : texts.size(); }
};

namespace embeddings_detail {

inline core::error invalid(std::string message, std::string param) {
    return core::error{core::error_kind::invalid_request, std::move(message), std::move(param), "invalid_value"};
}

/// A token id: an integer in [0, 2^31), as OpenAI's tokenizers number them.
inline std::optional<std::int64_t> token_of(const boost::json::value& v) {
    if (v.is_int64() && v.get_int64() >= 0 && v.get_int64() <= std::numeric_limits<std::int32_t>::max())
        return v.get_int64();
    if (v.is_uint64() && v.get_uint64() <= std::uint64_t(std::numeric_limits<std::int32_t>::max()))
        return std::int64_t(v.get_uint64());
    return std::nullopt;
}

inline core::result<std::vector<std::int64_t>> token_array(const boost::json::array& a, const std::string& param) {
    if (a.empty()) return invalid("'" + param + "' is an empty token array; each input needs at least one token", param);
    std::vector<std::int64_t> out;
    out.reserve(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto t = token_of(a[i]);
        if (!t)
            return invalid("'" + param + "[" + std::to_string(i) + "]' is " + boost::json::serialize(a[i]) +
                               "; a token id is an integer from 0 to 2147483647",
                           param);
        out.push_back(*t);
    }
    return out;
}

inline void append_base64(std::string& out, std::string_view bytes) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        std::uint32_t n = std::uint32_t(std::uint8_t(bytes[i])) << 16 | std::uint32_t(std::uint8_t(bytes[i + 1])) << 8 |
                          std::uint8_t(bytes[i + 2]);
        out += alphabet[n >> 18 & 63];
        out += alphabet[n >> 12 & 63];
        out += alphabet[n >> 6 & 63];
        out += alphabet[n & 63];
    }
    if (std::size_t rest = bytes.size() - i) {
        std::uint32_t n = std::uint32_t(std::uint8_t(bytes[i])) << 16;
        if (rest == 2) n |= std::uint32_t(std::uint8_t(bytes[i + 1])) << 8;
        out += alphabet[n >> 18 & 63];
        out += alphabet[n >> 12 & 63];
        out += rest == 2 ? alphabet[n >> 6 & 63] : '=';
        out += '=';
    }
}

} // namespace embeddings_detail

/// The vector as OpenAI's base64 encoding_format sends it: little-endian float32, base64.
inline std::string base64_floats(std::span<const float> v) {
    std::string raw(v.size() * 4, '\0');
    for (std::size_t i = 0; i < v.size(); ++i) {
        auto bits = std::bit_cast<std::uint32_t>(v[i]);
        for (int b = 0; b < 4; ++b) raw[i * 4 + b] = char(bits >> (8 * b) & 0xff);
    }
    std::string out;
    out.reserve((raw.size() + 2) / 3 * 4);
    embeddings_detail::append_base64(out, raw);
    return out;
}

/// The request, checked: a 400 naming the field for anything OpenAI would refuse.
inline core::result<embeddings_request> decode_embeddings_request(std::string_view text) {
    using embeddings_detail::invalid;
    boost::system::error_code ec;
    auto parsed = boost::json::parse(text, ec);
    if (ec) return invalid("the request body is not valid JSON: " + ec.message(), "");
    if (!parsed.is_object()) return invalid("the request body must be a JSON object", "");
    embeddings_request r;
    r.body = std::move(parsed.as_object());
    const auto& o = r.body;

    const auto* model = o.if_contains("model");
    if (!model || !model->is_string() || model->get_string().empty())
        return invalid("'model' is required: the id of an embeddings model", "model");
    r.model = std::string(model->get_string());

    const auto* input = o.if_contains("input");
    if (!input || input->is_null()) return invalid("'input' is required: a string or an array of strings or token ids", "input");
    if (input->is_string()) {
        if (input->get_string().empty()) return invalid("'input' is an empty string; embeddings need some text", "input");
        r.texts.emplace_back(input->get_string());
    } else if (input->is_array()) {
        const auto& a = input->get_array();
        if (a.empty()) return invalid("'input' is an empty array; give at least one input", "input");
        if (a.size() > max_embedding_inputs)
            return invalid("'input' has " + std::to_string(a.size()) + " items; at most " +
                               std::to_string(max_embedding_inputs) + " inputs are allowed per request",
                           "input");
        if (a[0].is_string()) {
            r.texts.reserve(a.size());
            for (std::size_t i = 0; i < a.size(); ++i) {
                const std::string param = "input[" + std::to_string(i) + "]";
                if (!a[i].is_string())
                    return invalid("'" + param + "' is " + boost::json::serialize(a[i]) +
                                       "; an array of inputs holds only strings or only token arrays",
                                   param);
                if (a[i].get_string().empty()) return invalid("'" + param + "' is an empty string", param);
                r.texts.emplace_back(a[i].get_string());
            }
        } else if (a[0].is_array()) {
            r.tokens.reserve(a.size());
            for (std::size_t i = 0; i < a.size(); ++i) {
                const std::string param = "input[" + std::to_string(i) + "]";
                if (!a[i].is_array())
                    return invalid("'" + param + "' is " + boost::json::serialize(a[i]) +
                                       "; an array of token arrays holds only arrays of integers",
                                   param);
                auto t = embeddings_detail::token_array(a[i].get_array(), param);
                if (!t) return std::move(t).error();
                r.tokens.push_back(std::move(t).value());
            }
        } else {
            auto t = embeddings_detail::token_array(a, "input");
            if (!t) return std::move(t).error();
            r.tokens.push_back(std::move(t).value());
        }
    } else {
        return invalid("'input' is " + boost::json::serialize(*input) +
                           "; expected a string, an array of strings, an array of token ids or an array of token arrays",
                       "input");
    }

    if (const auto* f = o.if_contains("encoding_format"); f && !f->is_null()) {
        if (f->is_string() && f->get_string() == "float") r.base64 = false;
        else if (f->is_string() && f->get_string() == "base64") r.base64 = true;
        else return invalid("'encoding_format' is " + boost::json::serialize(*f) + "; expected 'float' or 'base64'", "encoding_format");
    }
    if (const auto* d = o.if_contains("dimensions"); d && !d->is_null()) {
        const bool integral = d->is_int64() || d->is_uint64();
        const std::int64_t n = d->is_int64() ? d->get_int64() : d->is_uint64() ? std::int64_t(std::min<std::uint64_t>(d->get_uint64(), 1u << 30)) : 0;
        if (!integral || n <= 0)
            return invalid("'dimensions' is " + boost::json::serialize(*d) + "; expected a positive integer", "dimensions");
        r.dimensions = std::uint32_t(std::min<std::int64_t>(n, 1 << 30));
    }
    if (const auto* u = o.if_contains("user"); u && !u->is_null() && !u->is_string())
        return invalid("'user' must be a string", "user");
    return r;
}

/// OpenAI's answer: {object: "list", data: [{object: "embedding", index, embedding}], model, usage}.
inline std::string encode_embeddings_body(std::span<const std::vector<float>> vectors, bool base64, std::string_view model,
                                          std::uint64_t prompt_tokens) {
    std::string out;
    std::size_t floats = 0;
    for (const auto& v : vectors) floats += v.size();
    out.reserve(64 + vectors.size() * 48 + floats * (base64 ? 6 : 14));
    out += R"({"object":"list","data":[)";
    for (std::size_t i = 0; i < vectors.size(); ++i) {
        if (i) out += ',';
        out += R"({"object":"embedding","index":)";
        out += std::to_string(i);
        out += R"(,"embedding":)";
        if (base64) {
            out += '"';
            out += base64_floats(vectors[i]);
            out += '"';
        } else {
            out += '[';
            for (std::size_t k = 0; k < vectors[i].size(); ++k) {
                if (k) out += ',';
                // The shortest text that reads back to the same float32.
                char buf[32];
                float f = std::isfinite(vectors[i][k]) ? vectors[i][k] : 0.0f;
                auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f);
                out.append(buf, end);
            }
            out += ']';
        }
        out += '}';
    }
    out += R"(],"model":)";
    out += boost::json::serialize(boost::json::value(boost::json::string_view(model.data(), model.size())));
    out += R"(,"usage":{"prompt_tokens":)";
    out += std::to_string(prompt_tokens);
    out += R"(,"total_tokens":)";
    out += std::to_string(prompt_tokens);
    out += "}}";
    return out;
}

} // namespace sluice::api

#endif

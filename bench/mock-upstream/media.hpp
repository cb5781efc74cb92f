#ifndef SLUICE_MOCK_MEDIA_HPP
#define SLUICE_MOCK_MEDIA_HPP

// The mock's OpenAI media endpoints, for the gateway's passthrough tests:
//   POST /v1/embeddings          deterministic unit vectors (8 floats, or `dimensions`) from a hash
//                                of each input; float or base64; usage counts words (token ids)
//   POST /v1/images/generations  `n` images: b64_json a real 2x2 PNG, url a link to GET /mock/image.png
//   POST /v1/audio/speech        a short valid file in response_format (mp3 opus aac flac wav pcm),
//                                sent chunked in a few pieces
// The input or prompt may carry `mock: error=STATUS` (answered with OpenAI's error) and, for
// speech, `mock: cut=1` (half the audio, then the connection drops).
// Included by main.cpp, the mock's only Beast translation unit.

#include "directives.hpp"
#include "media_samples.hpp"
#include "openai_shape.hpp"

#include <sluice/transport/route_table.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::mock::media {

namespace net = transport::net;
namespace http = transport::http;

inline std::string base64(std::string_view bytes) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        std::uint32_t n = std::uint32_t(std::uint8_t(bytes[i])) << 16 | std::uint32_t(std::uint8_t(bytes[i + 1])) << 8 |
                          std::uint8_t(bytes[i + 2]);
        for (int s : {18, 12, 6, 0}) out += alphabet[n >> s & 63];
    }
    if (std::size_t rest = bytes.size() - i) {
        std::uint32_t n = std::uint32_t(std::uint8_t(bytes[i])) << 16;
        if (rest == 2) n |= std::uint32_t(std::uint8_t(bytes[i + 1])) << 8;
        out += alphabet[n >> 18 & 63];
        out += alphabet[n >> 12 & 63];
        out += rest == 2 ? alphabet[n >> 6 & 63] : '=';
        out += '=';
    }
    return out;
}

/// 0.25 s of a 440 Hz tone, 24 kHz 16-bit little-endian mono: OpenAI's pcm format.
inline std::string pcm_tone() {
    constexpr int rate = 24000, samples = rate / 4;
    std::string out(samples * 2, '\0');
    for (int i = 0; i < samples; ++i) {
        auto v = std::int16_t(std::lround(8000 * std::sin(2 * 3.14159265358979 * 440 * i / rate)));
        out[2 * i] = char(std::uint16_t(v) & 0xff);
        out[2 * i + 1] = char(std::uint16_t(v) >> 8);
    }
    return out;
}

inline std::string wav_of(const std::string& pcm) {
    auto le = [](std::string& s, std::uint32_t v, int bytes) {
        for (int b = 0; b < bytes; ++b) s += char(v >> (8 * b) & 0xff);
    };
    std::string out = "RIFF";
    le(out, std::uint32_t(36 + pcm.size()), 4);
    out += "WAVEfmt ";
    le(out, 16, 4);
    le(out, 1, 2);         // PCM
    le(out, 1, 2);         // mono
    le(out, 24000, 4);     // sample rate
    le(out, 24000 * 2, 4); // byte rate
    le(out, 2, 2);         // block align
    le(out, 16, 2);        // bits per sample
    out += "data";
    le(out, std::uint32_t(pcm.size()), 4);
    return out + pcm;
}

inline std::uint32_t fnv1a(std::string_view s, std::uint32_t h = 0x811c9dc5u) {
    for (unsigned char c : s) h = (h ^ c) * 16777619u;
    return h;
}

/// A unit vector of `dim` floats, the same for the same text.
inline std::vector<float> vector_of(std::string_view text, std::size_t dim) {
    std::vector<float> v(dim);
    double norm = 0;
    std::uint32_t h = fnv1a(text);
    for (auto& x : v) {
        h = h * 1664525u + 1013904223u;
        x = float(int(h >> 8 & 0xffff) - 32768) / 32768.0f;
        norm += double(x) * x;
    }
    if (norm == 0) v[0] = 1, norm = 1;
    for (auto& x : v) x = float(x / std::sqrt(norm));
    return v;
}

inline net::awaitable<void> respond(transport::exchange& ex, unsigned status, std::string content_type, std::string body) {
    transport::http_response res;
    res.result(status);
    res.set(http::field::content_type, content_type);
    res.body() = std::move(body);
    co_await ex.respond(std::move(res));
}

inline net::awaitable<void> respond_invalid(transport::exchange& ex, std::string_view message, std::string_view param) {
    co_await respond(ex, 400, "application/json", openai_error_body(message, "invalid_request_error", param, {}));
}

/// The body as an object, or nullptr after answering 400.
inline boost::json::object parse_body(std::string_view body, bool& ok) {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    ok = !ec && v.is_object() && v.as_object().contains("model");
    return ok ? std::move(v.as_object()) : boost::json::object{};
}

inline std::string string_field(const boost::json::object& o, std::string_view key, std::string fallback = {}) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : fallback;
}

inline net::awaitable<void> serve_embeddings(transport::exchange& ex) {
    bool ok = false;
    auto o = parse_body(ex.request().body(), ok);
    if (!ok) co_return co_await respond_invalid(ex, "the body must be a JSON object with a model", "model");
    std::vector<std::string> inputs;
    std::uint64_t tokens = 0;
    bool token_ids = false;
    const auto* in = o.if_contains("input");
    auto words = [](std::string_view s) {
        std::uint64_t n = 0;
        bool w = false;
        for (char c : s) {
            bool now = c != ' ';
            n += now && !w;
            w = now;
        }
        return n;
    };
    if (in && in->is_string()) {
        inputs.emplace_back(in->get_string());
    } else if (in && in->is_array()) {
        for (const auto& x : in->get_array()) {
            if (x.is_string()) inputs.emplace_back(x.get_string());
            else inputs.push_back(boost::json::serialize(x));
            if (!x.is_string() && !x.is_array()) { // one array of token ids
                inputs.assign(1, boost::json::serialize(*in));
                tokens = in->get_array().size();
                token_ids = true;
                break;
            }
        }
    }
    if (inputs.empty()) co_return co_await respond_invalid(ex, "'input' is required", "input");
    if (auto d = parse_directives(inputs.front()); d.error)
        co_return co_await respond(ex, unsigned(d.error), "application/json", openai_error_body(d.error));
    std::size_t dim = 8;
    if (const auto* d = o.if_contains("dimensions"); d && d->is_int64() && d->get_int64() > 0 && d->get_int64() <= 4096)
        dim = std::size_t(d->get_int64());
    const bool b64 = string_field(o, "encoding_format") == "base64";
    boost::json::array data;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        auto v = vector_of(inputs[i], dim);
        boost::json::value emb;
        if (b64) {
            std::string raw;
            for (float f : v) {
                auto bits = std::bit_cast<std::uint32_t>(f);
                for (int b = 0; b < 4; ++b) raw += char(bits >> (8 * b) & 0xff);
            }
            emb = base64(raw);
        } else {
            boost::json::array a;
            for (float f : v) a.push_back(double(f));
            emb = std::move(a);
        }
        data.push_back(boost::json::object{{"object", "embedding"}, {"index", i}, {"embedding", std::move(emb)}});
        if (!token_ids) tokens += words(inputs[i]);
    }
    boost::json::object answer{{"object", "list"},
                               {"data", std::move(data)},
                               {"model", string_field(o, "model")},
                               {"usage", boost::json::object{{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
    co_await respond(ex, 200, "application/json", boost::json::serialize(answer));
}

inline net::awaitable<void> serve_images(transport::exchange& ex) {
    bool ok = false;
    auto o = parse_body(ex.request().body(), ok);
    if (!ok) co_return co_await respond_invalid(ex, "the body must be a JSON object with a model", "model");
    auto prompt = string_field(o, "prompt");
    if (prompt.empty()) co_return co_await respond_invalid(ex, "'prompt' is required", "prompt");
    if (auto d = parse_directives(prompt); d.error)
        co_return co_await respond(ex, unsigned(d.error), "application/json", openai_error_body(d.error));
    std::int64_t n = 1;
    if (const auto* v = o.if_contains("n"); v && v->is_int64()) n = v->get_int64();
    const bool url = string_field(o, "response_format", "b64_json") == "url";
    auto host = ex.request()[http::field::host];
    boost::json::array data;
    for (std::int64_t i = 0; i < n; ++i) {
        if (url)
            data.push_back(boost::json::object{{"url", "http://" + std::string(host) + "/mock/image.png?i=" + std::to_string(i)},
                                               {"revised_prompt", prompt}});
        else
            data.push_back(boost::json::object{{"b64_json", base64(samples::png)}, {"revised_prompt", prompt}});
    }
    boost::json::object answer{{"created", std::int64_t(std::time(nullptr))}, {"data", std::move(data)}};
    co_await respond(ex, 200, "application/json", boost::json::serialize(answer));
}

inline net::awaitable<void> serve_image_file(transport::exchange& ex) {
    co_await respond(ex, 200, "image/png", std::string(samples::png));
}

inline net::awaitable<void> serve_speech(transport::exchange& ex) {
    bool ok = false;
    auto o = parse_body(ex.request().body(), ok);
    if (!ok) co_return co_await respond_invalid(ex, "the body must be a JSON object with a model", "model");
    auto input = string_field(o, "input");
    if (input.empty()) co_return co_await respond_invalid(ex, "'input' is required", "input");
    auto d = parse_directives(input);
    if (d.error) co_return co_await respond(ex, unsigned(d.error), "application/json", openai_error_body(d.error));
    auto format = string_field(o, "response_format", "mp3");
    std::string body, type;
    if (format == "mp3") body = samples::mp3, type = "audio/mpeg";
    else if (format == "opus") body = samples::opus, type = "audio/ogg";
    else if (format == "aac") body = samples::aac, type = "audio/aac";
    else if (format == "flac") body = samples::flac, type = "audio/flac";
    else if (format == "wav") body = wav_of(pcm_tone()), type = "audio/wav";
    else if (format == "pcm") body = pcm_tone(), type = "audio/pcm";
    else co_return co_await respond_invalid(ex, "'response_format' is not one of mp3, opus, aac, flac, wav, pcm", "response_format");

    http::response<http::empty_body> head{http::status::ok, ex.request().version()};
    head.set(http::field::content_type, type);
    auto ec = co_await ex.begin_chunked(std::move(head));
    if (ec) co_return;
    const std::size_t piece = body.size() / 4 + 1;
    const std::size_t end = d.cut >= 0 ? body.size() / 2 : body.size();
    for (std::size_t at = 0; at < end; at += piece) {
        ec = co_await ex.write_chunk(std::string_view(body).substr(at, std::min(piece, end - at)));
        if (ec) co_return;
    }
    if (d.cut >= 0) throw std::runtime_error("mock: speech body cut after " + std::to_string(end) + " bytes (cut directive)");
    co_await ex.end_chunked();
}

inline void add_routes(transport::route_table& routes) {
    routes.add(http::verb::post, "/v1/embeddings", serve_embeddings);
    routes.add(http::verb::post, "/v1/images/generations", serve_images);
    routes.add(http::verb::get, "/mock/image.png", serve_image_file);
    routes.add(http::verb::post, "/v1/audio/speech", serve_speech);
}

} // namespace sluice::mock::media

#endif

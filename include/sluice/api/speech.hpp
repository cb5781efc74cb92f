#ifndef SLUICE_API_SPEECH_HPP
#define SLUICE_API_SPEECH_HPP

// POST /v1/audio/speech in OpenAI's shape: the request decoded and checked (input length, voice,
// response_format, speed, stream_format), and the Content-Type of each audio format. The answer
// is the audio bytes themselves, sent as they are made.

#include <sluice/core/error.hpp>
#include <sluice/core/result.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::api {

/// OpenAI's limit on the text of one speech request, in characters.
inline constexpr std::size_t max_speech_input_chars = 4096;

inline constexpr std::array<std::string_view, 11> speech_voices{
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse"};

inline constexpr std::array<std::string_view, 6> speech_formats{"mp3", "opus", "aac", "flac", "wav", "pcm"};

struct speech_request {
    std::string model;
    std::string input;
    std::string voice;
    std::string format = "mp3"; // response_format
    double speed = 1.0;
    std::string instructions;
    boost::json::object body; // the request as sent, for an upstream that takes it as it is
};

/// The Content-Type OpenAI answers each format with (pcm: raw 24 kHz 16-bit little-endian mono).
constexpr std::string_view speech_content_type(std::string_view format) noexcept {
    if (format == "mp3") return "audio/mpeg";
    if (format == "opus") return "audio/ogg";
    if (format == "aac") return "audio/aac";
    if (format == "flac") return "audio/flac";
    if (format == "wav") return "audio/wav";
    if (format == "pcm") return "audio/pcm";
    return "application/octet-stream";
}

/// Characters as a person counts them: UTF-8 code points, not bytes.
inline std::size_t utf8_length(std::string_view s) noexcept {
    return std::size_t(std::count_if(s.begin(), s.end(), [](char c) { return (std::uint8_t(c) & 0xC0) != 0x80; }));
}

namespace speech_detail {

inline core::error invalid(std::string message, std::string param) {
    return core::error{core::error_kind::invalid_request, std::move(message), std::move(param), "invalid_value"};
}

template <std::size_t N>
std::string listed(const std::array<std::string_view, N>& names) {
    std::string out;
    for (auto n : names) {
        if (!out.empty()) out += ", ";
        out += n;
    }
    return out;
}

template <std::size_t N>
bool among(const std::array<std::string_view, N>& names, std::string_view s) {
    return std::find(names.begin(), names.end(), s) != names.end();
}

} // namespace speech_detail

/// The request, checked: a 400 naming the field for anything OpenAI would refuse, and for
/// stream_format "sse", which the gateway does not serve.
inline core::result<speech_request> decode_speech_request(std::string_view text) {
    using speech_detail::invalid;
    boost::system::error_code ec;
    auto parsed = boost::json::parse(text, ec);
    if (ec) return invalid("the request body is not valid JSON: " + ec.message(), "");
    if (!parsed.is_object()) return invalid("the request body must be a JSON object", "");
    speech_request r;
    r.body = std::move(parsed.as_object());
    const auto& o = r.body;

    const auto* model = o.if_contains("model");
    if (!model || !model->is_string() || model->get_string().empty())
        return invalid("'model' is required: the id of a speech model", "model");
    r.model = std::string(model->get_string());

    const auto* input = o.if_contains("input");
    if (!input || !input->is_string()) return invalid("'input' is required: the text to speak, as a string", "input");
    r.input = std::string(input->get_string());
    if (r.input.empty()) return invalid("'input' is an empty string; there is nothing to speak", "input");
    if (auto n = utf8_length(r.input); n > max_speech_input_chars)
        return invalid("'input' is " + std::to_string(n) + " characters; at most " +
                           std::to_string(max_speech_input_chars) + " are allowed",
                       "input");

    const auto* voice = o.if_contains("voice");
    if (!voice || voice->is_null()) return invalid("'voice' is required: one of " + speech_detail::listed(speech_voices), "voice");
    if (!voice->is_string() || !speech_detail::among(speech_voices, voice->get_string()))
        return invalid("'voice' is " + boost::json::serialize(*voice) + "; expected one of " +
                           speech_detail::listed(speech_voices),
                       "voice");
    r.voice = std::string(voice->get_string());

    if (const auto* f = o.if_contains("response_format"); f && !f->is_null()) {
        if (!f->is_string() || !speech_detail::among(speech_formats, f->get_string()))
            return invalid("'response_format' is " + boost::json::serialize(*f) + "; expected one of " +
                               speech_detail::listed(speech_formats),
                           "response_format");
        r.format = std::string(f->get_string());
    }
    if (const auto* s = o.if_contains("speed"); s && !s->is_null()) {
        if (!s->is_number()) return invalid("'speed' must be a number from 0.25 to 4.0", "speed");
        r.speed = s->to_number<double>();
        if (!(r.speed >= 0.25 && r.speed <= 4.0))
            return invalid("'speed' is " + boost::json::serialize(*s) + "; expected a number from 0.25 to 4.0", "speed");
    }
    if (const auto* i = o.if_contains("instructions"); i && !i->is_null()) {
        if (!i->is_string()) return invalid("'instructions' must be a string", "instructions");
        r.instructions = std::string(i->get_string());
    }
    if (const auto* s = o.if_contains("stream_format"); s && !s->is_null()) {
        if (!s->is_string() || (s->get_string() != "audio" && s->get_string() != "sse"))
            return invalid("'stream_format' is " + boost::json::serialize(*s) + "; expected 'audio' or 'sse'", "stream_format");
        if (s->get_string() == "sse")
            return core::error{core::error_kind::invalid_request,
                               "stream_format 'sse' is not supported; use 'audio' (the audio bytes are streamed as "
                               "they are made)",
                               "stream_format", "unsupported_value"};
    }
    return r;
}

} // namespace sluice::api

#endif

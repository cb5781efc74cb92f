#ifndef SLUICE_API_IMAGES_HPP
#define SLUICE_API_IMAGES_HPP

// POST /v1/images/generations in OpenAI's shape: the request checked before it goes to a
// provider (n, size at most one megapixel, quality, response_format, output_format, background,
// style), and the images counted in the answer for metering. Bodies pass through otherwise.

#include <sluice/core/error.hpp>
#include <sluice/core/result.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::api {

/// The largest image served: one megapixel (1024x1024).
inline constexpr std::uint64_t max_image_pixels = 1024 * 1024;
/// OpenAI's longest image prompt (gpt-image-1), in characters.
inline constexpr std::size_t max_image_prompt_chars = 32000;
inline constexpr std::uint32_t max_images_per_request = 10;

struct image_request {
    std::string model;
    std::string prompt;
    std::uint32_t n = 1;
    std::string size; // "WxH" or "auto"; empty when unset
    std::string response_format; // b64_json | url; empty when unset
    boost::json::object body;    // the request as sent, for the provider
};

namespace images_detail {

inline core::error invalid(std::string message, std::string param) {
    return core::error{core::error_kind::invalid_request, std::move(message), std::move(param), "invalid_value"};
}

/// "WxH" -> {W, H}; nullopt when it is not two positive integers.
inline std::optional<std::pair<std::uint32_t, std::uint32_t>> parse_size(std::string_view s) {
    auto x = s.find('x');
    if (x == std::string_view::npos || x == 0 || x + 1 >= s.size()) return std::nullopt;
    std::uint32_t w = 0, h = 0;
    auto a = std::from_chars(s.data(), s.data() + x, w);
    auto b = std::from_chars(s.data() + x + 1, s.data() + s.size(), h);
    if (a.ec != std::errc{} || a.ptr != s.data() + x || b.ec != std::errc{} || b.ptr != s.data() + s.size()) return std::nullopt;
    if (w == 0 || h == 0) return std::nullopt;
    return std::pair{w, h};
}

/// An optional string field that must be one of `allowed`.
inline std::optional<core::error> one_of(const boost::json::object& o, std::string_view key,
                                         std::initializer_list<std::string_view> allowed) {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_string() && std::find(allowed.begin(), allowed.end(), std::string_view(v->get_string())) != allowed.end())
        return std::nullopt;
    std::string list;
    for (auto a : allowed) {
        if (!list.empty()) list += ", ";
        list += a;
    }
    return invalid("'" + std::string(key) + "' is " + boost::json::serialize(*v) + "; expected one of " + list,
                   std::string(key));
}

} // namespace images_detail

/// The request, checked: a 400 naming the field for anything out of range, and for a size above
/// one megapixel a message that says so.
inline core::result<image_request> decode_image_request(std::string_view text) {
    using images_detail::invalid;
    boost::system::error_code ec;
    auto parsed = boost::json::parse(text, ec);
    if (ec) return invalid("the request body is not valid JSON: " + ec.message(), "");
    if (!parsed.is_object()) return invalid("the request body must be a JSON object", "");
    image_request r;
    r.body = std::move(parsed.as_object());
    const auto& o = r.body;

    const auto* model = o.if_contains("model");
    if (!model || !model->is_string() || model->get_string().empty())
        return invalid("'model' is required: the id of an image model", "model");
    r.model = std::string(model->get_string());

    const auto* prompt = o.if_contains("prompt");
    if (!prompt || !prompt->is_string()) return invalid("'prompt' is required: a description of the image, as a string", "prompt");
    r.prompt = std::string(prompt->get_string());
    if (r.prompt.empty()) return invalid("'prompt' is an empty string", "prompt");
    std::size_t chars = std::size_t(std::count_if(r.prompt.begin(), r.prompt.end(), [](char c) { return (std::uint8_t(c) & 0xC0) != 0x80; }));
    if (chars > max_image_prompt_chars)
        return invalid("'prompt' is " + std::to_string(chars) + " characters; at most " +
                           std::to_string(max_image_prompt_chars) + " are allowed",
                       "prompt");

    if (const auto* n = o.if_contains("n"); n && !n->is_null()) {
        const bool integral = n->is_int64() || n->is_uint64();
        const std::int64_t v = n->is_int64() ? n->get_int64() : n->is_uint64() ? std::int64_t(std::min<std::uint64_t>(n->get_uint64(), 1000)) : 0;
        if (!integral || v < 1 || v > max_images_per_request)
            return invalid("'n' is " + boost::json::serialize(*n) + "; expected an integer from 1 to " +
                               std::to_string(max_images_per_request),
                           "n");
        r.n = std::uint32_t(v);
    }

    if (const auto* s = o.if_contains("size"); s && !s->is_null()) {
        if (!s->is_string()) return invalid("'size' must be a string such as \"1024x1024\" or \"auto\"", "size");
        r.size = std::string(s->get_string());
        if (r.size != "auto") {
            auto wh = images_detail::parse_size(r.size);
            if (!wh)
                return invalid("'size' is \"" + r.size + "\"; expected WIDTHxHEIGHT in pixels (such as \"1024x1024\") or \"auto\"",
                               "size");
            const std::uint64_t pixels = std::uint64_t(wh->first) * wh->second;
            if (pixels > max_image_pixels) {
                char mp[32];
                std::snprintf(mp, sizeof mp, "%.2f", double(pixels) / 1e6);
                return core::error{core::error_kind::invalid_request,
                                   "size " + r.size + " is " + mp + " megapixels; at most 1 megapixel (" +
                                       std::to_string(max_image_pixels) + " pixels) is served",
                                   "size", "image_too_large"};
            }
        }
    }

    if (auto e = images_detail::one_of(o, "response_format", {"b64_json", "url"})) return std::move(*e);
    if (const auto* f = o.if_contains("response_format"); f && f->is_string()) r.response_format = std::string(f->get_string());
    if (auto e = images_detail::one_of(o, "quality", {"auto", "low", "medium", "high", "standard", "hd"})) return std::move(*e);
    if (auto e = images_detail::one_of(o, "output_format", {"png", "jpeg", "webp"})) return std::move(*e);
    if (auto e = images_detail::one_of(o, "background", {"transparent", "opaque", "auto"})) return std::move(*e);
    if (auto e = images_detail::one_of(o, "style", {"vivid", "natural"})) return std::move(*e);
    if (const auto* u = o.if_contains("user"); u && !u->is_null() && !u->is_string()) return invalid("'user' must be a string", "user");
    // A transparent background needs an image format that has an alpha channel.
    const auto* bg = o.if_contains("background");
    const auto* of = o.if_contains("output_format");
    if (bg && bg->is_string() && bg->get_string() == "transparent" && of && of->is_string() && of->get_string() == "jpeg")
        return invalid("background 'transparent' needs output_format 'png' or 'webp'; jpeg has no transparency", "background");
    return r;
}

/// How many images an answer holds ({"data": [...]}), for metering.
inline std::uint32_t count_images(const boost::json::value& answer) {
    if (const auto* o = answer.if_object())
        if (const auto* d = o->if_contains("data"); d && d->is_array()) return std::uint32_t(d->get_array().size());
    return 0;
}

} // namespace sluice::api

#endif

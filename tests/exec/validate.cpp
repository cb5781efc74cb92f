// The catalog's contract and the request's own sanity, checked before any backend is called.
#include <sluice/exec/validate.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace sluice;

namespace {

std::string base64(std::string_view bytes) {
    static constexpr char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned v = (unsigned char)bytes[i] << 16 | (unsigned char)bytes[i + 1] << 8 | (unsigned char)bytes[i + 2];
        out += digits[v >> 18], out += digits[(v >> 12) & 63], out += digits[(v >> 6) & 63], out += digits[v & 63];
    }
    if (bytes.size() - i == 1) {
        const unsigned v = (unsigned char)bytes[i] << 16;
        out += digits[v >> 18], out += digits[(v >> 12) & 63], out += "==";
    } else if (bytes.size() - i == 2) {
        const unsigned v = (unsigned char)bytes[i] << 16 | (unsigned char)bytes[i + 1] << 8;
        out += digits[v >> 18], out += digits[(v >> 12) & 63], out += digits[(v >> 6) & 63], out += '=';
    }
    return out;
}

const std::string png_bytes = std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) + std::string(32, '\x01');
const std::string jpeg_bytes = std::string("\xff\xd8\xff\xe0\0\x10JFIF", 10) + std::string(32, '\x02');
const std::string webp_bytes = std::string("RIFF\x24\0\0\0WEBPVP8 ", 16) + std::string(32, '\x03');

core::envelope with_image(std::string data, std::string media_type) {
    core::envelope env;
    env.model = "m";
    env.endpoint = core::endpoint::chat;
    core::message msg;
    msg.role = core::role::user;
    core::image_part img;
    img.data = std::move(data);
    img.media_type = std::move(media_type);
    msg.content.emplace_back(std::move(img));
    env.messages.push_back(std::move(msg));
    return env;
}

core::model_entry vision_model() {
    core::model_entry m;
    m.id = "m";
    m.endpoints = {core::endpoint::chat};
    return m;
}

const api::param_names params{"max_tokens", "tools", "thinking", "output_config.format", "messages"};

} // namespace

TEST_CASE("inline images are recognised by their first bytes", "[exec][images]") {
    CHECK(exec::detail::sniff_image(png_bytes) == "image/png");
    CHECK(exec::detail::sniff_image(jpeg_bytes) == "image/jpeg");
    CHECK(exec::detail::sniff_image(webp_bytes) == "image/webp");
    CHECK(exec::detail::sniff_image("GIF89a....") == "image/gif");
    CHECK(exec::detail::sniff_image("BM\x36\x00").empty());
    CHECK(exec::detail::sniff_image("").empty());
    for (const auto& [bytes, type] : {std::pair{png_bytes, "image/png"}, {jpeg_bytes, "image/jpeg"}, {webp_bytes, "image/webp"}}) {
        auto ok = exec::validate_against(with_image(base64(bytes), type), vision_model(), params);
        CHECK(ok.has_value());
    }
}

TEST_CASE("a broken inline image is a 400 that says what is wrong", "[exec][images]") {
    auto problem = [](core::envelope env) {
        auto r = exec::validate_against(env, vision_model(), params);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().kind == core::error_kind::invalid_request);
        CHECK(r.error().code == "invalid_image");
        CHECK(r.error().param == "messages");
        return r.error().message;
    };
    CHECK_THAT(problem(with_image("not base64!", "image/png")), Catch::Contains("not valid base64"));
    CHECK_THAT(problem(with_image("", "image/png")), Catch::Contains("empty"));
    CHECK_THAT(problem(with_image(base64("BM6\0\0\0 a bitmap, not accepted"), "image/bmp")),
               Catch::Contains("not a PNG, JPEG, WEBP or GIF image"));
    CHECK(problem(with_image(base64(png_bytes), "image/jpeg")) ==
          "Invalid image: the image data is image/png, but its media type says image/jpeg");
    // 21 MiB decoded: refused before anything is decoded beyond the first bytes.
    std::string big = base64(png_bytes);
    big.resize(28 << 20, 'A');
    CHECK_THAT(problem(with_image(big, "image/png")), Catch::Contains("the limit is 20971520 bytes"));
}

TEST_CASE("images by URL are left to the provider", "[exec][images]") {
    auto env = with_image("", "");
    std::get<core::image_part>(env.messages[0].content[0]).url = "https://example.com/cat.png";
    auto r = exec::validate_against(env, vision_model(), params);
    CHECK(r.has_value());
}

TEST_CASE("an image URL that is not https is a 400 that says so", "[exec][images]") {
    for (const char* url : {"http://example.com/cat.png", "ftp://example.com/cat.png", "file:///etc/passwd", "cat.png"}) {
        auto env = with_image("", "");
        std::get<core::image_part>(env.messages[0].content[0]).url = url;
        auto r = exec::validate_against(env, vision_model(), params);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().kind == core::error_kind::invalid_request);
        CHECK_THAT(r.error().message, Catch::Contains("https://") && Catch::Contains(url));
    }
}

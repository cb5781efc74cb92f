// The media front APIs' decoders and encoders: /v1/embeddings, /v1/audio/speech and
// /v1/images/generations, each refused input with its message and parameter.

#include <sluice/api/embeddings.hpp>
#include <sluice/api/images.hpp>
#include <sluice/api/speech.hpp>

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <string>

using namespace sluice;

namespace {

template <class R>
core::error refused(const R& r) {
    REQUIRE_FALSE(r);
    return r.error();
}

std::vector<float> floats_from_base64(std::string_view b64) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        return c == '+' ? 62 : 63;
    };
    std::string bytes;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : b64) {
        if (c == '=') break;
        acc = acc << 6 | std::uint32_t(value(c));
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes += char(acc >> bits & 0xff);
        }
    }
    std::vector<float> out(bytes.size() / 4);
    for (std::size_t i = 0; i < out.size(); ++i) {
        std::uint32_t u = 0;
        for (int b = 0; b < 4; ++b) u |= std::uint32_t(std::uint8_t(bytes[i * 4 + b])) << (8 * b);
        std::memcpy(&out[i], &u, 4);
    }
    return out;
}

} // namespace

TEST_CASE("embeddings: every input shape OpenAI takes decodes", "[api][embeddings]") {
    auto one = api::decode_embeddings_request(R"({"model":"m","input":"hello"})");
    REQUIRE(one);
    CHECK(one.value().texts == std::vector<std::string>{"hello"});
    CHECK_FALSE(one.value().base64);
    CHECK_FALSE(one.value().dimensions);

    auto many = api::decode_embeddings_request(R"({"model":"m","input":["a","b"],"encoding_format":"base64","dimensions":64,"user":"u"})");
    REQUIRE(many);
    CHECK(many.value().texts.size() == 2);
    CHECK(many.value().base64);
    CHECK(many.value().dimensions == 64u);

    auto ids = api::decode_embeddings_request(R"({"model":"m","input":[1,2,3]})");
    REQUIRE(ids);
    REQUIRE(ids.value().tokens.size() == 1);
    CHECK(ids.value().tokens[0] == std::vector<std::int64_t>{1, 2, 3});

    auto arrays = api::decode_embeddings_request(R"({"model":"m","input":[[1,2],[3]]})");
    REQUIRE(arrays);
    CHECK(arrays.value().tokens.size() == 2);
    CHECK(arrays.value().size() == 2);
}

TEST_CASE("embeddings: bad input is refused naming the field", "[api][embeddings]") {
    auto e = refused(api::decode_embeddings_request(R"({"model":"m","input":""})"));
    CHECK(e.kind == core::error_kind::invalid_request);
    CHECK(e.param == "input");
    CHECK(e.message.find("empty string") != std::string::npos);

    e = refused(api::decode_embeddings_request(R"({"model":"m","input":[]})"));
    CHECK(e.param == "input");

    e = refused(api::decode_embeddings_request(R"({"model":"m","input":["ok",""]})"));
    CHECK(e.param == "input[1]");

    e = refused(api::decode_embeddings_request(R"({"model":"m","input":[1,2.5]})"));
    CHECK(e.param == "input");
    CHECK(e.message.find("input[1]") != std::string::npos);
    CHECK(e.message.find("token id") != std::string::npos);

    e = refused(api::decode_embeddings_request(R"({"model":"m","input":[[1],[-3]]})"));
    CHECK(e.param == "input[1]");

    std::string big = R"({"model":"m","input":[)";
    for (int i = 0; i < 2049; ++i) big += i ? ",\"x\"" : "\"x\"";
    big += "]}";
    e = refused(api::decode_embeddings_request(big));
    CHECK(e.message.find("2048") != std::string::npos);

    e = refused(api::decode_embeddings_request(R"({"model":"m","input":"x","dimensions":0})"));
    CHECK(e.param == "dimensions");
    e = refused(api::decode_embeddings_request(R"({"model":"m","input":"x","dimensions":-4})"));
    CHECK(e.param == "dimensions");
    e = refused(api::decode_embeddings_request(R"({"model":"m","input":"x","encoding_format":"int8"})"));
    CHECK(e.param == "encoding_format");
    e = refused(api::decode_embeddings_request(R"({"input":"x"})"));
    CHECK(e.param == "model");
    e = refused(api::decode_embeddings_request("not json"));
    CHECK(e.kind == core::error_kind::invalid_request);
}

TEST_CASE("embeddings: the answer in float and in base64 reads back the same vectors", "[api][embeddings]") {
    std::vector<std::vector<float>> v{{0.6f, -0.8f, 0.0f}, {1.0f, 0.0f, 1e-7f}};
    auto as_float = boost::json::parse(api::encode_embeddings_body(v, false, "sluice-embed", 7)).as_object();
    CHECK(as_float.at("object") == "list");
    CHECK(as_float.at("model") == "sluice-embed");
    CHECK(as_float.at("usage").at("prompt_tokens") == 7);
    CHECK(as_float.at("usage").at("total_tokens") == 7);
    const auto& d0 = as_float.at("data").as_array()[0].as_object();
    CHECK(d0.at("object") == "embedding");
    CHECK(d0.at("index") == 0);
    CHECK(float(d0.at("embedding").as_array()[1].to_number<double>()) == -0.8f);
    CHECK(float(as_float.at("data").as_array()[1].at("embedding").as_array()[2].to_number<double>()) == 1e-7f);

    auto as_b64 = boost::json::parse(api::encode_embeddings_body(v, true, "sluice-embed", 7)).as_object();
    auto text = as_b64.at("data").as_array()[1].at("embedding").as_string();
    CHECK(floats_from_base64(std::string_view(text.data(), text.size())) == v[1]);
    CHECK(api::base64_floats(std::vector<float>{1.0f}) == "AACAPw==");
}

TEST_CASE("speech: a request decodes with OpenAI's defaults", "[api][speech]") {
    auto r = api::decode_speech_request(R"({"model":"tts","input":"Hello","voice":"nova"})");
    REQUIRE(r);
    CHECK(r.value().format == "mp3");
    CHECK(r.value().speed == 1.0);
    CHECK(r.value().voice == "nova");
    auto w = api::decode_speech_request(
        R"({"model":"tts","input":"Hi","voice":"alloy","response_format":"wav","speed":2,"instructions":"calm","stream_format":"audio"})");
    REQUIRE(w);
    CHECK(w.value().format == "wav");
    CHECK(w.value().speed == 2.0);
    CHECK(w.value().instructions == "calm");
    CHECK(api::speech_content_type("opus") == "audio/ogg");
    CHECK(api::speech_content_type("mp3") == "audio/mpeg");
    CHECK(api::speech_content_type("pcm") == "audio/pcm");
}

TEST_CASE("speech: bad requests are refused naming the field", "[api][speech]") {
    auto e = refused(api::decode_speech_request(R"({"model":"tts","input":"x","voice":"bob"})"));
    CHECK(e.param == "voice");
    CHECK(e.message.find("shimmer") != std::string::npos);
    e = refused(api::decode_speech_request(R"({"model":"tts","input":"x","voice":"alloy","response_format":"ogg"})"));
    CHECK(e.param == "response_format");
    e = refused(api::decode_speech_request(R"({"model":"tts","input":"x","voice":"alloy","speed":4.5})"));
    CHECK(e.param == "speed");
    e = refused(api::decode_speech_request(R"({"model":"tts","input":"x","voice":"alloy","speed":0.2})"));
    CHECK(e.param == "speed");
    e = refused(api::decode_speech_request(R"({"model":"tts","input":"x","voice":"alloy","stream_format":"sse"})"));
    CHECK(e.param == "stream_format");
    CHECK(e.message.find("not supported") != std::string::npos);
    e = refused(api::decode_speech_request(R"({"model":"tts","input":"","voice":"alloy"})"));
    CHECK(e.param == "input");
    std::string long_input(4097, 'a');
    e = refused(api::decode_speech_request(R"({"model":"tts","voice":"alloy","input":")" + long_input + "\"}"));
    CHECK(e.param == "input");
    CHECK(e.message.find("4096") != std::string::npos);
    // 4096 characters of two bytes each are within the limit: characters, not bytes.
    std::string wide;
    for (int i = 0; i < 4096; ++i) wide += "\xc3\xa9";
    CHECK(api::decode_speech_request(R"({"model":"tts","voice":"alloy","input":")" + wide + "\"}"));
}

TEST_CASE("images: a request decodes and sizes up to one megapixel pass", "[api][images]") {
    auto r = api::decode_image_request(
        R"({"model":"img","prompt":"a cat","n":2,"size":"1024x1024","quality":"high","response_format":"b64_json","output_format":"webp","background":"transparent"})");
    REQUIRE(r);
    CHECK(r.value().n == 2);
    CHECK(r.value().size == "1024x1024");
    CHECK(api::decode_image_request(R"({"model":"img","prompt":"a cat","size":"auto"})"));
    CHECK(api::decode_image_request(R"({"model":"img","prompt":"a cat","size":"512x512","style":"vivid"})"));
}

TEST_CASE("images: a size above one megapixel is refused with a message that says so", "[api][images]") {
    auto e = refused(api::decode_image_request(R"({"model":"img","prompt":"a cat","size":"1536x1024"})"));
    CHECK(e.param == "size");
    CHECK(e.message == "size 1536x1024 is 1.57 megapixels; at most 1 megapixel (1048576 pixels) is served");
    e = refused(api::decode_image_request(R"({"model":"img","prompt":"a cat","size":"big"})"));
    CHECK(e.param == "size");
    e = refused(api::decode_image_request(R"({"model":"img","prompt":"a cat","size":"0x10"})"));
    CHECK(e.param == "size");
}

TEST_CASE("images: other out-of-range fields are refused naming the field", "[api][images]") {
    auto e = refused(api::decode_image_request(R"({"model":"img","prompt":"a cat","n":0})"));
    CHECK(e.param == "n");
    e = refused(api::decode_image_request(R"({"model":"img","prompt":"a cat","n":11})"));
    CHECK(e.param == "n");
    e = refused(api::decode_image_request(R"({"model":"img","prompt":"a cat","output_format":"gif"})"));
    CHECK(e.param == "output_format");
    e = refused(api::decode_image_request(R"({"model":"img","prompt":"a cat","response_format":"png"})"));
    CHECK(e.param == "response_format");
    e = refused(api::decode_image_request(R"({"model":"img","prompt":"a cat","background":"blue"})"));
    CHECK(e.param == "background");
    e = refused(api::decode_image_request(R"({"model":"img","prompt":"a cat","background":"transparent","output_format":"jpeg"})"));
    CHECK(e.param == "background");
    e = refused(api::decode_image_request(R"({"model":"img","prompt":""})"));
    CHECK(e.param == "prompt");
    e = refused(api::decode_image_request(R"({"model":"img","prompt":")" + std::string(32001, 'a') + "\"}"));
    CHECK(e.param == "prompt");
    CHECK(e.message.find("32000") != std::string::npos);
    CHECK(api::count_images(boost::json::parse(R"({"data":[{},{}]})")) == 2);
}

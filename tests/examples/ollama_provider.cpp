// Tests examples/provider-plugin/ollama_provider.hpp: the example Ollama provider, its
// translation compiled in directly, and the built sluice_ollama.so loaded through the host.

#include "ollama_provider.hpp"

#include <sluice/core/aggregate.hpp>
#include <sluice/plugin/host.hpp>

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace core = sluice::core;
namespace plugin = sluice::plugin;
namespace json = boost::json;

namespace {

core::envelope chat(std::vector<core::message> messages) {
    core::envelope e;
    e.model = "llama3.2:3b";
    e.messages = std::move(messages);
    return e;
}

plugin::provider_config config(json::object options = {}) {
    return {"local-ollama", "http://127.0.0.1:11434", "", {{"X-Team", "search"}}, std::move(options)};
}

/// The request body as JSON, so tests compare structure rather than number formatting.
json::value body_of(const plugin::upstream_request& r) { return json::parse(r.body); }

core::error refusal(const core::envelope& e) {
    auto r = ollama::ollama_provider(config()).build_request(e);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == core::error_kind::invalid_request);
    return r.error();
}

/// One line per event, enough to compare two decodings.
std::string to_text(const std::vector<core::event>& events) {
    std::ostringstream s;
    for (const auto& e : events) {
        s << core::event_name(e);
        if (const auto* m = std::get_if<core::message_start>(&e)) s << " model=" << m->model;
        if (const auto* b = std::get_if<core::block_start>(&e)) s << ' ' << b->index << ' ' << core::to_string(b->kind);
        if (const auto* d = std::get_if<core::block_delta>(&e)) s << ' ' << d->index << " [" << d->text << ']';
        if (const auto* u = std::get_if<core::usage>(&e))
            s << " input=" << u->input << " cache_read=" << u->cache_read << " output=" << u->output;
        if (const auto* f = std::get_if<core::message_stop>(&e)) s << ' ' << core::to_string(f->finish);
        if (const auto* err = std::get_if<core::error>(&e)) s << " [" << err->message << ']';
        s << '\n';
    }
    return s.str();
}

/// Feeds `bytes` in pieces of `step` bytes (0: all at once), then finishes the stream.
std::vector<core::event> decode_stream(std::string_view bytes, std::size_t step = 0) {
    ollama::ndjson_stream_decoder decoder("llama3.2:3b");
    std::vector<core::event> out;
    if (step == 0) step = bytes.size() + 1;
    for (std::size_t at = 0; at < bytes.size(); at += step) decoder.feed(bytes.substr(at, step), out);
    decoder.finish(out);
    return out;
}

/// An answer as Ollama streams it (docs/api.md), with a multi-byte character to split.
const std::string text_stream =
    R"({"model":"llama3.2:3b","created_at":"2024-08-07T03:57:33.03Z","message":{"role":"assistant","content":"The sky"},"done":false})"
    "\n"
    R"({"model":"llama3.2:3b","created_at":"2024-08-07T03:57:33.28Z","message":{"role":"assistant","content":" is blue, Grüße 👋"},"done":false})"
    "\n"
    R"({"model":"llama3.2:3b","created_at":"2024-08-07T03:57:37.07Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":4353619900,"load_duration":63915300,"prompt_eval_count":26,"prompt_eval_cached_count":10,"prompt_eval_duration":246847000,"eval_count":17,"eval_duration":4032296000})"
    "\n";

const std::string text_stream_events = "message_start model=llama3.2:3b\n"
                                       "block_start 0 text\n"
                                       "block_delta 0 [The sky]\n"
                                       "block_delta 0 [ is blue, Grüße 👋]\n"
                                       "block_stop\n"
                                       "usage input=16 cache_read=10 output=17\n"
                                       "message_stop stop\n";

} // namespace

// ---------------------------------------------------------------- describe and build_request

TEST_CASE("the example describes itself as ollama, serving chat with no key", "[examples][ollama]") {
    auto info = ollama::ollama_provider(config()).describe();
    CHECK(info.name == "ollama");
    CHECK(info.version == ollama::plugin_version);
    CHECK(info.endpoints == core::endpoint_set{core::endpoint::chat});
    CHECK(info.auth == plugin::auth_scheme::none);
}

TEST_CASE("a chat becomes POST /api/chat with the system prompt first and sampling under options",
          "[examples][ollama][request]") {
    auto e = chat({core::message::user("Why is the sky blue?"), core::message::assistant("Rayleigh scattering."),
                   core::message::user("And sunsets?")});
    e.system = {{"Answer in one sentence.", {}}};
    e.sampling.temperature = 0.5;
    e.sampling.top_p = 0.75;
    e.sampling.top_k = 40;
    e.sampling.max_output_tokens = 256;
    e.sampling.stop = {"\n\n", "User:"};
    e.sampling.seed = 42;

    plugin::provider_config with_key = config();
    with_key.api_key = "not-for-ollama";
    auto r = ollama::ollama_provider(with_key).build_request(e);
    REQUIRE(r.has_value());
    CHECK(r->method == "POST");
    CHECK(r->path == "/api/chat");
    CHECK(r->headers == plugin::header_list{{"Content-Type", "application/json"}, {"X-Team", "search"}});
    CHECK(body_of(*r) == json::parse(R"({
        "model": "llama3.2:3b",
        "messages": [
            {"role": "system", "content": "Answer in one sentence."},
            {"role": "user", "content": "Why is the sky blue?"},
            {"role": "assistant", "content": "Rayleigh scattering."},
            {"role": "user", "content": "And sunsets?"}
        ],
        "stream": false,
        "options": {"temperature": 0.5, "top_p": 0.75, "top_k": 40, "num_predict": 256,
                    "stop": ["\n\n", "User:"], "seed": 42}
    })"));
}

TEST_CASE("stream is always written, since Ollama streams unless told false", "[examples][ollama][request]") {
    auto e = chat({core::message::user("hi")});
    e.stream = GENERATE(false, true);
    auto r = ollama::ollama_provider(config()).build_request(e);
    REQUIRE(r.has_value());
    CHECK(body_of(*r).at("stream") == e.stream);
    CHECK_FALSE(body_of(*r).as_object().contains("options"));
}

TEST_CASE("inline images go on their message as base64, and URLs are refused", "[examples][ollama][request]") {
    core::message look{core::role::user,
                       {core::text_part{"What is in this picture?", {}}, core::image_part{"", "iVBORw0KGgo=", "image/png", "", {}}},
                       {}};
    auto r = ollama::ollama_provider(config()).build_request(chat({look}));
    REQUIRE(r.has_value());
    CHECK(body_of(*r).at("messages").at(0) ==
          json::parse(R"({"role":"user","content":"What is in this picture?","images":["iVBORw0KGgo="]})"));

    look.content[1] = core::image_part{"https://example.com/cat.png", "", "", "", {}};
    auto err = refusal(chat({look}));
    CHECK(err.param == "messages[0].content[1]");
    CHECK_THAT(err.message, Catch::Contains("inline as base64"));
}

TEST_CASE("tools are refused with a clear invalid_request, where a team would add them", "[examples][ollama][request]") {
    SECTION("tools defined") {
        auto e = chat({core::message::user("weather in Paris?")});
        e.tools.push_back({"get_weather", "", json::parse(R"({"type":"object"})"), {}, {}});
        auto err = refusal(e);
        CHECK(err.message == "ollama: this example plugin does not translate tools");
        CHECK(err.param == "tools");
    }
    SECTION("a tool result in the history") {
        core::message result{core::role::tool, {core::tool_result_part{"call_1", {core::text_part{"18C", {}}}, false, {}}}, {}};
        auto err = refusal(chat({core::message::user("weather?"), result}));
        CHECK(err.message == "ollama: this example plugin does not translate tools");
        CHECK(err.param == "messages[1].content[0]");
    }
}

TEST_CASE("what the example does not translate is refused, never dropped", "[examples][ollama][request]") {
    auto e = chat({core::message::user("hi")});
    std::string param;
    SECTION("reasoning") {
        e.reasoning.effort = core::reasoning_effort::high;
        param = "reasoning";
    }
    SECTION("a thinking budget") {
        e.reasoning.budget_tokens = 1024;
        param = "reasoning";
    }
    SECTION("response_format") {
        e.response_format = json::parse(R"({"type":"json_object"})");
        param = "response_format";
    }
    SECTION("n > 1") {
        e.sampling.n = 2;
        param = "n";
    }
    SECTION("an endpoint other than chat") {
        e.endpoint = core::endpoint::embeddings;
        param = "model";
    }
    SECTION("no messages") {
        e.messages.clear();
        param = "messages";
    }
    CHECK(refusal(e).param == param);
}

TEST_CASE("options keep_alive and num_ctx reach the body, and an unknown option fails creation",
          "[examples][ollama][request]") {
    json::object options{{"keep_alive", "10m"}, {"num_ctx", 8192}};
    auto r = ollama::ollama_provider(config(options)).build_request(chat({core::message::user("hi")}));
    REQUIRE(r.has_value());
    CHECK(body_of(*r).at("keep_alive") == "10m");
    CHECK(body_of(*r).at("options") == json::parse(R"({"num_ctx":8192})"));

    CHECK_THROWS_WITH(ollama::ollama_provider(config({{"num_ctxx", 1}})),
                      "ollama: unknown option num_ctxx (known: keep_alive, num_ctx)");
    CHECK_THROWS_WITH(ollama::ollama_provider(config({{"num_ctx", "big"}})),
                      "ollama: option num_ctx is \"big\"; expected a positive integer");
}

// ---------------------------------------------------------------- decode_response and map_error

TEST_CASE("a whole body decodes to one text block, usage and the finish", "[examples][ollama][response]") {
    auto events = ollama::decode_response(
        R"({"model":"llama3.2:3b","created_at":"2023-12-12T14:13:43.416799Z","message":{"role":"assistant","content":"Hello! How are you today?"},"done_reason":"length","done":true,"total_duration":5191566416,"prompt_eval_count":26,"eval_count":298})");
    REQUIRE(events.has_value());
    auto answer = core::response_aggregate::fold(*events);
    REQUIRE(answer.complete());
    CHECK(answer.model() == "llama3.2:3b");
    CHECK(core::text_of(answer.message().content) == "Hello! How are you today?");
    CHECK(answer.usage() == core::usage{26, 298, 0, 0, 0});
    CHECK(answer.finish() == core::finish_reason::length);
}

TEST_CASE("a body that is not a finished answer is an upstream error", "[examples][ollama][response]") {
    auto [body, says] = GENERATE(table<std::string, std::string>({
        {R"({"error":"model requires more system memory"})", "upstream: model requires more system memory"},
        {"<html>bad gateway</html>", "upstream: the response body is not JSON"},
        {R"(["a"])", "upstream: the response body is not a JSON object"},
        {R"({"model":"m","done":true})", "upstream: the response has no 'message'"},
        {R"({"model":"m","message":{"role":"assistant","content":"Hi"},"done":false})", "upstream: the response is not finished"},
    }));
    auto events = ollama::decode_response(body);
    REQUIRE_FALSE(events.has_value());
    CHECK(events.error().kind == core::error_kind::upstream);
    CHECK_THAT(events.error().message, Catch::StartsWith(says));
}

TEST_CASE("non-2xx answers map by status, with Ollama's own message", "[examples][ollama][error]") {
    auto e = ollama::map_error(404, R"({"error":"model 'llama9' not found"})");
    CHECK(e.kind == core::error_kind::not_found);
    CHECK(e.message == "upstream: model 'llama9' not found");

    CHECK(ollama::map_error(503, R"({"error":"server busy, please try again.  maximum pending requests exceeded"})").kind ==
          core::error_kind::overloaded);
    CHECK(ollama::map_error(400, R"({"error":"invalid options"})").kind == core::error_kind::invalid_request);
    CHECK(ollama::map_error(500, "").message == "upstream: HTTP 500 with an empty body");

    auto proxy = ollama::map_error(502, std::string(300, 'x'));
    CHECK(proxy.kind == core::error_kind::upstream);
    CHECK(proxy.message == "upstream: HTTP 502: " + std::string(200, 'x') + "...");
}

// ---------------------------------------------------------------- the NDJSON stream

TEST_CASE("an NDJSON stream decodes the same in any split", "[examples][ollama][stream]") {
    CHECK(to_text(decode_stream(text_stream)) == text_stream_events);
    for (std::size_t step = 1; step <= 64; ++step) {
        INFO("fed " << step << " bytes at a time");
        CHECK(to_text(decode_stream(text_stream, step)) == text_stream_events);
    }
    for (std::size_t cut = 1; cut < text_stream.size(); ++cut) { // every two-piece split
        INFO("split at byte " << cut);
        ollama::ndjson_stream_decoder decoder("llama3.2:3b");
        std::vector<core::event> out;
        decoder.feed(std::string_view(text_stream).substr(0, cut), out);
        decoder.feed(std::string_view(text_stream).substr(cut), out);
        decoder.finish(out);
        REQUIRE(to_text(out) == text_stream_events);
    }
    auto answer = core::response_aggregate::fold(decode_stream(text_stream, 3));
    REQUIRE(answer.complete());
    CHECK(core::text_of(answer.message().content) == "The sky is blue, Grüße 👋");
}

TEST_CASE("CRLF line endings, blank lines and a last line without its newline still decode",
          "[examples][ollama][stream]") {
    std::string crlf;
    for (char c : text_stream) crlf += c == '\n' ? std::string("\r\n\r\n") : std::string(1, c);
    CHECK(to_text(decode_stream(crlf, 1)) == text_stream_events);

    std::string no_last_newline = text_stream.substr(0, text_stream.size() - 1);
    CHECK(to_text(decode_stream(no_last_newline, 5)) == text_stream_events);
}

TEST_CASE("a stream cut before done:true ends in an error, never a clean end (WIRE failure 7)",
          "[examples][ollama][stream]") {
    const std::size_t last_line = text_stream.rfind('\n', text_stream.size() - 2) + 1; // where the done line starts
    const std::size_t step = GENERATE(0, 1, 7);
    SECTION("cut between lines") {
        auto events = decode_stream(std::string_view(text_stream).substr(0, last_line), step);
        REQUIRE_FALSE(events.empty());
        const auto* err = std::get_if<core::error>(&events.back());
        REQUIRE(err);
        CHECK(err->kind == core::error_kind::upstream);
        CHECK_THAT(err->message, Catch::Contains("ended before its final done:true object"));
        auto answer = core::response_aggregate::fold(events);
        CHECK_FALSE(answer.complete());
        CHECK(answer.finish() == core::finish_reason::error);
    }
    SECTION("cut inside the last line") {
        auto events = decode_stream(std::string_view(text_stream).substr(0, last_line + 40), step);
        const auto* err = std::get_if<core::error>(&events.back());
        REQUIRE(err);
        CHECK_THAT(err->message, Catch::Contains("cut inside a line"));
    }
    SECTION("closed before any byte") {
        auto events = decode_stream("", step);
        REQUIRE(events.size() == 1);
        CHECK(std::holds_alternative<core::error>(events[0]));
    }
}

TEST_CASE("an error line mid-stream ends it with Ollama's message, and later bytes are ignored",
          "[examples][ollama][stream]") {
    const std::string first_line = text_stream.substr(0, text_stream.find('\n') + 1);
    auto events = decode_stream(first_line + R"({"error":"an error was encountered while running the model"})" "\n" +
                                first_line);
    CHECK(to_text(events) == "message_start model=llama3.2:3b\n"
                             "block_start 0 text\n"
                             "block_delta 0 [The sky]\n"
                             "error [upstream: an error was encountered while running the model]\n");
}

TEST_CASE("a line longer than the limit is an error, not unbounded memory", "[examples][ollama][stream]") {
    ollama::ndjson_stream_decoder decoder("m");
    std::vector<core::event> out;
    const std::string piece(64 * 1024, 'x');
    for (std::size_t fed = 0; fed <= ollama::ndjson_stream_decoder::max_line_bytes && out.empty(); fed += piece.size())
        decoder.feed(piece, out);
    REQUIRE(out.size() == 1);
    CHECK_THAT(std::get<core::error>(out[0]).message, Catch::Contains("grew past"));
    decoder.feed("\n", out);
    decoder.finish(out);
    CHECK(out.size() == 1);
}

// ---------------------------------------------------------------- the built plugin

#ifdef SLUICE_OLLAMA_PLUGIN_DIR

TEST_CASE("sluice_ollama.so loads through the host and answers as the compiled-in class does",
          "[examples][ollama][plugin]") {
    plugin::host host({SLUICE_OLLAMA_PLUGIN_DIR});
    auto provider = host.create_provider("ollama", config());
    if (!provider) FAIL(provider.error().message);

    auto info = (*provider)->describe();
    CHECK(info.name == "ollama");
    CHECK(info.version == ollama::plugin_version);
    CHECK(info.auth == plugin::auth_scheme::none);

    auto e = chat({core::message::user("hi")});
    e.stream = true;
    auto request = (*provider)->build_request(e);
    REQUIRE(request.has_value());
    CHECK(request->path == "/api/chat");
    CHECK(request->body == ollama::ollama_provider(config()).build_request(e)->body);

    auto decoder = (*provider)->make_stream_decoder(e);
    REQUIRE(decoder.has_value());
    std::vector<core::event> out;
    for (char c : text_stream) (*decoder)->feed(std::string_view(&c, 1), out);
    (*decoder)->finish(out);
    CHECK(to_text(out) == text_stream_events);

    CHECK((*provider)->map_error(404, R"({"error":"model 'x' not found"})").kind == core::error_kind::not_found);
    e.tools.push_back({"f", "", {}, {}, {}});
    CHECK((*provider)->build_request(e).error().message == "ollama: this example plugin does not translate tools");
}

TEST_CASE("sluice_ollama.so refuses an unknown option when it is created", "[examples][ollama][plugin]") {
    plugin::host host({SLUICE_OLLAMA_PLUGIN_DIR});
    auto provider = host.create_provider("ollama", config({{"keepalive", "5m"}}));
    REQUIRE_FALSE(provider.has_value());
    CHECK(provider.error().kind == plugin::plugin_error_kind::factory_failed);
    CHECK_THAT(provider.error().message, Catch::Contains("unknown option keepalive"));
}

#endif

#ifndef SLUICE_MOCK_VIDEOS_HPP
#define SLUICE_MOCK_VIDEOS_HPP

// The mock's OpenAI videos API, for the gateway's async job tests:
//   POST /v1/videos              {model, prompt, seconds, size} -> {id, object: "video", status: "queued", ...}
//   GET  /v1/videos/{id}         in_progress for the first `polls` reads (default 2), then completed
//   GET  /v1/videos/{id}/content the fixed bytes of video_bytes, video/mp4 (400 before completion)
// The prompt may carry `mock: polls=N fail=1 vanish=1 error=STATUS`: N reads in progress; then
// failed (with an error object) instead of completed; forgotten (404) after the first read; or
// the submit answered with that status and OpenAI's error body.
// Included by main.cpp, the mock's only Beast translation unit.

#include "openai_shape.hpp"

#include <sluice/transport/route_table.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <charconv>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace sluice::mock::videos {

namespace net = transport::net;
namespace http = transport::http;

/// What GET /v1/videos/{id}/content answers: an MP4 `ftyp` box and a marker, enough for a test to compare.
inline std::string video_bytes() {
    using namespace std::string_literals;
    return "\x00\x00\x00\x18"s "ftypmp42"s "\x00\x00\x00\x00"s "mp42isom"s "sluice-mock-video"s;
}

struct video_job {
    std::string id, model, seconds, size;
    std::int64_t created_at = 0;
    int polls = 2;       // reads answered in_progress
    int reads = 0;
    bool fail = false;   // ends failed
    bool vanish = false; // 404 after the first read
};

struct video_state {
    std::mutex mu;
    std::map<std::string, video_job> jobs;
    std::atomic<std::uint64_t> next{1};
};

inline video_state& state() {
    static video_state s;
    return s;
}

inline int directive_int(std::string_view prompt, std::string_view key, int fallback) {
    auto at = prompt.find("mock:");
    if (at == std::string_view::npos) return fallback;
    std::string needle = std::string(key) + "=";
    auto k = prompt.find(needle, at);
    if (k == std::string_view::npos) return fallback;
    auto v = prompt.substr(k + needle.size());
    int n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || n < 0 || n > 100000) return fallback;
    return n;
}

inline net::awaitable<void> respond(transport::exchange& ex, unsigned status, std::string body,
                                    std::string_view type = "application/json") {
    transport::http_response res{http::status(status), ex.request().version()};
    res.set(http::field::content_type, type);
    res.body() = std::move(body);
    co_await ex.respond(std::move(res));
}

inline std::string error_body(std::string_view message, std::string_view type, std::string_view code) {
    boost::json::object e{{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}};
    boost::json::object o{{"error", std::move(e)}};
    return boost::json::serialize(o);
}

inline std::string video_json(const video_job& j) {
    boost::json::object o{{"id", j.id}, {"object", "video"}, {"model", j.model}, {"created_at", j.created_at}};
    if (!j.seconds.empty()) o["seconds"] = j.seconds;
    if (!j.size.empty()) o["size"] = j.size;
    if (j.reads == 0) {
        o["status"] = "queued";
        o["progress"] = 0;
    } else if (j.reads <= j.polls) {
        o["status"] = "in_progress";
        o["progress"] = 100 * j.reads / (j.polls + 1);
    } else if (j.fail) {
        o["status"] = "failed";
        o["error"] = boost::json::object{{"code", "moderation_blocked"},
                                         {"message", "the mock was asked to fail this video"}};
    } else {
        o["status"] = "completed";
        o["progress"] = 100;
        o["completed_at"] = std::int64_t(std::time(nullptr));
    }
    return boost::json::serialize(o);
}

inline net::awaitable<void> serve_create(transport::exchange& ex) {
    boost::system::error_code ec;
    auto v = boost::json::parse(ex.request().body(), ec);
    const boost::json::value* prompt = !ec && v.is_object() ? v.as_object().if_contains("prompt") : nullptr;
    const boost::json::value* model = !ec && v.is_object() ? v.as_object().if_contains("model") : nullptr;
    if (!prompt || !prompt->is_string() || !model || !model->is_string()) {
        co_await respond(ex, 400, error_body("model and prompt are required", "invalid_request_error", "invalid_value"));
        co_return;
    }
    std::string_view p = prompt->as_string();
    if (int status = directive_int(p, "error", 0); status >= 400 && status <= 599) {
        co_await respond(ex, unsigned(status), error_body("the mock was asked to fail", "server_error", "mock_error"));
        co_return;
    }
    video_job j;
    j.id = "video_mock_" + std::to_string(state().next++);
    j.model = std::string(model->as_string());
    j.created_at = std::int64_t(std::time(nullptr));
    j.polls = directive_int(p, "polls", 2);
    j.fail = directive_int(p, "fail", 0) == 1;
    j.vanish = directive_int(p, "vanish", 0) == 1;
    const auto& o = v.as_object();
    if (auto* s = o.if_contains("seconds"); s && s->is_string()) j.seconds = std::string(s->as_string());
    if (auto* s = o.if_contains("size"); s && s->is_string()) j.size = std::string(s->as_string());
    std::string body = video_json(j);
    {
        std::lock_guard lock(state().mu);
        state().jobs.emplace(j.id, j);
    }
    co_await respond(ex, 200, std::move(body));
}

/// GET /v1/videos/{id} and /v1/videos/{id}/content.
inline net::awaitable<void> serve_get(transport::exchange& ex) {
    std::string_view rest = ex.path().substr(std::string_view("/v1/videos/").size());
    std::string id(rest.substr(0, rest.find('/')));
    const bool content = rest.size() > id.size() && rest.substr(id.size()) == "/content";
    std::optional<video_job> j;
    bool gone = false;
    {
        std::lock_guard lock(state().mu);
        auto it = state().jobs.find(id);
        if (it != state().jobs.end()) {
            if (!content) {
                gone = it->second.vanish && it->second.reads >= 1;
                ++it->second.reads;
            }
            j = it->second;
        }
    }
    if (!j || gone) {
        co_await respond(ex, 404, error_body("Video with id '" + id + "' not found.", "invalid_request_error", "not_found"));
        co_return;
    }
    if (!content) {
        co_await respond(ex, 200, video_json(*j));
        co_return;
    }
    if (j->reads <= j->polls || j->fail) {
        co_await respond(ex, 400, error_body("Video is not ready yet.", "invalid_request_error", "video_not_ready"));
        co_return;
    }
    co_await respond(ex, 200, video_bytes(), "video/mp4");
}

inline void add_routes(transport::route_table& routes) {
    routes.add(http::verb::post, "/v1/videos", serve_create);
    routes.add_prefix(http::verb::get, "/v1/videos/", serve_get);
}

} // namespace sluice::mock::videos

#endif

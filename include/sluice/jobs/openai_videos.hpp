#ifndef SLUICE_JOBS_OPENAI_VIDEOS_HPP
#define SLUICE_JOBS_OPENAI_VIDEOS_HPP

// The upstream side of a video job: OpenAI's videos API, reached through the model's provider
// (the plugin adds its credentials in build_passthrough), on the provider's own HTTP client.
//
//   POST /videos              {model, prompt, seconds, size, ...} -> {id, status, progress}
//   GET  /videos/{id}         -> {id, status: queued | in_progress | completed | failed, progress, error}
//   GET  /videos/{id}/content -> the video bytes (video/mp4)

#include <sluice/core/endpoint.hpp>
#include <sluice/exec/executor.hpp>
#include <sluice/jobs/job.hpp>

#include <boost/json/parse.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace sluice::jobs {

inline constexpr std::size_t max_upstream_video_body = 1 << 20;

/// Where the upstream's job stands.
struct upstream_video {
    std::string id;
    enum status status = status::processing;
    std::optional<int> progress;
    std::string seconds;       // the length, when the upstream says
    std::string error_code;    // failed only
    std::string error_message;
};

namespace videos_detail {

/// One request through the provider; a non-2xx answer becomes the provider's mapping of it
/// (a 404 stays not_found: the upstream forgot the job).
inline boost::asio::awaitable<core::result<transport::upstream_response>>
send(const exec::upstream& up, std::string method, std::string path, std::string body, std::string_view request_id) {
    plugin::upstream_request native;
    native.method = std::move(method);
    native.path = std::move(path);
    if (!body.empty()) native.headers.emplace_back("content-type", "application/json");
    native.body = std::move(body);
    auto built = up.provider->build_passthrough(core::endpoint::video, std::move(native));
    if (!built) co_return std::move(built).error();
    co_return co_await exec::send_native(std::move(built).value(), up, request_id, /*keep_not_found=*/true);
}

inline core::result<upstream_video> parse_video(std::string_view body, const std::string& upstream_name) {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    auto bad = [&](std::string what) {
        return core::error{core::error_kind::upstream, "upstream " + upstream_name + " answered " + what, {},
                           "upstream_bad_response"};
    };
    if (ec || !v.is_object()) return bad("a video job that is not a JSON object");
    const auto& o = v.as_object();
    upstream_video out;
    auto* id = o.if_contains("id");
    if (!id || !id->is_string() || id->as_string().empty()) return bad("a video job without an id");
    out.id = std::string(id->as_string());
    auto* st = o.if_contains("status");
    std::string_view s = st && st->is_string() ? std::string_view(st->as_string()) : std::string_view{};
    if (s == "queued" || s == "in_progress" || s == "processing")
        out.status = status::processing;
    else if (s == "completed")
        out.status = status::completed;
    else if (s == "failed")
        out.status = status::failed;
    else
        return bad("a video job with status '" + std::string(s) + "'");
    if (auto* sec = o.if_contains("seconds"); sec && sec->is_string()) out.seconds = std::string(sec->as_string());
    if (auto* sec = o.if_contains("seconds"); sec && sec->is_int64() && sec->as_int64() > 0)
        out.seconds = std::to_string(sec->as_int64());
    if (auto* p = o.if_contains("progress"); p && p->is_number()) {
        double d = p->to_number<double>();
        out.progress = int(d < 0 ? 0 : d > 100 ? 100 : d);
    }
    if (out.status == status::failed) {
        out.error_code = "video_generation_failed";
        out.error_message = "the upstream video job failed";
        if (auto* e = o.if_contains("error"); e && e->is_object()) {
            const auto& eo = e->as_object();
            if (auto* c = eo.if_contains("code"); c && c->is_string() && !c->as_string().empty())
                out.error_code = std::string(c->as_string());
            if (auto* m = eo.if_contains("message"); m && m->is_string() && !m->as_string().empty())
                out.error_message = std::string(m->as_string());
        }
    }
    return out;
}

inline boost::asio::awaitable<core::result<upstream_video>> read_video(core::result<transport::upstream_response> resp,
                                                                       const exec::upstream& up) {
    if (!resp) co_return std::move(resp).error();
    auto body = co_await resp.value().read_all(max_upstream_video_body);
    if (body.ec == transport::net::error::operation_aborted) throw boost::system::system_error(body.ec);
    if (body.ec) co_return exec::transport_error(body.ec, up.name);
    co_return parse_video(body.body, up.name);
}

} // namespace videos_detail

/// POST /videos: the upstream's new job. `body` is the JSON request, model already the upstream's id.
inline boost::asio::awaitable<core::result<upstream_video>> submit_video(const exec::upstream& up, std::string body,
                                                                         std::string_view request_id) {
    auto resp = co_await videos_detail::send(up, "POST", "/videos", std::move(body), request_id);
    co_return co_await videos_detail::read_video(std::move(resp), up);
}

/// GET /videos/{id}: where the upstream's job stands; not_found when it forgot the job.
inline boost::asio::awaitable<core::result<upstream_video>> retrieve_video(const exec::upstream& up, std::string id) {
    auto resp = co_await videos_detail::send(up, "GET", "/videos/" + id, {}, {});
    co_return co_await videos_detail::read_video(std::move(resp), up);
}

/// GET /videos/{id}/content: the response whose body is the video, header arrived.
inline boost::asio::awaitable<core::result<transport::upstream_response>> video_content(const exec::upstream& up,
                                                                                        std::string id,
                                                                                        std::string_view request_id) {
    co_return co_await videos_detail::send(up, "GET", "/videos/" + id + "/content", {}, request_id);
}

} // namespace sluice::jobs

#endif

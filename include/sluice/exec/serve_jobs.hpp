#ifndef SLUICE_EXEC_SERVE_JOBS_HPP
#define SLUICE_EXEC_SERVE_JOBS_HPP

// Async jobs: video generations and /v1/async-invoke, one job system behind both.
//
//   POST /v1/video/generations            {model, prompt, seconds?, size?, ...} -> the job, processing
//   GET  /v1/video/generations/{id}       -> the job: processing | completed | failed
//   GET  /v1/video/generations/{id}/content -> the video bytes, streamed from the upstream
//   POST /v1/async-invoke                 {model, input: {...}} -> {id, request_id, status, model, created_at}
//   GET  /v1/async-invoke/{id}/status     -> {id, request_id, status}
//   GET  /v1/async-invoke/{id}            -> the job with its output (the content URL on this gateway)
//
// A submit starts the upstream's job and answers at once. The replica that submitted polls the
// upstream every poll_interval; a read also polls when the last poll (by anyone) is older than
// that, so another replica, or this one after a restart, moves the job on. Only the account that
// submitted reads a job: anyone else gets the 404 of an unknown id.

#include <sluice/config/jobs.hpp>
#include <sluice/core/catalog.hpp>
#include <sluice/exec/policy_stack.hpp>
#include <sluice/exec/serve.hpp>
#include <sluice/jobs/openai_videos.hpp>
#include <sluice/jobs/redis_store.hpp>
#include <sluice/jobs/store.hpp>
#include <sluice/metering/event.hpp>
#include <sluice/transport/route_table.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <charconv>
#include <ctime>
#include <memory>
#include <set>
#include <string>
#include <string_view>

namespace sluice::exec {

struct job_options {
    std::chrono::milliseconds ttl = std::chrono::hours(2);
    std::chrono::milliseconds poll_interval = std::chrono::seconds(2);
    std::chrono::milliseconds give_up_after = std::chrono::minutes(10);
    jobs::clock_fn clock = [] { return std::chrono::system_clock::now(); };
};

namespace jobs_detail {

inline std::string utc(jobs::millis ms) {
    std::time_t t = ms / 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

inline core::error unknown_job(std::string_view id) {
    return core::error{core::error_kind::not_found, "no job " + std::string(id), {}, "job_not_found"};
}

inline bool plausible_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
    return true;
}

/// Who owns what a request makes: the principal's account (auth none: the one local account).
template <class State>
std::pair<std::string, std::string> owner_of(const State& st) {
    if constexpr (requires { st.who.acct; st.who.key_id; }) {
        std::string account = st.who.acct ? st.who.acct->id : st.who.key_id;
        return {account.empty() ? std::string("anonymous") : account, st.who.key_id};
    } else {
        return {"anonymous", {}};
    }
}

} // namespace jobs_detail

/// The job system of one gateway replica: the store, the upstream calls, the poller.
class job_service {
public:
    /// catalog: where a finished job's price is looked up (null: metered without a cost).
    job_service(std::unique_ptr<jobs::any_store> store, upstream_lookup upstream_for, usage_recorder record,
                transport::net::any_io_executor executor, job_options options = {},
                const core::catalog* catalog = nullptr)
        : store_(std::move(store)), upstream_for_(std::move(upstream_for)), record_(std::move(record)),
          strand_(transport::net::make_strand(executor)), timer_(strand_), opts_(std::move(options)),
          catalog_(catalog) {}

    job_service(const job_service&) = delete;
    job_service& operator=(const job_service&) = delete;

    const job_options& options() const noexcept { return opts_; }
    jobs::millis now() const { return jobs::to_millis(opts_.clock()); }

    /// Starts the upstream's job for `model` and keeps it. `body`: the upstream request, model
    /// already the upstream's id.
    transport::net::awaitable<core::result<jobs::job>> submit(const core::model_entry& model, boost::json::object body,
                                                              std::string kind, std::string account,
                                                              std::string key_id, std::string_view request_id) {
        const upstream* up = upstream_for_(model);
        if (!up)
            co_return core::error{core::error_kind::invalid_request,
                                  "the model '" + model.id + "' runs in this process and does not run async jobs",
                                  "model", "unsupported_endpoint"};
        jobs::job j;
        j.id = jobs::new_job_id(kind == "video" ? "video_" : "job_");
        j.kind = std::move(kind);
        j.account = std::move(account);
        j.key_id = std::move(key_id);
        j.model = model.id;
        j.provider = up->name;
        if (auto* s = body.if_contains("seconds"); s && s->is_string()) j.seconds = std::string(s->as_string());
        if (auto* s = body.if_contains("size"); s && s->is_string()) j.size = std::string(s->as_string());
        auto started = co_await jobs::submit_video(*up, boost::json::serialize(body), request_id);
        if (!started) co_return std::move(started).error();
        const auto& v = started.value();
        j.upstream_id = v.id;
        j.created_at = now();
        j.polled_at = j.created_at;
        apply(j, v);
        j.metered = j.finished();
        auto stored = co_await store_->create(j);
        if (!stored) co_return std::move(stored).error();
        if (j.finished()) meter(j);
        else watch(j.id);
        log::info("job_submitted", {{"request_id", request_id}, {"job", j.id}, {"model", j.model},
                                    {"provider", j.provider}, {"upstream_job", j.upstream_id}});
        co_return j;
    }

    /// The job as `account` may see it, polled first when due; 404 for an unknown, purged or
    /// someone else's job, and 404 "expired" past its expiry.
    transport::net::awaitable<core::result<jobs::job>> read(std::string id, std::string account) {
        if (!jobs_detail::plausible_id(id)) co_return jobs_detail::unknown_job(id);
        auto found = co_await store_->find(id);
        if (!found) co_return std::move(found).error();
        if (!found.value() || found.value()->account != account) co_return jobs_detail::unknown_job(id);
        jobs::job j = co_await advance(std::move(*found.value()));
        if (j.expired(now()))
            co_return core::error{core::error_kind::not_found,
                                  "job " + id + " expired at " + jobs_detail::utc(j.expires_at) +
                                      ": results are kept for " + config::format_duration(opts_.ttl) + " after completion",
                                  {}, "job_expired"};
        co_return j;
    }

    /// Streams a completed job's video from the upstream.
    transport::net::awaitable<void> content(transport::exchange& ex, const jobs::job& j) {
        if (j.status == jobs::status::processing) {
            std::string progress = j.progress ? " (" + std::to_string(*j.progress) + "% done)" : "";
            core::error e{core::error_kind::invalid_request,
                          "job " + j.id + " is still processing" + progress + "; its content is ready once its status is completed",
                          {}, "job_not_ready"};
            co_await ex.respond_error(e);
            co_return;
        }
        if (j.status == jobs::status::failed) {
            core::error e{core::error_kind::invalid_request, "job " + j.id + " failed and has no content: " + j.error_message,
                          {}, "job_failed"};
            co_await ex.respond_error(e);
            co_return;
        }
        const upstream* up = upstream_by_provider(j);
        if (!up) {
            core::error e{core::error_kind::overloaded, "the provider '" + j.provider + "' of job " + j.id + " is not available",
                          {}, "provider_unavailable"};
            co_await ex.respond_error(e);
            co_return;
        }
        auto resp = co_await jobs::video_content(*up, j.upstream_id, ex.request_id());
        if (!resp) {
            auto e = std::move(resp).error();
            if (e.kind == core::error_kind::not_found) {
                e.kind = core::error_kind::upstream;
                e.code = "upstream_content_lost";
                e.message = "the upstream " + j.provider + " no longer has the content of job " + j.id;
            }
            co_await ex.respond_error(e);
            co_return;
        }
        auto& body = resp.value();
        transport::http::response<transport::http::empty_body> head{transport::http::status::ok, ex.request().version()};
        auto type = body.header("content-type");
        head.set(transport::http::field::content_type, type.empty() ? std::string_view("application/octet-stream") : type);
        auto ec = co_await ex.begin_chunked(std::move(head));
        if (ec) co_return;
        for (;;) {
            auto chunk = co_await body.read_some();
            if (chunk.ec == transport::net::error::operation_aborted) throw boost::system::system_error(chunk.ec);
            if (chunk.ec) {
                // A cut download must not look whole: no last chunk, and the connection goes.
                log::info("job_content_cut", {{"job", j.id}, {"error", chunk.ec.message()}});
                ex.close_after_response();
                co_return;
            }
            if (chunk.bytes.empty()) break;
            auto wrote = co_await ex.write_chunk(chunk.bytes);
            if (wrote) co_return;
        }
        co_await ex.end_chunked();
    }

    /// Stops the poller (the server is draining); reads still poll lazily.
    void stop() {
        stopped_ = true;
        transport::net::post(strand_, [this] { timer_.cancel(); });
    }

private:
    const upstream* upstream_by_provider(const jobs::job& j) const {
        core::model_entry m;
        m.id = j.model;
        m.provider = j.provider;
        return upstream_for_(m);
    }

    /// The upstream's word on a job, applied: status, progress, and completion times.
    void apply(jobs::job& j, const jobs::upstream_video& v) const {
        if (v.progress) j.progress = v.progress;
        if (j.seconds.empty()) j.seconds = v.seconds;
        if (v.status == jobs::status::processing) return;
        finish(j, v.status, v.error_code, v.error_message);
        if (v.status == jobs::status::completed) j.progress = 100;
    }

    void finish(jobs::job& j, jobs::status s, std::string code, std::string message) const {
        j.status = s;
        j.error_code = std::move(code);
        j.error_message = std::move(message);
        j.completed_at = now();
        j.expires_at = j.completed_at + opts_.ttl.count();
    }

    /// Polls the upstream when the job is processing and its last poll is older than the
    /// interval; returns the job as it now stands.
    transport::net::awaitable<jobs::job> advance(jobs::job j) {
        const auto t = now();
        if (j.finished() || t - j.polled_at < opts_.poll_interval.count()) co_return j;
        const upstream* up = upstream_by_provider(j);
        jobs::job next = j;
        next.polled_at = t;
        if (!up) {
            fail_or_wait(next, t, "the provider '" + j.provider + "' is not loaded on this replica");
        } else {
            auto v = co_await jobs::retrieve_video(*up, j.upstream_id);
            if (v) {
                next.unreachable_since = 0;
                apply(next, v.value());
            } else if (v.error().kind == core::error_kind::not_found) {
                finish(next, jobs::status::failed, "upstream_job_lost",
                       "the upstream " + j.provider + " no longer knows job " + j.upstream_id);
            } else {
                fail_or_wait(next, t, v.error().message);
            }
        }
        if (next.finished()) next.metered = true; // whoever records the finish meters it, once
        auto swapped = co_await store_->update(next, jobs::status::processing);
        if (!swapped) {
            log::warn("job_store_error", {{"job", j.id}, {"error", swapped.error().message}});
            co_return j;
        }
        if (!swapped.value()) {
            // Another replica moved it first: its word stands.
            auto again = co_await store_->find(j.id);
            if (again && again.value()) co_return std::move(*again.value());
            co_return j;
        }
        if (next.finished()) {
            log::info("job_finished", {{"job", next.id}, {"status", jobs::to_string(next.status)},
                                       {"error", next.error_code}});
            meter(next);
        }
        co_return next;
    }

    void fail_or_wait(jobs::job& j, jobs::millis t, const std::string& why) const {
        if (j.unreachable_since == 0) j.unreachable_since = t;
        if (t - j.unreachable_since >= opts_.give_up_after.count())
            finish(j, jobs::status::failed, "upstream_unreachable",
                   "the upstream " + j.provider + " could not be reached since " + jobs_detail::utc(j.unreachable_since) +
                       ": " + why);
    }

    /// One usage event per completed job (the job's id is the idempotency key): its seconds of
    /// video as output units, priced at the model's `price.video_second`.
    void meter(const jobs::job& j) {
        if (!record_ || j.status != jobs::status::completed) return;
        metering::usage_event e;
        core::usage used;
        std::uint64_t seconds = 0;
        std::from_chars(j.seconds.data(), j.seconds.data() + j.seconds.size(), seconds);
        used.output = seconds;
        const core::model_entry* m = catalog_ ? catalog_->find(j.model) : nullptr;
        metering::set_usage(e, used, m ? m->price : std::optional<core::price>());
        e.request_id = j.id;
        e.account = j.account;
        e.key_id = j.key_id;
        e.model = j.model;
        e.provider = j.provider;
        e.endpoint = "video.generations";
        e.latency_ms = double(j.completed_at - j.created_at);
        e.status = 200;
        e.ts_ms = j.completed_at;
        record_(std::move(e));
    }

    /// The background poller: one coroutine on the strand, running while jobs are watched.
    void watch(std::string id) {
        transport::net::post(strand_, [this, id = std::move(id)]() mutable {
            watched_.insert(std::move(id));
            if (polling_ || stopped_) return;
            polling_ = true;
            transport::net::co_spawn(strand_, poll_loop(), transport::net::detached);
        });
    }

    transport::net::awaitable<void> poll_loop() {
        while (!stopped_ && !watched_.empty()) {
            timer_.expires_after(opts_.poll_interval);
            co_await timer_.async_wait(transport::net::as_tuple(transport::net::use_awaitable));
            if (stopped_) break;
            std::vector<std::string> ids(watched_.begin(), watched_.end());
            for (auto& id : ids) {
                if (stopped_) break;
                bool done = true;
                try {
                    auto found = co_await store_->find(id);
                    if (!found) {
                        done = false; // the store is down: try again next round
                    } else if (found.value()) {
                        auto j = co_await advance(std::move(*found.value()));
                        done = j.finished();
                    }
                } catch (const std::exception& e) {
                    log::warn("job_poll_failed", {{"job", id}, {"error", e.what()}});
                    done = false;
                }
                if (done) watched_.erase(id);
            }
        }
        polling_ = false;
    }

    std::unique_ptr<jobs::any_store> store_;
    upstream_lookup upstream_for_;
    usage_recorder record_;
    transport::net::strand<transport::net::any_io_executor> strand_;
    transport::net::steady_timer timer_;
    job_options opts_;
    std::set<std::string> watched_; // strand only
    bool polling_ = false;           // strand only
    std::atomic<bool> stopped_{false};
    const core::catalog* catalog_;
};

/// The store the config names. Throws std::runtime_error when the file store cannot be opened.
inline std::unique_ptr<jobs::any_store> open_job_store(const config::jobs_settings& s,
                                                       const transport::net::any_io_executor& executor,
                                                       jobs::clock_fn clock = [] { return std::chrono::system_clock::now(); }) {
    using kind = config::jobs_settings::store_kind;
    switch (s.store) {
    case kind::memory: return std::make_unique<jobs::erased_store<jobs::memory_store>>(s.ttl, std::move(clock));
    case kind::file: return std::make_unique<jobs::erased_store<jobs::file_store>>(s.path, s.ttl, std::move(clock));
    case kind::redis: {
        auto url = redis::parse_url(s.redis);
        if (!url) throw std::runtime_error("jobs.redis: " + url.error().message);
        auto o = redis::client_options::from(url.value());
        o.unavailable_code = "job_store_unavailable";
        return std::make_unique<jobs::erased_store<jobs::redis_store>>(std::make_shared<redis::client>(executor, o), s.ttl);
    }
    }
    throw std::logic_error("unknown job store");
}

namespace jobs_detail {

enum class front { video, async };

inline boost::json::value time_or_null(jobs::millis ms) {
    return ms ? boost::json::value(ms / 1000) : boost::json::value(nullptr);
}

inline boost::json::value error_json(const jobs::job& j) {
    if (j.status != jobs::status::failed) return nullptr;
    return boost::json::object{{"code", j.error_code}, {"message", j.error_message}};
}

/// OpenAI's video object, as this gateway names it.
inline std::string video_json(const jobs::job& j) {
    boost::json::object o;
    o["id"] = j.id;
    o["object"] = "video.generation";
    o["model"] = j.model;
    o["status"] = jobs::to_string(j.status);
    if (j.progress) o["progress"] = *j.progress;
    o["created_at"] = j.created_at / 1000;
    o["completed_at"] = time_or_null(j.completed_at);
    o["expires_at"] = time_or_null(j.expires_at);
    if (!j.seconds.empty()) o["seconds"] = j.seconds;
    if (!j.size.empty()) o["size"] = j.size;
    o["error"] = error_json(j);
    return boost::json::serialize(o);
}

inline std::string content_url(const transport::exchange& ex, const jobs::job& j) {
    auto host = policy_detail::header(ex.request(), "host");
    auto proto = policy_detail::header(ex.request(), "x-forwarded-proto");
    std::string scheme = proto == "https" ? "https" : "http";
    return scheme + "://" + std::string(host.empty() ? std::string_view("localhost") : host) + "/v1/video/generations/" +
           j.id + "/content";
}

inline std::string async_json(const transport::exchange& ex, const jobs::job& j, bool status_only) {
    boost::json::object o;
    o["id"] = j.id;
    o["request_id"] = j.id;
    o["status"] = jobs::to_string(j.status);
    if (!status_only) {
        o["model"] = j.model;
        if (j.progress) o["progress"] = *j.progress;
        o["created_at"] = j.created_at / 1000;
        o["completed_at"] = time_or_null(j.completed_at);
        o["expires_at"] = time_or_null(j.expires_at);
        if (j.status == jobs::status::completed)
            o["output"] = boost::json::object{{"video_url", content_url(ex, j)}, {"content_type", "video/mp4"}};
        else
            o["output"] = nullptr;
        o["error"] = error_json(j);
    }
    return boost::json::serialize(o);
}

inline core::error invalid(std::string message, std::string param, std::string code = "invalid_request") {
    return core::error{core::error_kind::invalid_request, std::move(message), std::move(param), std::move(code)};
}

/// The upstream body of a video request: `fields` checked (prompt, seconds, size), the rest as sent.
inline core::result<boost::json::object> video_body(boost::json::object fields, std::string_view where) {
    std::string at(where);
    auto* prompt = fields.if_contains("prompt");
    if (!prompt || !prompt->is_string() || prompt->as_string().empty())
        return invalid("'" + at + "prompt' is required: a non-empty string that describes the video", at + "prompt");
    if (auto* s = fields.if_contains("seconds")) {
        std::string text;
        if (s->is_int64() && s->as_int64() > 0) text = std::to_string(s->as_int64());
        else if (s->is_uint64() && s->as_uint64() > 0) text = std::to_string(s->as_uint64());
        else if (s->is_string() && !s->as_string().empty() && s->as_string().size() < 6 &&
                 std::all_of(s->as_string().begin(), s->as_string().end(), [](char c) { return c >= '0' && c <= '9'; }))
            text = std::string(s->as_string());
        if (text.empty() || text == "0")
            return invalid("'" + at + "seconds' must be a positive whole number of seconds, like \"4\" or 8", at + "seconds");
        *s = text;
    }
    if (auto* s = fields.if_contains("size")) {
        std::string_view v = s->is_string() ? std::string_view(s->as_string()) : std::string_view{};
        auto x = v.find('x');
        auto digits = [](std::string_view d) {
            return !d.empty() && d.size() < 6 && std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
        };
        if (x == std::string_view::npos || !digits(v.substr(0, x)) || !digits(v.substr(x + 1)))
            return invalid("'" + at + "size' must be WIDTHxHEIGHT, like \"1280x720\"", at + "size");
    }
    return fields;
}

template <request_hooks Hooks>
transport::net::awaitable<void> submit(transport::exchange& ex, const core::catalog& catalog, job_service& svc,
                                       Hooks& hooks, front f) {
    typename Hooks::state st{};
    detail::completion_record<Hooks> record{ex, hooks, st, {}};
    record.c.endpoint = f == front::video ? "video.generations" : "async-invoke";
    record.c.started = ex.started();
    auto refused = co_await hooks.authenticate(ex, st);
    if (refused) {
        record.c.error = refused->kind;
        co_await ex.respond_error(*refused);
        co_return;
    }
    auto fail = [&](core::error e) -> transport::net::awaitable<void> {
        record.c.error = e.kind;
        co_await ex.respond_error(e);
    };
    boost::system::error_code ec;
    auto parsed = boost::json::parse(ex.request().body(), ec);
    if (ec || !parsed.is_object()) {
        co_await fail(invalid("the request body must be a JSON object", {}));
        co_return;
    }
    auto& req = parsed.as_object();
    auto* model_field = req.if_contains("model");
    if (!model_field || !model_field->is_string() || model_field->as_string().empty()) {
        co_await fail(invalid("'model' is required: the id of a video model", "model"));
        co_return;
    }
    std::string model_id(model_field->as_string());
    const core::model_entry* model = catalog.find(model_id);
    if (!model) {
        core::error e{core::error_kind::not_found, "The model '" + model_id + "' does not exist", "model",
                      "model_not_found"};
        co_await fail(std::move(e));
        co_return;
    }
    record.c.model = model;
    if (!model->endpoints.contains(core::endpoint::video)) {
        co_await fail(invalid("the model '" + model_id + "' does not serve video generations", "model",
                              "unsupported_endpoint"));
        co_return;
    }
    boost::json::object fields;
    if (f == front::video) {
        fields = req;
        fields.erase("model");
    } else {
        auto* input = req.if_contains("input");
        if (!input || !input->is_object()) {
            co_await fail(invalid("'input' is required: an object with the model's request, like {\"prompt\": \"...\"}", "input"));
            co_return;
        }
        fields = input->as_object();
    }
    auto body = video_body(std::move(fields), f == front::video ? "" : "input.");
    if (!body) {
        co_await fail(std::move(body).error());
        co_return;
    }
    core::envelope env;
    env.endpoint = core::endpoint::video;
    env.model = model->id;
    env.sampling.max_output_tokens = 1;
    auto denied = co_await hooks.admit(ex, st, env, *model);
    if (denied) {
        co_await fail(std::move(*denied));
        co_return;
    }
    auto upstream_body = std::move(body).value();
    upstream_body["model"] = model->upstream_model;
    auto [account, key_id] = owner_of(st);
    auto made = co_await svc.submit(*model, std::move(upstream_body), f == front::video ? "video" : "async",
                                    std::move(account), std::move(key_id), ex.request_id());
    if (!made) {
        co_await fail(std::move(made).error());
        co_return;
    }
    record.c.outcome = "ok";
    const auto& j = made.value();
    std::string answer;
    if (f == front::video) {
        answer = video_json(j);
    } else {
        boost::json::object o{{"id", j.id}, {"request_id", j.id}, {"status", jobs::to_string(j.status)},
                              {"model", j.model}, {"created_at", j.created_at / 1000}};
        answer = boost::json::serialize(o);
    }
    co_await ex.respond_json(transport::http::status::ok, std::move(answer));
}

/// GET under a front's prefix: "{id}", "{id}/content" (video) or "{id}/status" (async).
template <request_hooks Hooks>
transport::net::awaitable<void> get(transport::exchange& ex, job_service& svc, Hooks& hooks, front f,
                                    std::string_view prefix) {
    typename Hooks::state st{};
    detail::completion_record<Hooks> record{ex, hooks, st, {}};
    record.c.endpoint = f == front::video ? "video.generations" : "async-invoke";
    record.c.started = ex.started();
    auto refused = co_await hooks.authenticate(ex, st);
    if (refused) {
        record.c.error = refused->kind;
        co_await ex.respond_error(*refused);
        co_return;
    }
    std::string_view rest = ex.path().substr(prefix.size());
    std::string_view id = rest.substr(0, rest.find('/'));
    std::string_view tail = id.size() < rest.size() ? rest.substr(id.size() + 1) : std::string_view{};
    const bool want_content = f == front::video && tail == "content";
    const bool want_status = f == front::async && tail == "status";
    if (!tail.empty() && !want_content && !want_status) {
        core::error e{core::error_kind::not_found,
                      "unknown request URL: GET " + std::string(ex.path()), {}, "unknown_url"};
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    auto [account, key_id] = owner_of(st);
    auto found = co_await svc.read(std::string(id), std::move(account));
    if (!found) {
        auto e = std::move(found).error();
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    record.c.outcome = "ok";
    const auto& j = found.value();
    if (want_content) {
        co_await svc.content(ex, j);
        co_return;
    }
    std::string answer = f == front::video ? video_json(j) : async_json(ex, j, want_status);
    co_await ex.respond_json(transport::http::status::ok, std::move(answer));
}

} // namespace jobs_detail

/// The job routes on `routes`; everything they use outlives the table.
template <request_hooks Hooks>
void add_job_routes(transport::route_table& routes, const core::catalog& catalog, job_service& svc, Hooks& hooks) {
    using transport::exchange;
    using jobs_detail::front;
    constexpr auto get = transport::http::verb::get;
    constexpr auto post = transport::http::verb::post;
    const core::catalog* c = &catalog;
    job_service* s = &svc;
    Hooks* h = &hooks;
    routes.add(post, "/v1/video/generations",
               [c, s, h](exchange& ex) { return jobs_detail::submit(ex, *c, *s, *h, front::video); });
    routes.add_prefix(get, "/v1/video/generations/", [s, h](exchange& ex) {
        return jobs_detail::get(ex, *s, *h, front::video, "/v1/video/generations/");
    });
    routes.add(post, "/v1/async-invoke",
               [c, s, h](exchange& ex) { return jobs_detail::submit(ex, *c, *s, *h, front::async); });
    routes.add_prefix(get, "/v1/async-invoke/",
                      [s, h](exchange& ex) { return jobs_detail::get(ex, *s, *h, front::async, "/v1/async-invoke/"); });
}

} // namespace sluice::exec

#endif

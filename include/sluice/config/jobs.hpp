#ifndef SLUICE_CONFIG_JOBS_HPP
#define SLUICE_CONFIG_JOBS_HPP

// jobs: where the async jobs (video generations, /v1/async-invoke) are kept and how they are
// polled. docs/config.md and docs/jobs.md describe every key.

#include <sluice/config/node.hpp>

#include <chrono>
#include <filesystem>
#include <string>

namespace sluice::config {

struct jobs_settings {
    enum class store_kind { memory, file, redis };
    store_kind store = store_kind::file;
    std::filesystem::path path;   // the file store's log; relative paths from the config's folder
    std::string redis;            // redis://HOST:PORT[/DB], with store: redis
    std::chrono::milliseconds ttl = std::chrono::hours(2);               // results kept after completion
    std::chrono::milliseconds poll_interval = std::chrono::seconds(2);   // between upstream polls
    std::chrono::milliseconds give_up_after = std::chrono::minutes(10);  // upstream unreachable this long: failed
};

/// jobs: {store: memory | file | redis, path, redis, ttl, poll_interval, give_up_after}; absent:
/// the file store at var/jobs.jsonl beside the config, like the key store.
inline jobs_settings read_jobs(const node* n, const std::filesystem::path& base_dir) {
    jobs_settings s;
    s.path = (base_dir / "var/jobs.jsonl").lexically_normal();
    if (!n || n->is_null()) return s;
    auto m = n->as_mapping({"store", "path", "redis", "ttl", "poll_interval", "give_up_after"});
    if (auto v = m.find("store")) {
        auto kind = v->as_nonempty_string();
        if (kind == "memory")
            s.store = jobs_settings::store_kind::memory;
        else if (kind == "redis")
            s.store = jobs_settings::store_kind::redis;
        else if (kind != "file")
            v->fail("expected memory, file or redis, got '" + kind + "'");
    }
    if (auto v = m.find("path")) s.path = v->as_path();
    if (auto v = m.find("redis")) {
        s.redis = v->as_nonempty_string();
        if (!s.redis.starts_with("redis://")) v->fail("expected a redis://HOST:PORT URL, got '" + s.redis + "'");
    }
    if (s.store == jobs_settings::store_kind::redis && s.redis.empty())
        (m.find("store") ? *m.find("store") : *n).fail("the redis job store needs jobs.redis: redis://HOST:PORT");
    if (auto v = m.find("ttl")) s.ttl = v->as_duration();
    if (auto v = m.find("poll_interval")) s.poll_interval = v->as_duration();
    if (auto v = m.find("give_up_after")) s.give_up_after = v->as_duration();
    return s;
}

} // namespace sluice::config

#endif

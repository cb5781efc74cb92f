#ifndef SLUICE_JOBS_REDIS_STORE_HPP
#define SLUICE_JOBS_REDIS_STORE_HPP

// Jobs in Redis, shared by every replica: one submits a job, any other polls the upstream and
// answers its readers. A job is a hash, `sluice:job:<id>` -> {status, json}, whose key expires
// when the job may be forgotten (PEXPIREAT: expiry plus the tombstone's ttl). The compare-and-
// set of update() is one Lua script, so two replicas that saw the same upstream job finish
// record (and meter) it once.

#include <sluice/jobs/store.hpp>
#include <sluice/redis/client.hpp>

#include <memory>
#include <string>
#include <vector>

namespace sluice::jobs {

class redis_store {
public:
    /// ttl: how long a finished job's result is kept. A job still processing is kept a day
    /// past its submission (and two ttls), so a job whose poller vanished does not stay forever.
    redis_store(std::shared_ptr<redis::client> client, std::chrono::milliseconds ttl, std::string prefix = "sluice:job:")
        : client_(std::move(client)), ttl_(ttl.count()), prefix_(std::move(prefix)) {}

    awaitable<core::result<void>> create(const job& j) {
        std::vector<std::string> keys{prefix_ + j.id};
        std::vector<std::string> args{std::string(to_string(j.status)), serialize(j), std::to_string(keep_until(j))};
        auto r = co_await client_->evalsha(create_script(), std::move(keys), std::move(args));
        if (!r) co_return std::move(r).error();
        if (r->is_error()) co_return failed(r->text);
        co_return core::result<void>();
    }

    awaitable<core::result<std::optional<job>>> find(std::string id) {
        std::vector<std::string> cmd{"HGET", prefix_ + id, "json"};
        auto r = co_await client_->command(std::move(cmd));
        if (!r) co_return std::move(r).error();
        if (r->is_error()) co_return failed(r->text);
        if (r->is_nil()) co_return core::result<std::optional<job>>(std::nullopt);
        co_return core::result<std::optional<job>>(parse_job(r->text));
    }

    awaitable<core::result<bool>> update(const job& j, status expected) {
        std::vector<std::string> keys{prefix_ + j.id};
        std::vector<std::string> args{std::string(to_string(j.status)), serialize(j), std::to_string(keep_until(j)),
                                      std::string(to_string(expected))};
        auto r = co_await client_->evalsha(update_script(), std::move(keys), std::move(args));
        if (!r) co_return std::move(r).error();
        if (r->is_error()) co_return failed(r->text);
        co_return core::result<bool>(r->as_integer().value_or(0) == 1);
    }

    redis::client& client() noexcept { return *client_; }

private:
    millis keep_until(const job& j) const {
        if (j.finished()) return j.purge_at(ttl_);
        return j.created_at + 24 * 3600 * 1000 + 2 * ttl_;
    }

    static core::error failed(const std::string& reply) {
        return core::error{core::error_kind::overloaded, "the job store (Redis) refused: " + reply, {},
                           "job_store_unavailable"};
    }

    static const redis::script& create_script() {
        static const redis::script s(R"lua(
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'json', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
)lua");
        return s;
    }

    static const redis::script& update_script() {
        static const redis::script s(R"lua(
if redis.call('HGET', KEYS[1], 'status') ~= ARGV[4] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'json', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
)lua");
        return s;
    }

    std::shared_ptr<redis::client> client_;
    millis ttl_;
    std::string prefix_;
};

static_assert(job_store<redis_store>);

} // namespace sluice::jobs

#endif

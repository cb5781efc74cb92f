#ifndef SLUICE_LIMITS_REDIS_STORE_HPP
#define SLUICE_LIMITS_REDIS_STORE_HPP

// The shared limits store: counters in Redis, so every gateway process that points at the same
// Redis shares each account's limits, token limits and spend included.
//
// Each operation is one Lua script (EVALSHA, EVAL when the server lost it), so a check and its
// reservation over all the buckets of a request happen atomically on the server, with no lock
// and one round trip. The script takes the time from Redis TIME, so replicas with skewed clocks
// still agree; a simulated clock (tests) passes its own. Bucket keys expire when their bucket is
// full again (PEXPIRE), spend keys a while after their day or month.
//
// Keys are "<prefix>{account}:...": the hash tag keeps an account's keys in one cluster slot,
// which a multi-key script needs.

#include <sluice/limits/store.hpp>
#include <sluice/redis/client.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace sluice::limits {

struct redis_store_options {
    std::string prefix = "sluice:limits:";
};

class redis_store {
public:
    explicit redis_store(std::shared_ptr<redis::client> client, redis_store_options opts = {})
        : client_(std::move(client)), opts_(std::move(opts)) {}

    redis::client& client() noexcept { return *client_; }

    // KEYS: bucket keys, then the day and month spend keys.
    // ARGV: now_us ("" = Redis TIME), bucket count, daily cap, monthly cap ("" = none),
    //       then limit and cost per bucket.
    // Reply: admitted, now_us, spent day, spent month, day capped, month capped,
    //        then allowed, remaining, reset_us, retry_us per bucket.
    static const redis::script& reserve_script() {
        static const redis::script s(R"lua(
local period = 60000000
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local n = tonumber(ARGV[2])
local spent_day, spent_month, day_capped, month_capped = 0, 0, 0, 0
if ARGV[3] ~= '' then
  spent_day = tonumber(redis.call('GET', KEYS[n + 1]) or '0')
  if spent_day >= tonumber(ARGV[3]) then day_capped = 1 end
end
if ARGV[4] ~= '' then
  spent_month = tonumber(redis.call('GET', KEYS[n + 2]) or '0')
  if spent_month >= tonumber(ARGV[4]) then month_capped = 1 end
end
local all = (day_capped == 0 and month_capped == 0)
local tats, nexts, limits = {}, {}, {}
for i = 1, n do
  local limit = tonumber(ARGV[3 + 2 * i])
  local cost = tonumber(ARGV[4 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local step = period
  if limit > 0 then step = math.floor(cost * period / limit) end
  tats[i], nexts[i], limits[i] = tat, tat + step, limit
  if nexts[i] - now > period then all = false end
end
local out = {all and 1 or 0, now, tostring(spent_day), tostring(spent_month), day_capped, month_capped}
for i = 1, n do
  local fits = nexts[i] - now <= period
  local tat = tats[i]
  if all then
    tat = nexts[i]
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
  end
  local remaining = 0
  if limits[i] > 0 and now + period > tat then
    remaining = math.floor((now + period - tat) * limits[i] / period)
    if remaining > limits[i] then remaining = limits[i] end
  end
  local retry = 0
  if not fits then retry = nexts[i] - period - now end
  out[#out + 1] = fits and 1 or 0
  out[#out + 1] = remaining
  out[#out + 1] = tat - now
  out[#out + 1] = retry
end
return out
)lua");
        return s;
    }

    // KEYS: bucket keys, then the day and month spend keys.
    // ARGV: now_us ("" = Redis TIME), bucket count, cost USD, day TTL s, month TTL s,
    //       then limit and token correction per bucket.
    static const redis::script& settle_script() {
        static const redis::script s(R"lua(
local period = 60000000
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local n = tonumber(ARGV[2])
for i = 1, n do
  local limit = tonumber(ARGV[4 + 2 * i])
  local tokens = tonumber(ARGV[5 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local step = math.floor(math.abs(tokens) * period / limit)
  if tokens < 0 then step = -step end
  tat = tat + step
  if tat <= now then
    redis.call('DEL', KEYS[i])
  else
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
  end
end
if tonumber(ARGV[3]) > 0 then
  redis.call('INCRBYFLOAT', KEYS[n + 1], ARGV[3])
  redis.call('EXPIRE', KEYS[n + 1], ARGV[4])
  redis.call('INCRBYFLOAT', KEYS[n + 2], ARGV[3])
  redis.call('EXPIRE', KEYS[n + 2], ARGV[5])
end
return 1
)lua");
        return s;
    }

    /// SCRIPT LOAD both scripts; optional (EVALSHA falls back to EVAL), it checks the server early.
    net::awaitable<core::result<void>> load_scripts() {
        auto a = co_await client_->load(reserve_script());
        if (!a) co_return a;
        auto b = co_await client_->load(settle_script());
        co_return b;
    }

    net::awaitable<core::result<reserve_outcome>> reserve(const reserve_request& r) {
        std::vector<std::string> keys;
        std::vector<std::string> args;
        keys.reserve(r.buckets.size() + 2);
        args.reserve(4 + 2 * r.buckets.size());
        for (const auto& b : r.buckets) keys.push_back(opts_.prefix + b.key);
        keys.push_back(opts_.prefix + r.day_key);
        keys.push_back(opts_.prefix + r.month_key);
        args.push_back(r.server_time ? std::string() : std::to_string(r.now_us));
        args.push_back(std::to_string(r.buckets.size()));
        args.push_back(r.daily_cap ? number(*r.daily_cap) : std::string());
        args.push_back(r.monthly_cap ? number(*r.monthly_cap) : std::string());
        for (const auto& b : r.buckets) {
            args.push_back(std::to_string(b.limit));
            args.push_back(std::to_string(b.cost));
        }
        auto answer = co_await client_->evalsha(reserve_script(), std::move(keys), std::move(args));
        if (!answer) co_return std::move(answer).error();
        co_return parse_outcome(*answer, r.buckets.size());
    }

    net::awaitable<core::result<void>> settle(const settle_request& r) {
        std::vector<std::string> keys;
        std::vector<std::string> args;
        for (const auto& a : r.buckets) keys.push_back(opts_.prefix + a.key);
        keys.push_back(opts_.prefix + r.day_key);
        keys.push_back(opts_.prefix + r.month_key);
        args.push_back(r.server_time ? std::string() : std::to_string(r.now_us));
        args.push_back(std::to_string(r.buckets.size()));
        char cost[64];
        std::snprintf(cost, sizeof cost, "%.10f", r.cost_usd > 0 ? r.cost_usd : 0.0);
        args.push_back(cost);
        args.push_back(std::to_string(spend_day_ttl.count()));
        args.push_back(std::to_string(spend_month_ttl.count()));
        for (const auto& a : r.buckets) {
            args.push_back(std::to_string(a.limit == 0 ? 1 : a.limit));
            args.push_back(std::to_string(a.tokens));
        }
        auto answer = co_await client_->evalsha(settle_script(), std::move(keys), std::move(args));
        if (!answer) co_return std::move(answer).error();
        if (answer->is_error()) co_return failed("settle", answer->text);
        co_return core::result<void>();
    }

private:
    static std::string number(double v) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", v);
        return buf;
    }

    core::error failed(std::string_view what, std::string_view why) const {
        return core::error{core::error_kind::overloaded, "redis limits " + std::string(what) + ": " + std::string(why),
                           "", client_->options().unavailable_code};
    }

    core::result<reserve_outcome> parse_outcome(const redis::reply& a, std::size_t n) const {
        if (a.is_error()) return failed("reserve", a.text);
        if (!a.is_array() || a.elements.size() != 6 + 4 * n) return failed("reserve", "unexpected script reply");
        auto integer = [&](std::size_t i) { return a.elements[i].as_integer().value_or(0); };
        reserve_outcome out;
        out.admitted = integer(0) == 1;
        out.spent_day = a.elements[2].as_double().value_or(0);
        out.spent_month = a.elements[3].as_double().value_or(0);
        out.day_capped = integer(4) == 1;
        out.month_capped = integer(5) == 1;
        for (std::size_t i = 0; i < n; ++i) {
            bucket_state s;
            s.allowed = integer(6 + 4 * i) == 1;
            s.remaining = std::uint64_t(std::max<std::int64_t>(integer(7 + 4 * i), 0));
            s.reset_seconds = double(std::max<std::int64_t>(integer(8 + 4 * i), 0)) / 1e6;
            s.retry_after_seconds = double(std::max<std::int64_t>(integer(9 + 4 * i), 0)) / 1e6;
            out.buckets.push_back(s);
        }
        return out;
    }

    std::shared_ptr<redis::client> client_;
    redis_store_options opts_;
};

static_assert(limits_store<redis_store>);

} // namespace sluice::limits

#endif

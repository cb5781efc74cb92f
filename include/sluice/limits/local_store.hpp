#ifndef SLUICE_LIMITS_LOCAL_STORE_HPP
#define SLUICE_LIMITS_LOCAL_STORE_HPP

// The embedded limits store: counters in this process, behind one mutex. Right for one gateway
// process, and the fallback of a shared store that is down. It never fails and never suspends.

#include <sluice/limits/store.hpp>

#include <boost/asio/awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace sluice::limits {

class local_store {
    // Expired keys are swept every so many operations: memory stays bounded by the keys active
    // within their expiry, as with Redis PEXPIRE.
    static constexpr std::uint64_t sweep_every = 4096;
    static_assert(sweep_every > 0);

    struct entry {
        std::int64_t tat_us = 0; // a bucket's TAT
        double spent = 0;        // a spend counter
        std::int64_t expires_us = 0;
    };

    struct shared {
        std::mutex mutex;
        std::unordered_map<std::string, entry> entries;
        std::uint64_t operations = 0;
    };

public:
    local_store() : s_(std::make_shared<shared>()) {}

    net::awaitable<core::result<reserve_outcome>> reserve(const reserve_request& r) { co_return reserve_now(r); }

    net::awaitable<core::result<void>> settle(const settle_request& r) {
        settle_now(r);
        co_return core::result<void>();
    }

    reserve_outcome reserve_now(const reserve_request& r) {
        const std::int64_t now = r.now_us;
        reserve_outcome out;
        std::lock_guard lock(s_->mutex);
        maybe_sweep(now);
        if (r.daily_cap) {
            out.spent_day = spent(r.day_key, now);
            out.day_capped = out.spent_day >= *r.daily_cap;
        }
        if (r.monthly_cap) {
            out.spent_month = spent(r.month_key, now);
            out.month_capped = out.spent_month >= *r.monthly_cap;
        }
        std::vector<std::int64_t> tats;
        tats.reserve(r.buckets.size());
        for (const auto& b : r.buckets) tats.push_back(tat(b.key, now));
        out.admitted =
            gcra_math::check_and_reserve(tats, r.buckets, now, !out.day_capped && !out.month_capped, out.buckets);
        if (out.admitted)
            for (std::size_t i = 0; i < r.buckets.size(); ++i) put_tat(r.buckets[i].key, tats[i], now);
        return out;
    }

    void settle_now(const settle_request& r) {
        const std::int64_t now = r.now_us;
        std::lock_guard lock(s_->mutex);
        maybe_sweep(now);
        for (const auto& a : r.buckets) {
            auto step = gcra_math::increment(std::uint64_t(a.tokens < 0 ? -a.tokens : a.tokens), a.limit);
            auto t = tat(a.key, now) + (a.tokens < 0 ? -step : step);
            if (t <= now) s_->entries.erase(a.key);
            else put_tat(a.key, t, now);
        }
        if (r.cost_usd > 0) {
            add_spend(r.day_key, r.cost_usd, now, spend_day_ttl);
            add_spend(r.month_key, r.cost_usd, now, spend_month_ttl);
        }
    }

    /// Keys held now, expired ones not yet swept included.
    std::size_t size() const {
        std::lock_guard lock(s_->mutex);
        return s_->entries.size();
    }

    /// Drops every key whose expiry has passed at `now_us`.
    void sweep(std::int64_t now_us) {
        std::lock_guard lock(s_->mutex);
        sweep_locked(now_us);
    }

private:
    static std::int64_t seconds_us(std::chrono::seconds s) { return std::int64_t(s.count()) * 1'000'000; }

    void maybe_sweep(std::int64_t now) {
        if (++s_->operations % sweep_every == 0) sweep_locked(now);
    }

    void sweep_locked(std::int64_t now) {
        std::erase_if(s_->entries, [now](const auto& kv) { return kv.second.expires_us <= now; });
    }

    const entry* live(const std::string& key, std::int64_t now) const {
        auto it = s_->entries.find(key);
        return it == s_->entries.end() || it->second.expires_us <= now ? nullptr : &it->second;
    }

    std::int64_t tat(const std::string& key, std::int64_t now) const {
        auto e = live(key, now);
        return e ? std::max(e->tat_us, now) : now;
    }

    double spent(const std::string& key, std::int64_t now) const {
        auto e = live(key, now);
        return e ? e->spent : 0.0;
    }

    // A bucket's key lives until its TAT: then it is full, which is what no key means.
    void put_tat(const std::string& key, std::int64_t tat_us, std::int64_t now) {
        auto& e = s_->entries[key];
        e.tat_us = tat_us;
        e.expires_us = std::max(tat_us, now + 1);
    }

    void add_spend(const std::string& key, double usd, std::int64_t now, std::chrono::seconds ttl) {
        auto& e = s_->entries[key];
        if (e.expires_us <= now) e = entry(); // expired and not swept yet: it starts again
        e.spent += usd;
        e.expires_us = now + seconds_us(ttl);
    }

    std::shared_ptr<shared> s_; // shared: copies of the store are the same store
};

static_assert(limits_store<local_store>);

} // namespace sluice::limits

#endif

#ifndef SLUICE_LIMITS_QUOTA_HPP
#define SLUICE_LIMITS_QUOTA_HPP

// What an account may use: request and token rates, per account and per model, and a spend cap.
// The vocabulary shared by the account records (auth/) and the limits policy (limits/).

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace sluice::limits {

/// Requests and tokens per minute; unset means unlimited.
struct rate {
    std::optional<std::uint64_t> rpm;
    std::optional<std::uint64_t> tpm;

    bool unlimited() const noexcept { return !rpm && !tpm; }
    friend bool operator==(const rate&, const rate&) = default;
};

/// USD an account may spend per UTC day and per UTC month; unset means no cap.
struct spend_cap {
    std::optional<double> daily_usd;
    std::optional<double> monthly_usd;

    bool none() const noexcept { return !daily_usd && !monthly_usd; }
    friend bool operator==(const spend_cap&, const spend_cap&) = default;
};

/// An account's limits: its own rate, a rate per model id, and its spend cap.
struct quota {
    rate account;
    std::map<std::string, rate, std::less<>> models;
    spend_cap spend;

    const rate* model_rate(std::string_view model) const {
        auto it = models.find(model);
        return it == models.end() ? nullptr : &it->second;
    }
    friend bool operator==(const quota&, const quota&) = default;
};

} // namespace sluice::limits

#endif

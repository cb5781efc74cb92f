#ifndef SLUICE_LIMITS_POLICY_HPP
#define SLUICE_LIMITS_POLICY_HPP

// The limits policy family: what the gateway asks before a request runs (admit) and tells after
// it ran (settle), and the no-op model.
//
/// \concept limits_policy
///   p.admit(a)            -> net::awaitable<decision>   a: const admission&
///   p.settle(r, n, usd)   -> net::awaitable<void>       r: const reservation&, n: actual tokens,
///                                                       usd: what the request cost
///   p.store_errors()      -> std::uint64_t              failed calls to the counter store, for /metrics
//
// The gateway calls admit once per request and, when it admitted, settle exactly once with the
// decision's reservation, whatever became of the request (0 tokens and 0 USD when nothing ran).

#include <sluice/core/error.hpp>
#include <sluice/limits/quota.hpp>

#include <boost/asio/awaitable.hpp>

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::limits {

namespace net = boost::asio;

/// One request at the door. The pointers point into the account's quota (null: no such limit)
/// and must stay valid for the call.
struct admission {
    std::string_view account;
    std::string_view model;
    const rate* account_rate = nullptr;
    const rate* model_rate = nullptr;
    const spend_cap* spend = nullptr;
    std::uint64_t tokens = 0; // estimated prompt tokens + max output tokens
};

/// One rate-limit window as the x-ratelimit-* headers tell it.
struct window {
    std::uint64_t limit = 0;
    std::uint64_t remaining = 0;
    double reset_seconds = 0; // until the window is whole again

    friend bool operator==(const window&, const window&) = default;
};

/// What admit held, enough for settle to correct it. Empty (inactive) when nothing was held.
struct reservation {
    std::string account;
    std::string model;
    std::uint64_t tokens = 0;                 // reserved against the token limits
    std::optional<std::uint64_t> account_tpm; // the account's token limit it was reserved under
    std::optional<std::uint64_t> model_tpm;   // the model's, when the model scope applied
    bool model_scope = false;                 // a per-model rate applied to this request
    bool spend = false;                       // the account has a spend cap: settle counts the cost
    bool local = false;                       // held by the local fallback while the store was down

    bool active() const noexcept { return account_tpm || model_tpm || spend; }
};

struct decision {
    std::optional<core::error> refused; // kind rate_limit (429) or overloaded (503)
    std::optional<window> requests;     // the tightest request scope, for the headers
    std::optional<window> tokens;       // the tightest token scope
    double retry_after_seconds = 0;     // when refused: for the Retry-After header
    reservation held;

    bool admitted() const noexcept { return !refused; }
};

template <class P>
concept limits_policy = requires(P& p, const P& cp, const admission& a, const reservation& r, std::uint64_t n,
                                 double usd) {
    { p.admit(a) } -> std::same_as<net::awaitable<decision>>;
    { p.settle(r, n, usd) } -> std::same_as<net::awaitable<void>>;
    { cp.store_errors() } -> std::convertible_to<std::uint64_t>;
};

/// Admits everything and sends no rate-limit headers.
struct unlimited {
    net::awaitable<decision> admit(const admission&) { co_return decision(); }
    net::awaitable<void> settle(const reservation&, std::uint64_t, double) { co_return; }
    std::uint64_t store_errors() const noexcept { return 0; }
};

static_assert(limits_policy<unlimited>);

} // namespace sluice::limits

#endif

#ifndef SLUICE_AUTH_CONCEPTS_HPP
#define SLUICE_AUTH_CONCEPTS_HPP

// The auth policy family: who is calling (authenticate), and may they use this model (authorize).

#include <sluice/auth/account.hpp>
#include <sluice/core/catalog.hpp>
#include <sluice/core/result.hpp>

#include <boost/asio/ip/address.hpp>

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::auth {

/// What a request offers to prove who it is. Views into the request; valid during the call.
struct credentials {
    std::string_view authorization; // the Authorization header, as sent
    std::string_view x_api_key;     // the x-api-key header (Anthropic SDKs send this one)
    boost::asio::ip::address remote; // the peer of the TCP connection
    std::string_view forwarded_for;  // X-Forwarded-For, heeded only from a trusted proxy
};

/// Who a request is, once authenticated: enough to authorize it and to meter and limit it.
struct principal {
    std::string key_id;
    std::shared_ptr<const account> acct;
    std::vector<std::string> models; // the key's model scopes; empty: every model
};

/// \concept auth_policy
///   p.authenticate(credentials, now_unix) -> core::result<principal>     401/403 as core::error
///   p.authorize(principal, model_entry)   -> std::optional<core::error>  nullopt: allowed
/// Both are called on every request from several threads: const and free of I/O.
template <class P>
concept auth_policy = requires(const P& p, const credentials& c, std::int64_t now, const principal& who,
                               const core::model_entry& model) {
    { p.authenticate(c, now) } -> std::same_as<core::result<principal>>;
    { p.authorize(who, model) } -> std::same_as<std::optional<core::error>>;
};

/// No authentication: every caller is the one local principal. For a gateway on a laptop or
/// behind something else that authenticates.
class none {
public:
    core::result<principal> authenticate(const credentials&, std::int64_t) const {
        return principal{"none", local_account(), {}};
    }
    std::optional<core::error> authorize(const principal&, const core::model_entry&) const { return std::nullopt; }

    /// "local", tier 99, no limits: one shared record, so callers may compare pointers.
    static std::shared_ptr<const account> local_account() {
        static const auto local = std::make_shared<const account>(account{"local", 99, {}});
        return local;
    }
};

static_assert(auth_policy<none>);

} // namespace sluice::auth

#endif

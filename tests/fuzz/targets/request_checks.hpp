#ifndef SLUICE_TESTS_FUZZ_REQUEST_CHECKS_HPP
#define SLUICE_TESTS_FUZZ_REQUEST_CHECKS_HPP

// The contract of every front API request decoder (api/codec.hpp): any bytes give either an
// envelope of that API, or a 400 (invalid_request) whose message tells the caller what is wrong.

#include "check.hpp"

#include <sluice/core/envelope.hpp>
#include <sluice/core/result.hpp>

namespace sluice_fuzz {

/// Checks `decoded` and returns the envelope, or nullptr when the request was refused.
inline const core::envelope* check_decoded(const core::result<core::envelope>& decoded, core::front_api api) {
    if (!decoded) {
        const auto& e = decoded.error();
        FUZZ_CHECK(e.kind == core::error_kind::invalid_request,
                   std::string("refused as ") + kind_name(e.kind) + ": " + e.message);
        FUZZ_CHECK(!e.message.empty(), "an error without a message (param " + e.param + ")");
        return nullptr;
    }
    const auto& env = decoded.value();
    FUZZ_CHECK(env.api == api, "decoded as front API " + std::string(core::to_string(env.api)));
    FUZZ_CHECK(env.endpoint == core::endpoint::chat, "not the chat endpoint");
    FUZZ_CHECK(!env.model.empty(), "an envelope without a model");
    return &env;
}

} // namespace sluice_fuzz

#endif

#ifndef EXAMPLE_PREFER_MINI_HPP
#define EXAMPLE_PREFER_MINI_HPP

// A team's own routing policy: small models ("mini" in the id) first, because they are cheap and
// good enough for short prompts; the others first when the prompt is long, where a small model's
// quality drops. Ties keep the order the router config gives.

#include <sluice/routing/policies.hpp>

#include <algorithm>
#include <cstdint>
#include <string_view>

namespace acme {

struct prefer_mini {
    static constexpr std::string_view name = "prefer-mini"; // what a router config's `policy:` says

    std::uint64_t long_prompt_tokens = 4000;

    sluice::routing::ranking rank(const sluice::routing::selection_input& in) const {
        sluice::routing::ranking out(in.models.begin(), in.models.end());
        const bool long_prompt = in.input_tokens >= long_prompt_tokens;
        std::stable_partition(out.begin(), out.end(), [&](const sluice::core::model_entry* m) {
            const bool mini = m->id.find("mini") != std::string_view::npos;
            return mini != long_prompt;
        });
        return out;
    }
};

static_assert(sluice::routing::routing_policy<prefer_mini>);

/// The set this team's gateway offers: sluice's four and its own.
using policies = sluice::routing::policy_set<sluice::routing::cost, sluice::routing::speed, sluice::routing::manual,
                                             sluice::routing::optimal, prefer_mini>;

} // namespace acme

#endif

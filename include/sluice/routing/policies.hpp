#ifndef SLUICE_ROUTING_POLICIES_HPP
#define SLUICE_ROUTING_POLICIES_HPP

// Routing policies: given a task's candidate models and what is known of the request and of
// each model, the order to try them in. Pure functions of their input: the statistics and the
// random source come in selection_input, so a test controls both.
//
/// \concept routing_policy
///   P::name                 -> std::string_view constant: what a router config calls it
///   p.rank(in)              -> std::vector<const core::model_entry*>: in.models (all or some) in the order to try
///   P(router_config) | P()  -> constructed once per task from its router's config, or by default
///
// The set a gateway offers is fixed at compile time (policy_set, a std::variant: no virtual call
// on the hot path) and each task names one of it at run time.

#include <sluice/config/routers.hpp>
#include <sluice/core/catalog.hpp>
#include <sluice/core/usage.hpp>
#include <sluice/routing/stats.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sluice::routing {

/// splitmix64: tiny state, so the router makes one per request from an atomic counter instead of
/// sharing a generator under a lock. A UniformRandomBitGenerator.
class random_source {
public:
    using result_type = std::uint64_t;

    explicit random_source(std::uint64_t seed) noexcept : state_(seed) {}

    static constexpr result_type min() noexcept { return 0; }
    static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

    result_type operator()() noexcept {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }

    /// Uniform in [0, 1).
    double uniform() noexcept { return double((*this)() >> 11) * 0x1.0p-53; }
    bool chance(double p) noexcept { return uniform() < p; }

private:
    std::uint64_t state_;
};

using ranking = std::vector<const core::model_entry*>;

struct selection_input {
    std::string_view task;                            // the task's name
    std::span<const core::model_entry* const> models; // its models, in config order
    std::uint64_t input_tokens = 0;                   // this request's estimated prompt tokens
    std::uint64_t output_tokens = 0;                  // and expected output tokens
    const stats_snapshot& stats;                      // what is known of each model
    random_source& random;                            // for exploration
};

template <class P>
concept routing_policy =
    std::copy_constructible<P> &&
    (std::default_initializable<P> || std::constructible_from<P, const config::router_config&>) &&
    requires(const P& p, const selection_input& in) {
        { P::name } -> std::convertible_to<std::string_view>;
        { p.rank(in) } -> std::convertible_to<ranking>;
    };

/// What this request would cost on m in USD at its catalog price; nullopt when m has no price.
inline std::optional<double> request_cost(const core::model_entry& m, std::uint64_t input_tokens,
                                          std::uint64_t output_tokens) noexcept {
    if (!m.price) return std::nullopt;
    core::usage u;
    u.input = input_tokens;
    u.output = output_tokens;
    return core::cost_of(u, *m.price).total();
}

// ---------------------------------------------------------------- cost

/// The cheapest first for this request's tokens. A model without a price goes after every
/// priced one: its cost is unknown, not zero (give a free model `price: {input: 0, output: 0}`).
/// Ties keep the config order.
struct cost {
    static constexpr std::string_view name = "cost";

    ranking rank(const selection_input& in) const {
        std::vector<std::pair<double, const core::model_entry*>> keyed;
        for (const auto* m : in.models)
            keyed.emplace_back(request_cost(*m, in.input_tokens, in.output_tokens)
                                   .value_or(std::numeric_limits<double>::infinity()),
                               m);
        std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        ranking out;
        for (const auto& [_, m] : keyed) out.push_back(m);
        return out;
    }
};

// ---------------------------------------------------------------- speed

/// The lowest average time to first token first. Models not yet measured go after the measured
/// ones, except that with probability `exploration` a request is spent on measuring: the first
/// model never measured, else the one measured longest ago, goes first. So a model that slowed
/// down is left, and is looked at again only at the exploration rate.
struct speed {
    static constexpr std::string_view name = "speed";
    static constexpr double default_exploration = 0.05;

    double exploration = default_exploration;

    speed() = default;
    explicit speed(double e) : exploration(e) {}
    explicit speed(const config::router_config& r) : exploration(r.exploration) {}

    ranking rank(const selection_input& in) const {
        std::vector<std::pair<model_stats, const core::model_entry*>> keyed;
        for (const auto* m : in.models) keyed.emplace_back(in.stats.get(m->id), m);
        const bool any_measured =
            std::any_of(keyed.begin(), keyed.end(), [](const auto& k) { return k.first.measured(); });
        // Nothing measured yet: the config order, so the first model gets measured.
        if (any_measured)
            std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
                if (a.first.measured() != b.first.measured()) return a.first.measured();
                return a.first.measured() && *a.first.ttft_ms < *b.first.ttft_ms;
            });
        if (keyed.size() > 1 && in.random.chance(exploration)) {
            auto probe = keyed.begin() + 1;
            for (auto it = keyed.begin() + 1; it != keyed.end(); ++it) {
                if (!it->first.measured()) {
                    probe = it;
                    break;
                }
                if (it->first.last_success < probe->first.last_success) probe = it;
            }
            std::rotate(keyed.begin(), probe, probe + 1);
        }
        ranking out;
        for (const auto& k : keyed) out.push_back(k.second);
        return out;
    }
};

// ---------------------------------------------------------------- manual

/// The order the config gives.
struct manual {
    static constexpr std::string_view name = "manual";

    ranking rank(const selection_input& in) const { return ranking(in.models.begin(), in.models.end()); }
};

// ---------------------------------------------------------------- optimal

/// The quality a model gets when the config's table does not name it: a rough prior by model
/// family, matched case-insensitively in the model's id or upstream id (the longest match
/// wins), else 0.5. A starting point only: measure your own tasks and write `optimal.quality`.
inline constexpr std::array<std::pair<std::string_view, double>, 22> default_quality_table{{
    {"opus", 0.95},        {"sonnet", 0.90},       {"haiku", 0.75},
    {"gpt-5", 0.93},       {"gpt-5-mini", 0.85},   {"gpt-5-nano", 0.72},
    {"gpt-4.1", 0.88},     {"gpt-4.1-mini", 0.80}, {"gpt-4.1-nano", 0.65},
    {"gpt-4o", 0.85},      {"gpt-4o-mini", 0.72},  {"deepseek", 0.85},
    {"qwen", 0.78},        {"llama", 0.70},        {"mistral", 0.70},
    {"mixtral", 0.72},     {"gemma", 0.65},        {"phi", 0.60},
    {"gemini-2.5-pro", 0.92}, {"gemini-2.5-flash", 0.82}, {"tiny", 0.30},
    {"small", 0.55},
}};

inline constexpr double unknown_quality = 0.5;

inline double default_quality(const core::model_entry& m) {
    auto lower = [](std::string_view s) {
        std::string out(s);
        for (auto& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
        return out;
    };
    const std::string id = lower(m.id), upstream = lower(m.upstream_model);
    std::size_t best_length = 0;
    double best = unknown_quality;
    for (const auto& [family, q] : default_quality_table)
        if (family.size() > best_length &&
            (id.find(family) != std::string::npos || upstream.find(family) != std::string::npos)) {
            best_length = family.size();
            best = q;
        }
    return best;
}

/// The highest score first:
///   quality * w_quality - cost / most_expensive * w_cost - ttft / slowest * w_latency
/// over the task's models. Quality comes from the config's table (the task's row, then "*"),
/// else default_quality. An unpriced model counts as the most expensive (1), an unmeasured one
/// as middling (0.5) on latency. Ties keep the config order.
struct optimal {
    static constexpr std::string_view name = "optimal";

    config::optimal_settings settings;

    optimal() = default;
    explicit optimal(config::optimal_settings s) : settings(std::move(s)) {}
    explicit optimal(const config::router_config& r) : settings(r.optimal) {}

    double quality(std::string_view task, const core::model_entry& m) const {
        for (std::string_view row : {task, std::string_view("*")}) {
            auto t = settings.quality.find(row);
            if (t == settings.quality.end()) continue;
            if (auto q = t->second.find(m.id); q != t->second.end()) return q->second;
        }
        return default_quality(m);
    }

    ranking rank(const selection_input& in) const {
        struct row {
            const core::model_entry* m;
            std::optional<double> cost;
            std::optional<double> ttft;
            double score = 0;
        };
        std::vector<row> rows;
        double most_expensive = 0, slowest = 0;
        for (const auto* m : in.models) {
            row r{m, request_cost(*m, in.input_tokens, in.output_tokens), in.stats.get(m->id).ttft_ms};
            if (r.cost) most_expensive = std::max(most_expensive, *r.cost);
            if (r.ttft) slowest = std::max(slowest, *r.ttft);
            rows.push_back(r);
        }
        const auto& w = settings.weights;
        for (auto& r : rows) {
            const double c = !r.cost ? 1.0 : most_expensive > 0 ? *r.cost / most_expensive : 0.0;
            const double l = !r.ttft ? 0.5 : slowest > 0 ? *r.ttft / slowest : 0.0;
            r.score = w.quality * quality(in.task, *r.m) - w.cost * c - w.latency * l;
        }
        std::stable_sort(rows.begin(), rows.end(), [](const row& a, const row& b) { return a.score > b.score; });
        ranking out;
        for (const auto& r : rows) out.push_back(r.m);
        return out;
    }
};

// ---------------------------------------------------------------- the set

/// The policies a gateway offers, fixed at compile time; a config names one per task at run
/// time. A team adds its own type without touching sluice:
///   using my_policies = routing::policy_set<routing::cost, routing::speed, routing::manual,
///                                           routing::optimal, my_policy>;
template <routing_policy... P>
class policy_set {
    static_assert(sizeof...(P) > 0, "a policy_set needs at least one policy");

    static constexpr bool names_unique() {
        constexpr std::array<std::string_view, sizeof...(P)> n{std::string_view(P::name)...};
        for (std::size_t i = 0; i < n.size(); ++i)
            for (std::size_t j = i + 1; j < n.size(); ++j)
                if (n[i] == n[j]) return false;
        return true;
    }
    static_assert(names_unique(), "two policies in a policy_set have the same name");

    template <class Q>
    static Q construct(const config::router_config& r) {
        if constexpr (std::constructible_from<Q, const config::router_config&>)
            return Q(r);
        else
            return Q();
    }

public:
    /// One configured policy: a value of one of the types.
    using policy = std::variant<P...>;

    static constexpr std::array<std::string_view, sizeof...(P)> names{std::string_view(P::name)...};

    static constexpr bool contains(std::string_view name) noexcept {
        for (auto n : names)
            if (n == name) return true;
        return false;
    }

    /// The policy called `name`, built from its router's config; nullopt when the set has none.
    static std::optional<policy> make(std::string_view name, const config::router_config& r) {
        std::optional<policy> out;
        ((!out && P::name == name ? (out.emplace(std::in_place_type<P>, construct<P>(r)), true) : false), ...);
        return out;
    }

    static ranking rank(const policy& p, const selection_input& in) {
        return std::visit([&](const auto& x) -> ranking { return x.rank(in); }, p);
    }

    static std::string_view name_of(const policy& p) {
        return std::visit([](const auto& x) -> std::string_view { return std::decay_t<decltype(x)>::name; }, p);
    }
};

/// The name ARCHITECTURE.md uses in a gateway's template arguments.
template <routing_policy... P>
using policies = policy_set<P...>;

using default_policies = policy_set<cost, speed, manual, optimal>;

} // namespace sluice::routing

#endif

#ifndef SLUICE_ROUTING_ROUTER_HPP
#define SLUICE_ROUTING_ROUTER_HPP

// A router turns a request for "router:NAME" into a route (the task, or "fallback") and the
// models to try in order: the task's policy ranks its models (at most three), the fallback
// models follow, models whose breaker is open are left out. The caller tries them in order and
// reports each attempt's outcome back, which feeds the statistics and the breakers.
//
//   auto d = router.route(env);              // d.route -> x-model-router-selected-route
//   for (auto* m : d.candidates) {           // fail over before the first byte only
//       ... router.report(*m, routing::success{ttft, latency});  or  routing::failure{kind}
//   }

#include <sluice/api/messages_count_tokens.hpp>
#include <sluice/config/routers.hpp>
#include <sluice/core/catalog.hpp>
#include <sluice/core/envelope.hpp>
#include <sluice/routing/breaker.hpp>
#include <sluice/routing/classifier.hpp>
#include <sluice/routing/clock.hpp>
#include <sluice/routing/policies.hpp>
#include <sluice/routing/request_text.hpp>
#include <sluice/routing/stats.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sluice::routing {

/// The output a request is expected to produce, for pricing: its own limit when it gives one.
inline constexpr std::uint64_t default_expected_output_tokens = 256;

struct success {
    std::chrono::microseconds ttft{};    // to the first token (or the whole answer, unstreamed)
    std::chrono::microseconds latency{}; // to the last byte
};
struct failure {
    core::error_kind kind = core::error_kind::upstream;
};
using outcome = std::variant<success, failure>;

struct route_decision {
    std::string route; // the task's name, or "fallback": x-model-router-selected-route
    // In the order to try. Empty only when the task's policy left out every model and the
    // router has no fallback: the caller answers with an error.
    std::vector<const core::model_entry*> candidates;
    double similarity = 0; // of the chosen (or nearest) task
    bool keyword = false;  // chosen by a keyword rule
};

/// A model's statistics and breaker are the model's, whichever router chose it: every router of
/// a gateway shares one.
struct model_health {
    explicit model_health(breaker_settings b = {}, double alpha = stats_table::default_alpha)
        : stats(alpha), breakers(b) {}

    stats_table stats;
    breaker_set breakers;

    /// One attempt's outcome into the statistics and the breaker; failures count only when they
    /// are the model's (counts_against_model), not the request's.
    void report(const core::model_entry& m, const outcome& o, time_point now) {
        if (const auto* s = std::get_if<success>(&o)) {
            stats.record_success(m.id, s->ttft, s->latency, now);
            breakers.on_success(m.id, now);
        } else if (const auto* f = std::get_if<failure>(&o); f && counts_against_model(f->kind)) {
            stats.record_failure(m.id, f->kind, now);
            breakers.on_failure(m.id, now);
        }
    }
};

template <class Policies = default_policies, clock_policy Clock = steady_clock>
class router {
public:
    using policy_set_type = Policies;
    using clock_type = Clock;

    /// Throws std::invalid_argument when the config names a model that is not in `catalog` or a
    /// policy that is not in Policies (read_routers refuses both first), or when the embedder
    /// fails on the tasks' texts. The catalog must outlive the router.
    router(config::router_config cfg, const core::catalog& catalog, embedder embed,
           std::shared_ptr<model_health> health = std::make_shared<model_health>(), Clock clock = Clock(),
           std::uint64_t seed = std::random_device{}())
        : cfg_(std::move(cfg)), classifier_(cfg_, std::move(embed)),
          health_(health ? std::move(health) : std::make_shared<model_health>()), clock_(std::move(clock)), seed_(seed) {
        auto find = [&](const std::string& id) {
            const auto* m = catalog.find(id);
            if (!m) throw std::invalid_argument("router '" + cfg_.name + "' names model '" + id + "', which is not in the catalog");
            return m;
        };
        for (const auto& t : cfg_.tasks) {
            auto p = Policies::make(t.policy, cfg_);
            if (!p) throw std::invalid_argument("router '" + cfg_.name + "', task '" + t.name + "': unknown policy '" + t.policy + "'");
            task_plan plan{t.name, {}, std::move(*p)};
            for (const auto& id : t.models) plan.models.push_back(find(id));
            tasks_.push_back(std::move(plan));
        }
        for (const auto& id : cfg_.fallback) fallback_.push_back(find(id));
    }

    router(const router&) = delete;
    router& operator=(const router&) = delete;

    const std::string& name() const noexcept { return cfg_.name; }
    const config::router_config& config() const noexcept { return cfg_; }
    model_health& health() noexcept { return *health_; }
    const Clock& clock() const noexcept { return clock_; }

    route_decision route(const core::envelope& env) {
        const std::uint64_t output =
            env.sampling.max_output_tokens ? *env.sampling.max_output_tokens : default_expected_output_tokens;
        return route(routing_text(env), api::estimate_input_tokens(env), output, &env.metadata);
    }

    /// text: routing_text of the request; the token counts price it for `cost` and `optimal`;
    /// metadata: the request's, for the tasks' metadata rules.
    route_decision route(std::string_view text, std::uint64_t input_tokens, std::uint64_t output_tokens,
                         const std::map<std::string, std::string>* metadata = nullptr) {
        auto c = classifier_.classify(text, metadata);
        route_decision d;
        d.similarity = c.similarity;
        d.keyword = c.keyword;
        const task_plan* task = find_task(c.route);
        // No fallback models: the nearest task serves, however far, rather than no one.
        if (!task && fallback_.empty()) task = find_task(c.nearest);
        if (!task && fallback_.empty() && !tasks_.empty()) task = &tasks_.front();
        d.route = task ? task->name : std::string(fallback_route);

        std::vector<const core::model_entry*> order;
        if (task) {
            auto snapshot = health_->stats.snapshot(task->models);
            random_source random(seed_.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed));
            selection_input in{task->name, task->models, input_tokens, output_tokens, snapshot, random};
            for (const auto* m : Policies::rank(task->policy, in)) {
                // A policy may drop models, but not add or repeat them.
                const bool ours = std::find(task->models.begin(), task->models.end(), m) != task->models.end();
                if (ours && std::find(order.begin(), order.end(), m) == order.end()) order.push_back(m);
                if (order.size() == config::max_models_per_task) break;
            }
        }
        for (const auto* m : fallback_)
            if (std::find(order.begin(), order.end(), m) == order.end()) order.push_back(m);

        const auto now = clock_.now();
        for (const auto* m : order)
            if (health_->breakers.try_acquire(m->id, now)) d.candidates.push_back(m);
        // Every breaker open: try them all anyway rather than refuse without asking anyone.
        if (d.candidates.empty()) d.candidates = std::move(order);
        return d;
    }

    /// The outcome of one attempt on m. A failure of a kind that does not count_against_model
    /// (a bad request, a refused key) changes nothing.
    void report(const core::model_entry& m, const outcome& o) { health_->report(m, o, clock_.now()); }

private:
    struct task_plan {
        std::string name;
        std::vector<const core::model_entry*> models;
        typename Policies::policy policy;
    };

    const task_plan* find_task(std::string_view name) const noexcept {
        for (const auto& t : tasks_)
            if (t.name == name) return &t;
        return nullptr;
    }

    config::router_config cfg_;
    classifier classifier_;
    std::shared_ptr<model_health> health_;
    Clock clock_;
    std::vector<task_plan> tasks_;
    std::vector<const core::model_entry*> fallback_;
    std::atomic<std::uint64_t> seed_;
};

/// Every configured router, by name, sharing one model_health.
template <class Policies = default_policies, clock_policy Clock = steady_clock>
class router_set {
public:
    using router_type = router<Policies, Clock>;

    static constexpr std::string_view model_prefix = "router:";

    router_set() : health_(std::make_shared<model_health>()) {}

    router_set(const std::vector<config::router_config>& configs, const core::catalog& catalog, const embedder& embed,
               Clock clock = Clock(), breaker_settings breakers = {}, std::uint64_t seed = std::random_device{}())
        : health_(std::make_shared<model_health>(breakers)) {
        for (const auto& c : configs) {
            seed = random_source(seed)(); // each router its own stream
            routers_.push_back(std::make_unique<router_type>(c, catalog, embed, health_, clock, seed));
        }
    }

    /// The router called `name` ("support"); nullptr when none.
    router_type* find(std::string_view name) const noexcept {
        for (const auto& r : routers_)
            if (r->name() == name) return r.get();
        return nullptr;
    }

    /// "router:support" -> "support"; nullopt when the model field does not name a router.
    static std::optional<std::string_view> router_name(std::string_view model) noexcept {
        if (!model.starts_with(model_prefix)) return std::nullopt;
        return model.substr(model_prefix.size());
    }

    /// The router a request's model field names ("router:support"); nullptr when none.
    router_type* for_model(std::string_view model) const noexcept {
        auto n = router_name(model);
        return n ? find(*n) : nullptr;
    }

    std::size_t size() const noexcept { return routers_.size(); }
    bool empty() const noexcept { return routers_.empty(); }
    model_health& health() noexcept { return *health_; }

private:
    std::shared_ptr<model_health> health_;
    std::vector<std::unique_ptr<router_type>> routers_;
};

} // namespace sluice::routing

#endif

#ifndef SLUICE_CONFIG_ROUTERS_HPP
#define SLUICE_CONFIG_ROUTERS_HPP

// routers: the section that lets a client send "model": "router:NAME" and have the gateway
// choose. Each router has tasks (what a request is about, and the models and policy that serve
// it) and fallback models for requests that match no task. docs/routing.md describes each key.
//
//   routers:
//     - name: support
//       tasks:
//         - {name: billing, description: "invoices, payments and refunds",
//            examples: ["Why was I charged twice?"], models: [small-model, big-model], policy: cost}
//       fallback: [small-model]

#include <sluice/config/node.hpp>
#include <sluice/config/suggest.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {

/// Failover past three models of one task costs the client more time than it saves.
inline constexpr std::size_t max_models_per_task = 3;
inline constexpr std::size_t max_fallback_models = 3;

struct task_config {
    std::string name;
    std::string description;
    std::vector<std::string> examples; // prompts typical of the task
    std::vector<std::string> keywords; // case-insensitive substrings that choose the task outright
    std::vector<std::string> models;   // catalog ids, 1 to 3, in the order `manual` tries them
    std::string policy;                // a name in the gateway's policy set
    int line = 0;                      // the line of its name
    std::map<std::string, std::string> metadata; // request metadata that chooses the task outright (all pairs)
};

/// How `optimal` trades quality against cost and latency (each term normalised to 0..1).
struct optimal_weights {
    double quality = 0.6;
    double cost = 0.25;
    double latency = 0.15;
};

struct optimal_settings {
    // Task name, or "*" for every task -> model id -> quality from 0 to 1. Absent pairs take
    // routing::default_quality (docs/routing.md lists it).
    std::map<std::string, std::map<std::string, double, std::less<>>, std::less<>> quality;
    optimal_weights weights;
};

struct router_config {
    std::string name;
    std::vector<task_config> tasks;
    std::vector<std::string> fallback; // catalog ids, tried in this order after the task's
    double threshold = 0.25;           // the least cosine similarity that picks a task
    double exploration = 0.05;         // the share of requests `speed` spends measuring others
    optimal_settings optimal;
    int line = 0; // the line of its name

    const task_config* find_task(std::string_view task) const noexcept {
        for (const auto& t : tasks)
            if (t.name == task) return &t;
        return nullptr;
    }
};

namespace routers_detail {

/// Names clients write after "router:" and that headers and metric labels carry as they are.
inline bool is_plain_name(std::string_view s) {
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.' || c == '/';
        if (!ok) return false;
    }
    return !s.empty();
}

inline std::string read_name(const node& n, std::string_view what) {
    auto s = n.as_nonempty_string();
    if (!is_plain_name(s))
        n.fail("a " + std::string(what) + " name is letters, digits and - _ . /, got '" + s + "'");
    return s;
}

inline std::vector<std::string> read_strings(const node& n) {
    std::vector<std::string> out;
    for (const auto& item : n.items()) out.push_back(item.as_nonempty_string());
    return out;
}

inline std::string where(const std::string& router, const std::string& task) {
    return task.empty() ? " in router '" + router + "'" : " in router '" + router + "', task '" + task + "'";
}

template <class ModelKnown>
std::vector<std::string> read_models(const node& n, ModelKnown& model_known, std::size_t most, const std::string& context) {
    auto list = n.items();
    if (list.empty()) n.fail("name at least one model" + context);
    if (list.size() > most)
        n.fail("at most " + std::to_string(most) + " models" + context + ", got " + std::to_string(list.size()));
    std::vector<std::string> out;
    for (const auto& item : list) {
        auto id = item.as_nonempty_string();
        if (!model_known(std::string_view(id))) item.fail("unknown model '" + id + "' (not in models:)" + context);
        for (const auto& seen : out)
            if (seen == id) item.fail("model '" + id + "' is listed twice" + context);
        out.push_back(std::move(id));
    }
    return out;
}

inline double read_fraction(const node& n) {
    const double x = n.as_number(0);
    if (x > 1) n.fail("expected a number from 0 to 1, got " + n.described());
    return x;
}

template <class ModelKnown>
optimal_settings read_optimal(const node& n, ModelKnown& model_known, const router_config& r) {
    optimal_settings s;
    auto m = n.as_mapping({"quality", "weights"});
    if (auto q = m.find("quality"))
        for (auto& [task, models] : q->as_free_mapping()) {
            if (task != "*" && !r.find_task(task)) {
                std::vector<std::string> names{"*"};
                for (const auto& t : r.tasks) names.push_back(t.name);
                auto hint = did_you_mean(task, names);
                models.fail("unknown task '" + task + "'" + where(r.name, "") +
                            (hint.empty() ? " (a task of this router, or * for all)" : hint));
            }
            auto& scores = s.quality[task];
            for (auto& [model, score] : models.as_free_mapping()) {
                if (!model_known(std::string_view(model))) score.fail("unknown model '" + model + "' (not in models:)");
                scores[model] = read_fraction(score);
            }
        }
    if (auto w = m.find("weights")) {
        auto wm = w->as_mapping({"quality", "cost", "latency"});
        if (auto v = wm.find("quality")) s.weights.quality = v->as_number(0);
        if (auto v = wm.find("cost")) s.weights.cost = v->as_number(0);
        if (auto v = wm.find("latency")) s.weights.latency = v->as_number(0);
        if (s.weights.quality + s.weights.cost + s.weights.latency <= 0)
            w->fail("at least one weight must be above zero");
    }
    return s;
}

} // namespace routers_detail

/// routers: a list of {name, tasks: [{name, description, examples, keywords, models, policy}],
/// fallback, threshold, exploration, optimal: {quality, weights}}.
/// model_known(id) says whether a model is in the catalog; policy_names is the gateway's policy
/// set (routing::default_policies::names, or the team's own set's).
template <class ModelKnown, class PolicyNames>
std::vector<router_config> read_routers(const node& n, ModelKnown model_known, const PolicyNames& policy_names) {
    namespace d = routers_detail;
    std::vector<router_config> out;
    if (n.is_null()) return out;
    for (const auto& item : n.items()) {
        auto m = item.as_mapping({"name", "tasks", "fallback", "threshold", "exploration", "optimal"});
        router_config r;
        auto name = m.required("name");
        r.name = d::read_name(name, "router");
        r.line = name.line();
        for (const auto& seen : out)
            if (seen.name == r.name)
                name.fail("duplicate router name '" + r.name + "' (first at line " + std::to_string(seen.line) + ")");

        if (auto tasks = m.find("tasks"))
            for (const auto& t : tasks->items()) {
                auto tm = t.as_mapping({"name", "description", "examples", "keywords", "metadata", "models", "policy"});
                task_config task;
                auto task_name = tm.required("name");
                task.name = d::read_name(task_name, "task");
                task.line = task_name.line();
                if (task.name == "fallback")
                    task_name.fail("'fallback' names the route of requests that match no task; choose another task name");
                for (const auto& seen : r.tasks)
                    if (seen.name == task.name)
                        task_name.fail("duplicate task name '" + task.name + "'" + d::where(r.name, "") +
                                       " (first at line " + std::to_string(seen.line) + ")");
                const auto context = d::where(r.name, task.name);
                if (auto v = tm.find("description")) task.description = v->as_string();
                if (auto v = tm.find("examples")) task.examples = d::read_strings(*v);
                if (auto v = tm.find("keywords")) task.keywords = d::read_strings(*v);
                if (auto v = tm.find("metadata"))
                    for (auto& [key, value] : v->as_free_mapping()) task.metadata[key] = value.as_string();
                if (task.description.empty() && task.examples.empty() && task.keywords.empty() && task.metadata.empty())
                    t.fail("a task needs a description, examples, keywords or metadata to be recognised" + context);
                task.models = d::read_models(tm.required("models"), model_known, max_models_per_task, context);
                auto policy = tm.required("policy");
                task.policy = policy.as_nonempty_string();
                bool known = false;
                for (const auto& p : policy_names) known = known || std::string_view(p) == task.policy;
                if (!known) {
                    auto hint = did_you_mean(task.policy, policy_names);
                    policy.fail("unknown policy '" + task.policy + "'" + context +
                                (hint.empty() ? " (known policies: " + joined_names(policy_names) + ")" : hint));
                }
                r.tasks.push_back(std::move(task));
            }

        if (auto v = m.find("fallback")) r.fallback = d::read_models(*v, model_known, max_fallback_models, d::where(r.name, ""));
        if (r.tasks.empty() && r.fallback.empty())
            item.fail("router '" + r.name + "' has no tasks and no fallback: give it tasks, fallback models, or both");
        if (auto v = m.find("threshold")) r.threshold = d::read_fraction(*v);
        if (auto v = m.find("exploration")) r.exploration = d::read_fraction(*v);
        if (auto v = m.find("optimal")) r.optimal = d::read_optimal(*v, model_known, r);
        out.push_back(std::move(r));
    }
    return out;
}

} // namespace sluice::config

#endif

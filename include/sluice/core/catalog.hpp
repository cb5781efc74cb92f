#ifndef SLUICE_CORE_CATALOG_HPP
#define SLUICE_CORE_CATALOG_HPP

// The model catalog: each public model id and its contract (what it serves, its limits, its
// price). Requests are checked against it before any backend is called.

#include <sluice/core/endpoint.hpp>
#include <sluice/core/usage.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice::core {

/// Request features a model takes; a request using one it lacks is refused before any backend.
struct model_features {
    bool tools = true;           // tool definitions and tool calls
    bool vision = true;          // image inputs
    bool reasoning = true;       // reasoning effort or a thinking budget
    bool response_format = true; // JSON mode and JSON schemas
    friend bool operator==(const model_features&, const model_features&) = default;
};

struct model_entry {
    std::string id;             // the public id clients send
    std::string provider;       // the provider (or kernel) that serves it
    std::string upstream_model; // the id that backend knows it by
    endpoint_set endpoints;     // what it serves
    std::optional<std::uint64_t> context_window;
    std::optional<std::uint64_t> max_output_tokens;
    bool open_weight = false;
    std::string owned_by;
    std::int64_t created = 0; // unix seconds
    std::optional<core::price> price;
    model_features supports;
};

class catalog {
public:
    /// Adds a model; false when the id is taken (the config loader refuses duplicates first).
    bool add(model_entry m) {
        auto [it, fresh] = index_.try_emplace(m.id, models_.size());
        if (!fresh) return false;
        models_.push_back(std::move(m));
        return true;
    }

    const model_entry* find(std::string_view id) const {
        auto it = index_.find(std::string(id));
        return it == index_.end() ? nullptr : &models_[it->second];
    }

    /// In the order the config lists them.
    const std::vector<model_entry>& models() const noexcept { return models_; }
    std::size_t size() const noexcept { return models_.size(); }

private:
    std::vector<model_entry> models_;
    std::unordered_map<std::string, std::size_t> index_;
};

} // namespace sluice::core

#endif

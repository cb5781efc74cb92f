#ifndef SLUICE_ROUTING_CLASSIFIER_HPP
#define SLUICE_ROUTING_CLASSIFIER_HPP

// Which task a request is about. Keyword rules first (a case-insensitive substring chooses its
// task outright, in config order); then the cosine similarity between the request's text and
// each task's description and examples, the best vector of each task counting for the task.
// Under the router's threshold the request goes to the fallback.
//
// The embedding is injected (kernels/embed in the gateway, a bag of words in tests), so this
// file does no numeric work beyond dot products and can be tested without a model.

#include <sluice/config/routers.hpp>
#include <sluice/core/log.hpp>

#include <cctype>
#include <cmath>
#include <cstddef>
#include <exception>
#include <functional>
#include <span>
#include <stdexcept>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::routing {

/// Texts -> one vector each, all of one dimension, L2-normalised. Called once at start-up with
/// every task's texts and once per classified request with one text; it must be thread-safe.
using embedder = std::function<std::vector<std::vector<float>>(std::span<const std::string>)>;

/// Adapts an encoder that answers one row-major matrix (texts x dim floats) for string_views,
/// as kernels/embed does:
///   routing::row_major_embedder([](auto texts) { return kernels::embed::encode(texts); },
///                               kernels::embed::default_dim)
template <class Encode>
embedder row_major_embedder(Encode encode, std::size_t dim) {
    return [encode = std::move(encode), dim](std::span<const std::string> texts) {
        std::vector<std::string_view> views(texts.begin(), texts.end());
        const std::vector<float> flat = encode(std::span<const std::string_view>(views));
        if (flat.size() != texts.size() * dim)
            throw std::runtime_error("the encoder answered " + std::to_string(flat.size()) + " floats for " +
                                     std::to_string(texts.size()) + " texts of dimension " + std::to_string(dim));
        std::vector<std::vector<float>> out;
        out.reserve(texts.size());
        for (std::size_t i = 0; i < texts.size(); ++i)
            out.emplace_back(flat.begin() + std::ptrdiff_t(i * dim), flat.begin() + std::ptrdiff_t((i + 1) * dim));
        return out;
    };
}

/// The route of a request that matches no task well enough.
inline constexpr std::string_view fallback_route = "fallback";

struct classification {
    std::string route;     // a task name, or "fallback"
    double similarity = 0; // the best task's cosine similarity; 1 for a keyword match
    std::string nearest;   // the most similar task even under the threshold; empty when none
    bool keyword = false;  // chosen by a keyword rule
};

/// Cosine similarity; normalises again, so a slightly off embedder still compares fairly.
inline double cosine(std::span<const float> a, std::span<const float> b) noexcept {
    double dot = 0, na = 0, nb = 0;
    const std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        dot += double(a[i]) * double(b[i]);
        na += double(a[i]) * double(a[i]);
        nb += double(b[i]) * double(b[i]);
    }
    return na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 0.0;
}

inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

class classifier {
public:
    /// Embeds every task's description and examples now, in one call. Throws
    /// std::invalid_argument when a task needs embedding and there is no embedder, or when the
    /// embedder answers with the wrong number of vectors or mixed dimensions.
    classifier(const config::router_config& r, embedder embed) : threshold_(r.threshold), embed_(std::move(embed)) {
        std::vector<std::string> texts;
        std::vector<std::size_t> owner; // texts[i] describes tasks_[owner[i]]
        for (const auto& t : r.tasks) {
            task_entry e;
            e.name = t.name;
            for (const auto& k : t.keywords)
                if (!k.empty()) e.keywords.push_back(ascii_lower(k));
            e.metadata = t.metadata;
            tasks_.push_back(std::move(e));
            if (!t.description.empty()) texts.push_back(t.description), owner.push_back(tasks_.size() - 1);
            for (const auto& x : t.examples)
                if (!x.empty()) texts.push_back(x), owner.push_back(tasks_.size() - 1);
        }
        if (texts.empty()) return;
        if (!embed_)
            throw std::invalid_argument("router '" + r.name + "' classifies by description and examples, but no embedder was given");
        std::vector<std::vector<float>> vectors;
        try {
            vectors = embed_(std::span<const std::string>(texts));
        } catch (const std::exception& e) {
            throw std::invalid_argument("router '" + r.name + "': embedding the tasks failed: " + e.what());
        }
        if (vectors.size() != texts.size())
            throw std::invalid_argument("router '" + r.name + "': the embedder answered " + std::to_string(vectors.size()) +
                                        " vectors for " + std::to_string(texts.size()) + " texts");
        dimensions_ = vectors.front().size();
        for (std::size_t i = 0; i < vectors.size(); ++i) {
            if (vectors[i].size() != dimensions_ || dimensions_ == 0)
                throw std::invalid_argument("router '" + r.name + "': the embedder's vectors differ in dimension");
            tasks_[owner[i]].vectors.push_back(std::move(vectors[i]));
        }
    }

    /// text: the request's routing_text (system text and the latest user text); metadata: the
    /// request's metadata, where a task's metadata rule (every pair equal) chooses it outright.
    classification classify(std::string_view text, const std::map<std::string, std::string>* metadata = nullptr) const {
        classification out{std::string(fallback_route), 0.0, {}, false};
        if (metadata && !metadata->empty())
            for (const auto& t : tasks_) {
                if (t.metadata.empty()) continue;
                bool all = true;
                for (const auto& [k, v] : t.metadata) {
                    auto it = metadata->find(k);
                    all = all && it != metadata->end() && it->second == v;
                }
                if (all) return {t.name, 1.0, t.name, true};
            }
        if (tasks_.empty() || text.empty()) return out;
        const auto lower = ascii_lower(text);
        for (const auto& t : tasks_)
            for (const auto& k : t.keywords)
                if (lower.find(k) != std::string::npos) return {t.name, 1.0, t.name, true};
        if (dimensions_ == 0) return out;

        std::vector<float> query;
        try {
            const std::string one(text);
            auto v = embed_(std::span<const std::string>(&one, 1));
            if (v.size() == 1) query = std::move(v.front());
        } catch (const std::exception& e) {
            // A request is still served (by the fallback) when classification fails.
            log::warn("route_classify_failed", {{"error", e.what()}});
            return out;
        }
        if (query.size() != dimensions_) {
            log::warn("route_classify_failed", {{"error", "the embedder answered a vector of the wrong dimension"}});
            return out;
        }
        double best = -2;
        for (const auto& t : tasks_)
            for (const auto& v : t.vectors)
                if (auto s = cosine(query, v); s > best) best = s, out.nearest = t.name;
        if (out.nearest.empty()) return out;
        out.similarity = best;
        if (best >= threshold_) out.route = out.nearest;
        return out;
    }

    double threshold() const noexcept { return threshold_; }

private:
    struct task_entry {
        std::string name;
        std::vector<std::string> keywords; // lower-case
        std::map<std::string, std::string> metadata;
        std::vector<std::vector<float>> vectors;
    };

    double threshold_;
    embedder embed_;
    std::size_t dimensions_ = 0;
    std::vector<task_entry> tasks_;
};

} // namespace sluice::routing

#endif

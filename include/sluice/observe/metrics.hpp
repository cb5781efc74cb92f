#ifndef SLUICE_OBSERVE_METRICS_HPP
#define SLUICE_OBSERVE_METRICS_HPP

// A small metrics registry for the request hot path, rendered in the Prometheus text exposition
// format 0.0.4 at /metrics.
//
//   observe::registry reg;
//   auto& requests = reg.add_counter("sluice_requests_total", "Requests served.", {"model"});
//   auto& llama = requests.labels({"llama-3"}); // look up once, keep the reference
//   llama.inc();                                // one relaxed atomic add
//   std::string body = reg.scrape();
//
// Updates are relaxed atomics: a scrape is a point-in-time view of values that only need to be
// eventually consistent, and ordering them against anything else would buy nothing. Children live
// in map nodes and never move, so a reference taken once stays valid for the registry's life.
// Families render in registration order, children sorted by their label values, so two scrapes of
// the same state are byte-identical (golden tests, diffable dumps).

#include <sluice/core/log.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace sluice::observe {

// ---------------------------------------------------------------------------------------------
// Children: the values behind one set of label values.

/// A monotonic count. Whole increments take the integer path (one `lock xadd`, exact however
/// large); fractional amounts such as dollars go to a separate double.
class counter {
public:
    counter() = default;
    counter(const counter&) = delete;
    counter& operator=(const counter&) = delete;

    void inc(std::uint64_t n = 1) noexcept { whole_.fetch_add(n, std::memory_order_relaxed); }

    /// Adds a fractional amount; negative and NaN amounts are ignored (a counter never goes down).
    void add(double v) noexcept {
        if (!(v > 0)) return;
        fraction_.fetch_add(v, std::memory_order_relaxed);
    }

    double value() const noexcept {
        return double(whole_.load(std::memory_order_relaxed)) + fraction_.load(std::memory_order_relaxed);
    }

    /// Appends the value, exactly as an integer while no fraction was ever added.
    void append_value(std::string& out) const;

private:
    std::atomic<std::uint64_t> whole_{0};
    std::atomic<double> fraction_{0.0};
};

/// A value that goes up and down.
class gauge {
public:
    gauge() = default;
    gauge(const gauge&) = delete;
    gauge& operator=(const gauge&) = delete;

    void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
    void add(double v) noexcept { v_.fetch_add(v, std::memory_order_relaxed); }
    void sub(double v) noexcept { v_.fetch_sub(v, std::memory_order_relaxed); }
    void inc() noexcept { add(1.0); }
    void dec() noexcept { sub(1.0); }
    double value() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> v_{0.0};
};

/// Holds one unit of a gauge for as long as it lives: in-flight requests, open streams. Moving
/// hands the unit over; an early `release()` gives it back once.
class [[nodiscard]] in_flight {
public:
    in_flight() = default;
    explicit in_flight(gauge& g) noexcept : g_(&g) { g.inc(); }
    in_flight(in_flight&& o) noexcept : g_(std::exchange(o.g_, nullptr)) {}
    in_flight& operator=(in_flight&& o) noexcept {
        if (this != &o) {
            release();
            g_ = std::exchange(o.g_, nullptr);
        }
        return *this;
    }
    in_flight(const in_flight&) = delete;
    in_flight& operator=(const in_flight&) = delete;
    ~in_flight() { release(); }

    void release() noexcept {
        if (g_) std::exchange(g_, nullptr)->dec();
    }
    bool held() const noexcept { return g_ != nullptr; }

private:
    gauge* g_ = nullptr;
};

/// Observations counted into fixed buckets. Each bucket counts only its own range; the cumulative
/// `le` counts and `_count` are summed at scrape, so they always agree with each other.
class histogram {
public:
    /// `bounds` are the finite upper bounds, strictly increasing; +Inf is implied.
    explicit histogram(std::span<const double> bounds)
        : bounds_(bounds), counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1)) {}
    histogram(const histogram&) = delete;
    histogram& operator=(const histogram&) = delete;

    /// NaN is dropped: it would turn `_sum` into NaN for the rest of the process's life.
    void observe(double v) noexcept {
        if (std::isnan(v)) return;
        // `le` is inclusive: v lands in the first bucket whose bound is >= v.
        auto i = std::size_t(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
        counts_[i].fetch_add(1, std::memory_order_relaxed);
        sum_.fetch_add(v, std::memory_order_relaxed);
    }

    std::span<const double> bounds() const noexcept { return bounds_; }
    /// Observations in bucket `i` alone (i == bounds().size() is the +Inf bucket).
    std::uint64_t bucket_count(std::size_t i) const noexcept { return counts_[i].load(std::memory_order_relaxed); }
    std::uint64_t count() const noexcept {
        std::uint64_t n = 0;
        for (std::size_t i = 0; i <= bounds_.size(); ++i) n += bucket_count(i);
        return n;
    }
    double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

private:
    std::span<const double> bounds_; // owned by the family
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
    std::atomic<double> sum_{0.0};
};

// ---------------------------------------------------------------------------------------------
// Text format helpers.

namespace detail {

/// Go's shortest round-trip float text, which is what Prometheus parses: 1, 0.25, 1e-05, +Inf, NaN.
inline void append_number(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
        return;
    }
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

inline void append_number(std::string& out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

/// Label values escape backslash, double quote and newline.
inline void append_label_value(std::string& out, std::string_view s) {
    for (char c : s) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        case '\n': out += "\\n"; break;
        default: out += c;
        }
    }
}

/// HELP text escapes backslash and newline only.
inline void append_help(std::string& out, std::string_view s) {
    for (char c : s) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        default: out += c;
        }
    }
}

inline bool valid_metric_name(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

inline bool valid_label_name(std::string_view s) noexcept {
    if (s.empty() || s.starts_with("__")) return false; // "__" names are Prometheus's own
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

/// Orders stored label values against a looked-up set without building a key on a hit.
struct label_values_less {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
        return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                            [](std::string_view x, std::string_view y) { return x < y; });
    }
};

} // namespace detail

inline void counter::append_value(std::string& out) const {
    double f = fraction_.load(std::memory_order_relaxed);
    std::uint64_t w = whole_.load(std::memory_order_relaxed);
    if (f == 0.0) detail::append_number(out, w);
    else detail::append_number(out, double(w) + f);
}

// ---------------------------------------------------------------------------------------------
// Families.

enum class metric_type { counter, gauge, histogram };

constexpr std::string_view to_string(metric_type t) noexcept {
    switch (t) {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
    }
    return "untyped";
}

/// What the registry needs of every family: its name and how it renders. Virtual because it is
/// called once per family per scrape, never on the request path.
class family_base {
public:
    family_base(std::string name, std::string help, metric_type type)
        : name_(std::move(name)), help_(std::move(help)), type_(type) {}
    virtual ~family_base() = default;
    family_base(const family_base&) = delete;
    family_base& operator=(const family_base&) = delete;

    const std::string& name() const noexcept { return name_; }
    const std::string& help() const noexcept { return help_; }
    metric_type type() const noexcept { return type_; }

    /// Appends `# HELP`, `# TYPE` and every sample.
    void render(std::string& out) const {
        out += "# HELP ";
        out += name_;
        out += ' ';
        detail::append_help(out, help_);
        out += "\n# TYPE ";
        out += name_;
        out += ' ';
        out += to_string(type_);
        out += '\n';
        render_samples(out);
    }

protected:
    virtual void render_samples(std::string& out) const = 0;

private:
    std::string name_;
    std::string help_;
    metric_type type_;
};

/// A metric with label names and one child per distinct set of label values.
template <class Child>
class family final : public family_base {
public:
    /// Past this many children, new label sets share one child whose every value is "other":
    /// label values that come from clients must not grow memory and scrape size without bound.
    static constexpr std::size_t default_child_limit = 10'000;
    static constexpr std::string_view overflow_value = "other";

    family(std::string name, std::string help, metric_type type, std::vector<std::string> label_names,
           std::vector<double> bounds = {})
        : family_base(std::move(name), std::move(help), type), label_names_(std::move(label_names)),
          bounds_(std::move(bounds)) {
        if (label_names_.empty()) unlabelled_ = &insert({});
    }

    const std::vector<std::string>& label_names() const noexcept { return label_names_; }

    /// The child for these label values, in label-name order; created on first use. The reference
    /// stays valid for the registry's life: callers on a hot path look it up once and keep it.
    /// Throws std::invalid_argument when the count of values differs from the count of names.
    Child& labels(std::span<const std::string_view> values) {
        if (values.size() != label_names_.size())
            throw std::invalid_argument("metric " + name() + ": expected " + std::to_string(label_names_.size()) +
                                        " label values, got " + std::to_string(values.size()));
        if (unlabelled_) return *unlabelled_;
        {
            std::shared_lock lock(mutex_);
            if (auto it = children_.find(values); it != children_.end()) return it->second;
        }
        return insert(values);
    }
    Child& labels(std::initializer_list<std::string_view> values) {
        return labels(std::span<const std::string_view>(values.begin(), values.size()));
    }

    /// The one child of a family without labels.
    Child& get() {
        if (!unlabelled_) throw std::invalid_argument("metric " + name() + " has labels; use labels()");
        return *unlabelled_;
    }

    void set_child_limit(std::size_t n) {
        std::unique_lock lock(mutex_);
        child_limit_ = n;
    }

    std::size_t size() const {
        std::shared_lock lock(mutex_);
        return children_.size();
    }

protected:
    void render_samples(std::string& out) const override {
        std::shared_lock lock(mutex_);
        for (const auto& [values, child] : children_) {
            if constexpr (std::is_same_v<Child, histogram>) render_histogram(out, values, child);
            else {
                append_series(out, name(), values);
                out += ' ';
                if constexpr (std::is_same_v<Child, counter>) child.append_value(out);
                else detail::append_number(out, child.value());
                out += '\n';
            }
        }
    }

private:
    using key = std::vector<std::string>;

    Child& insert(std::span<const std::string_view> values) {
        std::unique_lock lock(mutex_);
        if (auto it = children_.find(values); it != children_.end()) return it->second;
        if (!label_names_.empty() && children_.size() >= child_limit_) {
            if (!overflowed_) {
                overflowed_ = true;
                log::warn("metric_label_overflow", {{"metric", name()}, {"limit", child_limit_}});
            }
            key other(label_names_.size(), std::string(overflow_value));
            return emplace(std::move(other));
        }
        return emplace(key(values.begin(), values.end()));
    }

    Child& emplace(key k) {
        if constexpr (std::is_same_v<Child, histogram>)
            return children_.try_emplace(std::move(k), std::span<const double>(bounds_)).first->second;
        else return children_.try_emplace(std::move(k)).first->second;
    }

    void append_labels(std::string& out, const key& values, std::string_view le = {}) const {
        if (values.empty() && le.empty()) return;
        out += '{';
        for (std::size_t i = 0; i < values.size(); ++i) {
            if (i) out += ',';
            out += label_names_[i];
            out += "=\"";
            detail::append_label_value(out, values[i]);
            out += '"';
        }
        if (!le.empty()) {
            if (!values.empty()) out += ',';
            out += "le=\"";
            out += le;
            out += '"';
        }
        out += '}';
    }

    void append_series(std::string& out, std::string_view series, const key& values, std::string_view le = {}) const {
        out += series;
        append_labels(out, values, le);
    }

    void render_histogram(std::string& out, const key& values, const histogram& h) const {
        std::uint64_t cumulative = 0;
        std::string le;
        for (std::size_t i = 0; i <= bounds_.size(); ++i) {
            cumulative += h.bucket_count(i);
            le.clear();
            if (i < bounds_.size()) detail::append_number(le, bounds_[i]);
            else le = "+Inf";
            append_series(out, name() + "_bucket", values, le);
            out += ' ';
            detail::append_number(out, cumulative);
            out += '\n';
        }
        append_series(out, name() + "_sum", values);
        out += ' ';
        detail::append_number(out, h.sum());
        out += '\n';
        append_series(out, name() + "_count", values);
        out += ' ';
        detail::append_number(out, cumulative); // the +Inf bucket, so the two always agree
        out += '\n';
    }

    std::vector<std::string> label_names_;
    std::vector<double> bounds_;
    mutable std::shared_mutex mutex_;
    std::map<key, Child, detail::label_values_less> children_;
    Child* unlabelled_ = nullptr;
    std::size_t child_limit_ = default_child_limit;
    bool overflowed_ = false;
};

using counter_family = family<counter>;
using gauge_family = family<gauge>;
using histogram_family = family<histogram>;

/// A value owned elsewhere (a spool's backlog, a store's error count), read at scrape time. Until
/// a source is set the family renders no sample: an unknown value is not zero.
class callback_family final : public family_base {
public:
    using source = std::function<double()>;

    callback_family(std::string name, std::string help, metric_type type) : family_base(std::move(name), std::move(help), type) {}

    /// Replaces the source; an empty function clears it. The source runs on the scraping thread
    /// and must be safe to call from there.
    void set(source s) {
        std::lock_guard lock(mutex_);
        source_ = std::move(s);
    }

protected:
    void render_samples(std::string& out) const override {
        std::lock_guard lock(mutex_);
        if (!source_) return;
        double v;
        try {
            v = source_();
        } catch (const std::exception& e) {
            // One failing source must not take the whole scrape down with it.
            log::warn("metric_source_failed", {{"metric", name()}, {"what", e.what()}});
            return;
        } catch (...) {
            log::warn("metric_source_failed", {{"metric", name()}});
            return;
        }
        out += name();
        out += ' ';
        detail::append_number(out, v);
        out += '\n';
    }

private:
    mutable std::mutex mutex_;
    source source_;
};

// ---------------------------------------------------------------------------------------------
// The registry.

/// Owns the families and renders them. Registration is for start-up and plugin load; lookups and
/// updates after that touch only the family. Registration throws std::invalid_argument on a bad
/// or taken name: names are literals in code, so that is a bug for the first test to find.
class registry {
public:
    registry() = default;
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    /// A counter's name must end in `_total`, as Prometheus's naming rules ask.
    counter_family& add_counter(std::string name, std::string help, std::vector<std::string> label_names = {}) {
        require_total(name);
        return add<counter_family>(std::move(name), std::move(help), metric_type::counter, std::move(label_names));
    }

    gauge_family& add_gauge(std::string name, std::string help, std::vector<std::string> label_names = {}) {
        return add<gauge_family>(std::move(name), std::move(help), metric_type::gauge, std::move(label_names));
    }

    /// `bounds`: finite upper bounds, strictly increasing; the +Inf bucket is always added.
    histogram_family& add_histogram(std::string name, std::string help, std::vector<std::string> label_names,
                                    std::vector<double> bounds) {
        for (std::size_t i = 0; i < bounds.size(); ++i) {
            if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i])))
                throw std::invalid_argument("histogram " + name + ": bounds must be finite and strictly increasing");
        }
        for (const auto& l : label_names)
            if (l == "le") throw std::invalid_argument("histogram " + name + ": \"le\" is the bucket label");
        return add<histogram_family>(std::move(name), std::move(help), metric_type::histogram,
                                     std::move(label_names), std::move(bounds));
    }

    callback_family& add_callback_counter(std::string name, std::string help, callback_family::source s = {}) {
        require_total(name);
        auto& f = add<callback_family>(std::move(name), std::move(help), metric_type::counter);
        f.set(std::move(s));
        return f;
    }

    callback_family& add_callback_gauge(std::string name, std::string help, callback_family::source s = {}) {
        auto& f = add<callback_family>(std::move(name), std::move(help), metric_type::gauge);
        f.set(std::move(s));
        return f;
    }

    /// The text exposition format 0.0.4; serve it as `text/plain; version=0.0.4; charset=utf-8`.
    std::string scrape() const {
        std::string out;
        std::shared_lock lock(mutex_);
        out.reserve(last_size_.load(std::memory_order_relaxed) + 256);
        for (const auto& f : families_) f->render(out);
        last_size_.store(out.size(), std::memory_order_relaxed);
        return out;
    }

    static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

    std::size_t size() const {
        std::shared_lock lock(mutex_);
        return families_.size();
    }

private:
    static void require_total(const std::string& name) {
        if (!std::string_view(name).ends_with("_total"))
            throw std::invalid_argument("counter " + name + ": a counter's name ends in _total");
    }

    template <class F, class... Args>
    F& add(std::string name, std::string help, metric_type type, Args&&... args) {
        if (!detail::valid_metric_name(name)) throw std::invalid_argument("invalid metric name: " + name);
        if constexpr (sizeof...(Args) > 0) {
            const std::vector<std::string>& labels = std::get<0>(std::forward_as_tuple(args...));
            for (std::size_t i = 0; i < labels.size(); ++i) {
                if (!detail::valid_label_name(labels[i]))
                    throw std::invalid_argument("metric " + name + ": invalid label name: " + labels[i]);
                for (std::size_t j = 0; j < i; ++j)
                    if (labels[j] == labels[i])
                        throw std::invalid_argument("metric " + name + ": label named twice: " + labels[i]);
            }
        }
        std::unique_lock lock(mutex_);
        for (const auto& f : families_)
            if (f->name() == name) throw std::invalid_argument("metric registered twice: " + name);
        auto owned = std::make_unique<F>(std::move(name), std::move(help), type, std::forward<Args>(args)...);
        F& ref = *owned;
        families_.push_back(std::move(owned));
        return ref;
    }

    mutable std::shared_mutex mutex_;
    std::vector<std::unique_ptr<family_base>> families_;
    mutable std::atomic<std::size_t> last_size_{0}; // sizes the next scrape's buffer
};

} // namespace sluice::observe

#endif

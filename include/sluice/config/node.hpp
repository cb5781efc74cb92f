#ifndef SLUICE_CONFIG_NODE_HPP
#define SLUICE_CONFIG_NODE_HPP

// A node of a config document, read with typed accessors that expand ${VAR}s and throw
// config_error at the node's line and key path. The loader reads the core sections with it,
// and a feature that owns a reserved section (auth:, limits:, ...) reads its own the same way,
// so every config error in the house has one shape.

#include <sluice/config/env.hpp>
#include <sluice/config/error.hpp>
#include <sluice/config/suggest.hpp>
#include <sluice/config/units.hpp>

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::config {

/// What every node of one file shares.
struct document {
    std::string name;               // as errors show it, usually the path as given
    std::filesystem::path base_dir; // relative paths resolve here; empty: leave them as written
    env_lookup env;
};

class mapping;

class node {
public:
    node(YAML::Node yaml, std::string key, std::shared_ptr<const document> doc)
        : node(yaml, std::move(key), std::move(doc), yaml.Mark()) {}
    /// mark: where errors point; a null value's own mark is past its key, so callers pass the key's.
    node(YAML::Node yaml, std::string key, std::shared_ptr<const document> doc, YAML::Mark mark)
        : yaml_(std::move(yaml)), key_(std::move(key)), doc_(std::move(doc)), mark_(mark) {}

    const YAML::Node& yaml() const noexcept { return yaml_; }
    const std::string& key() const noexcept { return key_; }
    const document& doc() const noexcept { return *doc_; }
    const std::shared_ptr<const document>& doc_ptr() const noexcept { return doc_; }
    int line() const noexcept { return mark_.line >= 0 ? mark_.line + 1 : 0; }
    int column() const noexcept { return mark_.column >= 0 ? mark_.column + 1 : 0; }

    bool is_null() const { return yaml_.IsNull(); }
    bool is_scalar() const { return yaml_.IsScalar(); }
    bool is_mapping() const { return yaml_.IsMap(); }
    bool is_list() const { return yaml_.IsSequence(); }

    [[noreturn]] void fail(std::string message) const {
        throw config_error(doc_->name, line(), column(), key_, std::move(message));
    }

    std::string child_key(std::string_view name) const {
        return key_.empty() ? std::string(name) : key_ + "." + std::string(name);
    }
    std::string item_key(std::size_t index) const { return key_ + "[" + std::to_string(index) + "]"; }

    /// "a mapping", "a list", "nothing", or the scalar quoted as written (before ${VAR}
    /// expansion, so a value from the environment is never shown).
    std::string described() const {
        if (yaml_.IsMap()) return "a mapping";
        if (yaml_.IsSequence()) return "a list";
        if (!yaml_.IsScalar()) return "nothing";
        std::string raw = yaml_.Scalar();
        if (auto nl = raw.find('\n'); nl != std::string::npos) raw = raw.substr(0, nl) + "...";
        if (raw.size() > 60) raw = raw.substr(0, 57) + "...";
        return "'" + raw + "'";
    }

    [[noreturn]] void fail_expected(std::string_view expected) const {
        fail("expected " + std::string(expected) + ", got " + described());
    }

    /// The scalar with ${VAR}s expanded; expected names the type for the error when it is not one.
    std::string scalar(std::string_view expected = "a string") const {
        if (!yaml_.IsScalar()) fail_expected(expected);
        auto expanded = expand_env(yaml_.Scalar(), doc_->env);
        if (!expanded.ok()) fail(std::move(expanded.error));
        return std::move(expanded.text);
    }

    std::string as_string() const { return scalar(); }

    std::string as_nonempty_string() const {
        auto s = scalar();
        if (s.empty()) fail("must not be empty");
        return s;
    }

    /// Only `true` and `false`: YAML 1.1's yes/no/on/off are refused, being too easy to misread.
    bool as_bool() const {
        auto s = scalar("true or false");
        if (s == "true") return true;
        if (s == "false") return false;
        fail_expected("true or false");
    }

    std::int64_t as_integer(std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                            std::int64_t max = std::numeric_limits<std::int64_t>::max()) const {
        std::string expected = "an integer";
        if (max == std::numeric_limits<std::int64_t>::max()) {
            if (min == 1)
                expected = "a positive integer";
            else if (min == 0)
                expected = "a non-negative integer";
            else if (min != std::numeric_limits<std::int64_t>::min())
                expected += " of at least " + std::to_string(min);
        } else {
            expected += " from " + std::to_string(min) + " to " + std::to_string(max);
        }
        auto s = scalar(expected);
        std::int64_t n = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size() || n < min || n > max)
            fail_expected(expected);
        return n;
    }

    double as_number(double min = -std::numeric_limits<double>::infinity()) const {
        std::string expected = min == 0 ? "a non-negative number" : "a number";
        auto s = scalar(expected);
        double x = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(x) || x < min)
            fail_expected(expected);
        return x;
    }

    /// zero_ok: whether "0s" means something here (a drain deadline of none) or is a mistake.
    std::chrono::milliseconds as_duration(bool zero_ok = false) const {
        auto d = parse_duration(scalar(duration_units_hint));
        if (!d) fail_expected(duration_units_hint);
        if (!zero_ok && d->count() == 0) fail("must be longer than zero");
        return *d;
    }

    std::uint64_t as_size(std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) const {
        auto n = parse_size(scalar(size_units_hint));
        if (!n) fail_expected(size_units_hint);
        if (*n == 0) fail("must be larger than zero");
        if (*n > max) fail("must be at most " + format_size(max));
        return *n;
    }

    /// A non-empty path; a relative one is taken from the config file's folder.
    std::filesystem::path as_path() const {
        std::filesystem::path p(as_nonempty_string());
        if (p.is_relative() && !doc_->base_dir.empty()) p = doc_->base_dir / p;
        return p.lexically_normal();
    }

    /// A path to a file that must exist now, so `--check` finds a missing certificate.
    std::filesystem::path as_existing_file() const {
        auto p = as_path();
        std::error_code ec;
        if (!std::filesystem::is_regular_file(p, ec)) fail("no such file: " + p.string());
        return p;
    }

    std::vector<node> items() const {
        if (!yaml_.IsSequence()) fail_expected("a list");
        std::vector<node> out;
        out.reserve(yaml_.size());
        for (std::size_t i = 0; i < yaml_.size(); ++i) {
            out.emplace_back(yaml_[i], item_key(i), doc_);
            // yaml-cpp marks an empty item ("-" alone) past its dash; the key path still names it.
            if (out.back().is_null()) out.back().fail("the list item is empty");
        }
        return out;
    }

    /// A mapping whose keys must be among known; the first key that is not is refused, with
    /// the nearest known name. Declared up front so a misspelt key is reported as such, before
    /// the "missing required key" it would otherwise cause.
    mapping as_mapping(std::span<const std::string_view> known) const;
    mapping as_mapping(std::initializer_list<std::string_view> known) const;

    /// A mapping with free keys (extra headers): entries in file order, keys unique.
    std::vector<std::pair<std::string, node>> as_free_mapping() const;

private:
    YAML::Node yaml_;
    std::string key_;
    std::shared_ptr<const document> doc_;
    YAML::Mark mark_;
};

/// The checked keys of one mapping node.
class mapping {
public:
    struct entry {
        std::string key;
        node name; // the key's own node, where an error about the key points
        node value;
    };

    mapping(node self, std::vector<entry> entries) : self_(std::move(self)), entries_(std::move(entries)) {}

    const node& self() const noexcept { return self_; }
    const std::vector<entry>& entries() const noexcept { return entries_; }

    /// The value of key; nullopt when the key is absent or its value is null (`key:` or `~`).
    std::optional<node> find(std::string_view key) const {
        for (const auto& e : entries_)
            if (e.key == key) return e.value.is_null() ? std::nullopt : std::optional<node>(e.value);
        return std::nullopt;
    }

    node required(std::string_view key) const {
        for (const auto& e : entries_) {
            if (e.key != key) continue;
            if (e.value.is_null()) e.value.fail("a value is required");
            return e.value;
        }
        throw config_error(self_.doc().name, self_.line(), self_.column(), self_.child_key(key),
                           "required key is missing");
    }

private:
    node self_;
    std::vector<entry> entries_;
};

namespace node_detail {

/// Keys in file order, each a unique scalar; yaml-cpp keeps duplicates silently, we refuse them.
inline std::vector<mapping::entry> read_entries(const node& self) {
    if (!self.is_mapping()) self.fail_expected("a mapping");
    std::vector<mapping::entry> out;
    for (auto it = self.yaml().begin(); it != self.yaml().end(); ++it) {
        const YAML::Node key = it->first;
        const YAML::Node value = it->second;
        if (!key.IsScalar())
            node(key, self.key(), self.doc_ptr())
                .fail("a key must be a plain name, not " + node(key, "", self.doc_ptr()).described());
        const std::string& name = key.Scalar();
        node name_node(key, self.child_key(name), self.doc_ptr());
        for (const auto& seen : out)
            if (seen.key == name)
                name_node.fail("duplicate key (first at line " + std::to_string(seen.name.line()) + ")");
        node value_node(value, name_node.key(), self.doc_ptr(), value.IsNull() ? key.Mark() : value.Mark());
        out.push_back({name, std::move(name_node), std::move(value_node)});
    }
    return out;
}

} // namespace node_detail

inline mapping node::as_mapping(std::span<const std::string_view> known) const {
    // A null node is an empty mapping: `server:` with nothing under it means all defaults.
    if (is_null()) return mapping(*this, {});
    auto entries = node_detail::read_entries(*this);
    for (const auto& e : entries) {
        bool ok = false;
        for (auto k : known) ok = ok || k == e.key;
        if (ok) continue;
        auto hint = did_you_mean(e.key, known);
        e.name.fail("unknown key '" + e.key + "'" +
                    (hint.empty() ? " (known keys: " + joined_names(known) + ")" : hint));
    }
    return mapping(*this, std::move(entries));
}

inline mapping node::as_mapping(std::initializer_list<std::string_view> known) const {
    return as_mapping(std::span<const std::string_view>(known.begin(), known.size()));
}

inline std::vector<std::pair<std::string, node>> node::as_free_mapping() const {
    if (is_null()) return {};
    std::vector<std::pair<std::string, node>> out;
    for (auto& e : node_detail::read_entries(*this)) out.emplace_back(std::move(e.key), std::move(e.value));
    return out;
}

} // namespace sluice::config

#endif

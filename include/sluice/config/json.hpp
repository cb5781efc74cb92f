#ifndef SLUICE_CONFIG_JSON_HPP
#define SLUICE_CONFIG_JSON_HPP

// Free-form config values (a plugin's `options`) as JSON, typed the way YAML reads them:
// plain true/false, integers, numbers and null keep their type; quoted scalars stay strings.

#include <sluice/config/node.hpp>

#include <boost/json/value.hpp>

#include <charconv>

namespace sluice::config {

inline boost::json::value to_json(const node& n) {
    if (n.is_null()) return nullptr;
    if (n.is_list()) {
        boost::json::array a;
        for (const auto& item : n.items()) a.push_back(to_json(item));
        return a;
    }
    if (n.is_mapping()) {
        boost::json::object o;
        for (const auto& [key, value] : n.as_free_mapping()) o[key] = to_json(value);
        return o;
    }
    auto text = n.as_string();
    if (n.yaml().Tag() == "!") return boost::json::value(text); // quoted: a string whatever it reads as
    if (text == "true") return true;
    if (text == "false") return false;
    if (text == "null" || text == "~") return nullptr;
    std::int64_t i = 0;
    auto [ip, iec] = std::from_chars(text.data(), text.data() + text.size(), i);
    if (iec == std::errc{} && ip == text.data() + text.size()) return i;
    double d = 0;
    auto [dp, dec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (dec == std::errc{} && dp == text.data() + text.size()) return d;
    return boost::json::value(text);
}

} // namespace sluice::config

#endif

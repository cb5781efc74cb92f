#ifndef SLUICE_CONFIG_ENV_HPP
#define SLUICE_CONFIG_ENV_HPP

// ${VAR} substitution in config scalars, so secrets live in the environment, not in the file.
//
//   ${VAR}            the value of VAR; an error when VAR is not set
//   ${VAR:-default}   the value of VAR, or default when VAR is unset or empty
//   $${               a literal "${"
//
// VAR is [A-Za-z_][A-Za-z0-9_]*. A default is taken as written and cannot contain '}'.

#include <cctype>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::config {

/// Looks a variable up; nullopt when it is not set. Tests pass a map, the app the process env.
using env_lookup = std::function<std::optional<std::string>(std::string_view name)>;

inline env_lookup process_env() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* value = std::getenv(std::string(name).c_str());
        if (!value) return std::nullopt;
        return std::string(value);
    };
}

/// The text after substitution, or an error that names the variable but never its value.
struct env_expansion {
    std::string text;
    std::string error; // empty on success
    bool ok() const noexcept { return error.empty(); }
};

inline bool is_env_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    return true;
}

inline env_expansion expand_env(std::string_view text, const env_lookup& env) {
    env_expansion out;
    std::size_t i = 0;
    while (i < text.size()) {
        if (text.compare(i, 3, "$${") == 0) {
            out.text += "${";
            i += 3;
            continue;
        }
        if (text.compare(i, 2, "${") != 0) {
            out.text += text[i++];
            continue;
        }
        const std::size_t close = text.find('}', i + 2);
        if (close == std::string_view::npos) {
            out.error = "unterminated '${' (write '$${' for a literal '${')";
            return out;
        }
        std::string_view body = text.substr(i + 2, close - i - 2);
        std::optional<std::string_view> fallback;
        if (auto sep = body.find(":-"); sep != std::string_view::npos) {
            fallback = body.substr(sep + 2);
            body = body.substr(0, sep);
        }
        if (!is_env_name(body)) {
            out.error = "'${" + std::string(body) +
                        "}' is not a valid environment variable reference "
                        "(names are letters, digits and '_'; write '$${' for a literal '${')";
            return out;
        }
        std::optional<std::string> value = env ? env(body) : std::nullopt;
        if (fallback && (!value || value->empty())) {
            out.text += *fallback;
        } else if (value) {
            out.text += *value;
        } else {
            out.error = "environment variable " + std::string(body) + " is not set (write ${" +
                        std::string(body) + ":-} to allow it to be empty)";
            return out;
        }
        i = close + 1;
    }
    return out;
}

} // namespace sluice::config

#endif

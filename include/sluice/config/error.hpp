#ifndef SLUICE_CONFIG_ERROR_HPP
#define SLUICE_CONFIG_ERROR_HPP

// The one error a configuration file can raise. It says where (file, line, column), which key
// (a path like `models[2].price.input`) and what is wrong, and what() puts them on one line:
//
//   gateway.yaml:14:5: providers[0].base_ur: unknown key 'base_ur', did you mean 'base_url'?

#include <stdexcept>
#include <string>
#include <utility>

namespace sluice::config {

class config_error : public std::runtime_error {
public:
    /// line and column are 1-based; 0 means unknown. key is empty when the error has no key.
    config_error(std::string file, int line, int column, std::string key, std::string message)
        : std::runtime_error(format(file, line, column, key, message)), file_(std::move(file)), line_(line),
          column_(column), key_(std::move(key)), message_(std::move(message)) {}

    const std::string& file() const noexcept { return file_; }
    int line() const noexcept { return line_; }
    int column() const noexcept { return column_; }
    const std::string& key() const noexcept { return key_; }
    const std::string& message() const noexcept { return message_; }

    /// `FILE:LINE:COL: KEY: MESSAGE`, leaving out the parts that are unknown.
    static std::string format(const std::string& file, int line, int column, const std::string& key,
                              const std::string& message) {
        std::string out = file;
        if (line > 0) {
            out += ':' + std::to_string(line);
            if (column > 0) out += ':' + std::to_string(column);
        }
        out += ": ";
        if (!key.empty()) out += key + ": ";
        out += message;
        return out;
    }

private:
    std::string file_;
    int line_;
    int column_;
    std::string key_;
    std::string message_;
};

} // namespace sluice::config

#endif

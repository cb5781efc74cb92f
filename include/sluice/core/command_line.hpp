#ifndef SLUICE_CORE_COMMAND_LINE_HPP
#define SLUICE_CORE_COMMAND_LINE_HPP

// The command-line options of the apps and tools: `--name value` and `--name=value` alike.
//
//   sluice::core::option_reader args(argc, argv);
//   while (args.next()) {
//       if (args.name() == "--listen") listen = args.value().value_or("");   // nullopt: no value given
//   }

#include <optional>
#include <string>
#include <string_view>

namespace sluice::core {

class option_reader {
public:
    option_reader(int argc, char** argv) noexcept : argc_(argc), argv_(argv) {}

    /// Moves to the next argument; false after the last.
    bool next() noexcept {
        if (++i_ >= argc_) return false;
        name_ = argv_[i_];
        inline_value_.reset();
        if (auto eq = name_.find('='); name_.starts_with("--") && eq != std::string_view::npos) {
            inline_value_ = name_.substr(eq + 1);
            name_ = name_.substr(0, eq);
        }
        return true;
    }

    /// The option as written, without an `=value` part.
    std::string_view name() const noexcept { return name_; }

    /// The option's value: after its `=`, or the next argument (which is then consumed).
    std::optional<std::string> value() {
        if (inline_value_) return std::string(*inline_value_);
        if (i_ + 1 >= argc_) return std::nullopt;
        return std::string(argv_[++i_]);
    }

private:
    int argc_;
    char** argv_;
    int i_ = 0;
    std::string_view name_;
    std::optional<std::string_view> inline_value_;
};

} // namespace sluice::core

#endif

#ifndef SLUICE_TESTS_FUZZ_CHECK_HPP
#define SLUICE_TESTS_FUZZ_CHECK_HPP

// What every fuzz target shares: an invariant check that libFuzzer records as a crash (with
// the input saved as crash-<sha1>), and a stable text form of events to compare runs by.

#include <sluice/core/error.hpp>
#include <sluice/core/event.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

/// Aborts with the broken invariant, where, and what was seen (`detail`, evaluated only then).
#define FUZZ_CHECK(condition, detail)                                                                      \
    do {                                                                                                   \
        if (!(condition)) ::sluice_fuzz::fail(#condition, __FILE__, __LINE__, std::string(detail));       \
    } while (false)

namespace sluice_fuzz {

using namespace sluice;

[[noreturn]] inline void fail(const char* condition, const char* file, int line, const std::string& detail) {
    std::fprintf(stderr, "\n==== invariant broken at %s:%d\n     %s\n     %s\n", file, line, condition, detail.c_str());
    std::fflush(stderr);
    std::abort();
}

/// The input as a string_view.
inline std::string_view bytes_of(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

/// A split point in what follows, read from the input's first two bytes (little-endian), which
/// it consumes: the same bytes then reach the parser cut at a place the fuzzer can steer.
inline std::size_t take_split(std::string_view& input) {
    if (input.size() < 2) return 0;
    const std::size_t raw = std::size_t(std::uint8_t(input[0])) | std::size_t(std::uint8_t(input[1])) << 8;
    input.remove_prefix(2);
    return raw % (input.size() + 1);
}

inline const char* kind_name(core::error_kind k) {
    static constexpr const char* names[] = {"invalid_request", "authentication", "permission", "not_found",
                                            "method_not_allowed", "request_too_large", "rate_limit", "internal",
                                            "upstream", "overloaded", "timeout"};
    return names[std::size_t(k)];
}

/// One event on one line, every field shown, so two runs compare as strings.
inline std::string describe(const core::event& e) {
    std::string out(core::event_name(e));
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, core::message_start>) {
                out += " id=" + x.id + " model=" + x.model;
            } else if constexpr (std::is_same_v<T, core::block_start>) {
                out += " " + std::to_string(x.index) + " " + std::string(core::to_string(x.kind)) + " id=" + x.tool_id +
                       " name=" + x.tool_name;
            } else if constexpr (std::is_same_v<T, core::block_delta>) {
                out += " " + std::to_string(x.index) + " kind=" + std::to_string(int(x.kind)) + " text=" + x.text;
            } else if constexpr (std::is_same_v<T, core::block_stop>) {
                out += " " + std::to_string(x.index);
            } else if constexpr (std::is_same_v<T, core::usage>) {
                out += " " + std::to_string(x.input) + "/" + std::to_string(x.output) + "/" +
                       std::to_string(x.cache_read) + "/" + std::to_string(x.cache_write) + "/" +
                       std::to_string(x.reasoning);
            } else if constexpr (std::is_same_v<T, core::message_stop>) {
                out += " " + std::string(core::to_string(x.finish)) + " seq=" + x.stop_sequence;
            } else {
                out += " " + std::string(kind_name(x.kind)) + " " + x.message + " param=" + x.param + " code=" + x.code;
            }
        },
        e);
    return out;
}

inline std::string describe(const std::vector<core::event>& events) {
    std::string out;
    for (const auto& e : events) out += describe(e) + "\n";
    return out;
}

} // namespace sluice_fuzz

#endif

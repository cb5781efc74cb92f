#ifndef SLUICE_CORE_ENDPOINT_HPP
#define SLUICE_CORE_ENDPOINT_HPP

// What a model serves, as the catalog says it. `chat` covers every text-generation front API
// (/v1/chat/completions, /v1/responses, /v1/messages): each reaches any chat model by translation.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::core {

enum class endpoint : std::uint8_t { chat, embeddings, images, speech, transcription, video };

inline constexpr std::array<std::string_view, 6> endpoint_names{
    "chat", "embeddings", "images", "speech", "transcription", "video"};

constexpr std::string_view to_string(endpoint e) noexcept { return endpoint_names[std::size_t(e)]; }

constexpr std::optional<endpoint> endpoint_from_string(std::string_view s) noexcept {
    for (std::size_t i = 0; i < endpoint_names.size(); ++i)
        if (endpoint_names[i] == s) return endpoint(i);
    return std::nullopt;
}

/// A small set of endpoint kinds, one bit each.
class endpoint_set {
public:
    constexpr endpoint_set() = default;
    constexpr endpoint_set(std::initializer_list<endpoint> es) {
        for (auto e : es) insert(e);
    }
    constexpr void insert(endpoint e) noexcept { bits_ |= std::uint32_t(1) << unsigned(e); }
    constexpr bool contains(endpoint e) const noexcept { return bits_ & (std::uint32_t(1) << unsigned(e)); }
    constexpr bool empty() const noexcept { return bits_ == 0; }
    constexpr std::uint32_t bits() const noexcept { return bits_; }
    friend constexpr bool operator==(endpoint_set, endpoint_set) = default;

private:
    std::uint32_t bits_ = 0;
};

} // namespace sluice::core

#endif

#ifndef SLUICE_CORE_RESULT_HPP
#define SLUICE_CORE_RESULT_HPP

// A value or the reason there is none, std::expected-style (C++23 is not ours yet). Decoders,
// plugin calls and the host answer with it: a bad request or a refused plugin is data, not a throw.

#include <sluice/core/error.hpp>

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace sluice::core {

template <class T, class E = core::error>
class [[nodiscard]] result {
    template <class U>
    static constexpr bool is_value_v = std::is_constructible_v<T, U&&> && !std::is_constructible_v<E, U&&> &&
                                       !std::is_same_v<std::remove_cvref_t<U>, result>;
    template <class U>
    static constexpr bool is_error_v = std::is_constructible_v<E, U&&> && !std::is_constructible_v<T, U&&> &&
                                       !std::is_same_v<std::remove_cvref_t<U>, result>;

public:
    using value_type = T;
    using error_type = E;

    template <class U>
        requires is_value_v<U>
    result(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}

    template <class U>
        requires is_error_v<U>
    result(U&& e) : v_(std::in_place_index<1>, std::forward<U>(e)) {}

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }

    E& error() & { return std::get<1>(v_); }
    const E& error() const& { return std::get<1>(v_); }
    E&& error() && { return std::get<1>(std::move(v_)); }

    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }

    template <class U>
    T value_or(U&& fallback) const& {
        return has_value() ? value() : T(std::forward<U>(fallback));
    }

private:
    std::variant<T, E> v_;
};

/// Success with nothing to return, or the error.
template <class E>
class [[nodiscard]] result<void, E> {
public:
    using value_type = void;
    using error_type = E;

    result() = default;
    template <class U>
        requires std::is_constructible_v<E, U&&>
    result(U&& e) : e_(std::forward<U>(e)) {}

    bool has_value() const noexcept { return !e_; }
    explicit operator bool() const noexcept { return has_value(); }

    E& error() & { return *e_; }
    const E& error() const& { return *e_; }
    E&& error() && { return *std::move(e_); }

private:
    std::optional<E> e_;
};

} // namespace sluice::core

#endif

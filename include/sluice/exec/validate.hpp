#ifndef SLUICE_EXEC_VALIDATE_HPP
#define SLUICE_EXEC_VALIDATE_HPP

// The model's contract from the catalog, checked before any backend is called: a request never
// reaches a backend in a shape it cannot take.

#include <sluice/api/codec.hpp>
#include <sluice/core/catalog.hpp>
#include <sluice/core/envelope.hpp>
#include <sluice/core/result.hpp>

#include <string>
#include <string_view>

namespace sluice::exec {

/// The model, or 404 naming it.
inline core::result<const core::model_entry*> find_model(const core::catalog& catalog, const core::envelope& env) {
    if (const auto* m = catalog.find(env.model)) return m;
    return core::error{core::error_kind::not_found, "The model '" + env.model + "' does not exist", "model",
                       "model_not_found"};
}

namespace detail {

inline bool has_images(const core::envelope& env) {
    for (const auto& msg : env.messages)
        for (const auto& part : msg.content) {
            if (std::holds_alternative<core::image_part>(part)) return true;
            if (const auto* r = std::get_if<core::tool_result_part>(&part))
                for (const auto& inner : r->content)
                    if (std::holds_alternative<core::image_part>(inner)) return true;
        }
    return false;
}

inline bool wants_reasoning(const core::envelope& env) {
    const auto& r = env.reasoning;
    return (r.budget_tokens && *r.budget_tokens > 0) || (r.effort && *r.effort != core::reasoning_effort::none);
}

inline core::error unsupported(const core::model_entry& m, std::string_view what, std::string_view param) {
    return core::error{core::error_kind::invalid_request,
                       "The model '" + m.id + "' does not support " + std::string(what), std::string(param),
                       "unsupported_parameter"};
}

} // namespace detail

/// `params` names the checked fields as the caller's API spells them, so an error names them too.
inline core::result<void> validate_against(const core::envelope& env, const core::model_entry& m,
                                           const api::param_names& params) {
    using core::error_kind;
    const std::string_view max_tokens_param = params.max_tokens;
    if (!m.endpoints.contains(env.endpoint))
        return core::error{error_kind::invalid_request,
                           "The model '" + m.id + "' does not serve " + std::string(core::to_string(env.endpoint)) +
                               " requests",
                           "model", "unsupported_endpoint"};
    if (auto asked = env.sampling.max_output_tokens) {
        if (m.max_output_tokens && *asked > *m.max_output_tokens)
            return core::error{error_kind::invalid_request,
                               std::string(max_tokens_param) + " is " + std::to_string(*asked) + ", but the model '" +
                                   m.id + "' writes at most " + std::to_string(*m.max_output_tokens) + " tokens",
                               std::string(max_tokens_param), "max_tokens_too_large"};
        if (m.context_window && *asked >= *m.context_window)
            return core::error{error_kind::invalid_request,
                               std::string(max_tokens_param) + " is " + std::to_string(*asked) +
                                   ", which leaves no room for input in the model's context window of " +
                                   std::to_string(*m.context_window) + " tokens",
                               std::string(max_tokens_param), "context_length_exceeded"};
    }
    if (!m.supports.tools && !env.tools.empty()) return detail::unsupported(m, "tools", params.tools);
    if (!m.supports.vision && detail::has_images(env)) return detail::unsupported(m, "image inputs", params.images);
    if (!m.supports.reasoning && detail::wants_reasoning(env)) return detail::unsupported(m, "reasoning", params.reasoning);
    if (!m.supports.response_format && !env.response_format.is_null())
        return detail::unsupported(m, "structured output", params.response_format);
    if (env.sampling.n && *env.sampling.n > 1)
        return core::error{error_kind::invalid_request, "n greater than 1 is not supported", "n", "unsupported_parameter"};
    return {};
}

} // namespace sluice::exec

#endif

#ifndef SLUICE_EXEC_VALIDATE_HPP
#define SLUICE_EXEC_VALIDATE_HPP

// The model's contract from the catalog, checked before any backend is called: a request never
// reaches a backend in a shape it cannot take.

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

/// `max_tokens_param` is how the caller's API names the output limit, so the error names it too.
inline core::result<void> validate_against(const core::envelope& env, const core::model_entry& m,
                                           std::string_view max_tokens_param) {
    using core::error_kind;
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
    if (env.sampling.n && *env.sampling.n > 1)
        return core::error{error_kind::invalid_request, "n greater than 1 is not supported", "n", "unsupported_parameter"};
    return {};
}

} // namespace sluice::exec

#endif

#ifndef SLUICE_EXEC_BACKEND_HPP
#define SLUICE_EXEC_BACKEND_HPP

// What serves a catalog model: an upstream reached through a provider plugin, or a kernel plugin
// running the model in this process (the `local` backend). Exactly one of the two is set.

#include <sluice/core/catalog.hpp>
#include <sluice/core/error.hpp>
#include <sluice/exec/upstream.hpp>
#include <sluice/plugin/kernel.hpp>

#include <functional>
#include <optional>
#include <memory>
#include <string>

namespace sluice::exec {

struct backend {
    const upstream* remote = nullptr;         // a provider's upstream
    std::shared_ptr<plugin::kernel> kernel;   // a loaded kernel (the model's own instance)
    std::optional<core::error> unavailable;   // when neither is set, what the caller is told, if known
                                              // (a kernel still loading, or one that failed to)

    explicit operator bool() const noexcept { return remote || kernel; }
};

/// The backend of a catalog model; an empty backend when it has none (its plugin was refused).
using backend_lookup = std::function<backend(const core::model_entry&)>;

} // namespace sluice::exec

#endif

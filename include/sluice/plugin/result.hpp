#ifndef SLUICE_PLUGIN_RESULT_HPP
#define SLUICE_PLUGIN_RESULT_HPP

// Plugin calls answer with core::result; the name is kept here for plugin code.

#include <sluice/core/result.hpp>

namespace sluice::plugin {
using core::result;
} // namespace sluice::plugin

#endif

#ifndef SLUICE_PLUGIN_ABI_HPP
#define SLUICE_PLUGIN_ABI_HPP

// The plugin ABI version, and the extern "C" functions through which every plugin states it.
//
// The host reads these before it imports anything else from a library: a plugin built against
// other interfaces is refused with one log line instead of crashing on a foreign vtable.
//
// When to bump (edit both macros below, and say so in docs/plugins.md):
//   MAJOR  any change to a vtable (a virtual added, removed, reordered or re-typed in
//          provider.hpp or kernel.hpp) or to a type that crosses the boundary (core::envelope,
//          core::event and what they hold, provider_config, upstream_request, kernel_config,
//          kernel_info, kernel_load, the factory signatures). Reset MINOR to 0.
//   MINOR  additions an older host can ignore: a new exported extern "C" function, a new
//          plugin kind, a new entry in an options object. The host accepts a plugin whose minor
//          is older than or equal to its own, never a newer one (it may rely on what we lack).
// Types cross the boundary as C++ (std::string, std::vector, boost::json): host and plugins
// must be built with the same compiler family, standard library and Boost version.

#include <boost/config.hpp>

#include <cstdint>
#include <string>

#define SLUICE_PLUGIN_ABI_MAJOR 2
#define SLUICE_PLUGIN_ABI_MINOR 0

extern "C" {
/// Plain C, so the host can read it from any plugin, however that plugin was built.
struct sluice_plugin_abi_version {
    std::uint32_t major;
    std::uint32_t minor;
};
}

namespace sluice::plugin {

using abi_version = ::sluice_plugin_abi_version;

/// The ABI this host (or this plugin, when compiled into one) was built against.
inline constexpr abi_version host_abi{SLUICE_PLUGIN_ABI_MAJOR, SLUICE_PLUGIN_ABI_MINOR};

/// Same major, and a minor no newer than the host's.
constexpr bool abi_compatible(abi_version host, abi_version plugin) noexcept {
    return plugin.major == host.major && plugin.minor <= host.minor;
}

inline std::string to_string(abi_version v) { return std::to_string(v.major) + "." + std::to_string(v.minor); }

/// Plugin kinds, as sluice_plugin_kind() names them.
inline constexpr const char* provider_kind = "provider";
inline constexpr const char* kernel_kind = "kernel";

/// The exported names. The first four are extern "C" functions; the factories are
/// BOOST_DLL_ALIAS names, imported only after the ABI check.
namespace symbol {
inline constexpr const char* abi = "sluice_plugin_abi";         // sluice_plugin_abi_version () noexcept
inline constexpr const char* kind = "sluice_plugin_kind";       // const char* () noexcept
inline constexpr const char* name = "sluice_plugin_name";       // const char* () noexcept
inline constexpr const char* version = "sluice_plugin_version"; // const char* () noexcept
inline constexpr const char* create_provider = "sluice_create_provider";
inline constexpr const char* create_kernel = "sluice_create_kernel";
} // namespace symbol

} // namespace sluice::plugin

/// Exports the four extern "C" functions that identify a plugin. SLUICE_PROVIDER_PLUGIN and
/// SLUICE_KERNEL_PLUGIN use it; call it yourself only for a plugin kind of your own.
#define SLUICE_PLUGIN_EXPORT_ABI(KIND, NAME, VERSION)                                                   \
    extern "C" BOOST_SYMBOL_EXPORT sluice_plugin_abi_version sluice_plugin_abi() noexcept {             \
        return {SLUICE_PLUGIN_ABI_MAJOR, SLUICE_PLUGIN_ABI_MINOR};                                       \
    }                                                                                                   \
    extern "C" BOOST_SYMBOL_EXPORT const char* sluice_plugin_kind() noexcept { return KIND; }          \
    extern "C" BOOST_SYMBOL_EXPORT const char* sluice_plugin_name() noexcept { return NAME; }          \
    extern "C" BOOST_SYMBOL_EXPORT const char* sluice_plugin_version() noexcept { return VERSION; }

#endif

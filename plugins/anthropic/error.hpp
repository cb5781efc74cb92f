#ifndef SLUICE_PLUGINS_ANTHROPIC_ERROR_HPP
#define SLUICE_PLUGINS_ANTHROPIC_ERROR_HPP

// Anthropic's errors, `{"type":"error","error":{"type","message"},"request_id"}`, as canonical
// errors. The message starts with "anthropic upstream" so a client can tell the failure came
// from the upstream and not from the gateway; Anthropic's own error type follows in brackets.

#include <sluice/core/error.hpp>

#include <boost/json/object.hpp>

#include <optional>
#include <string_view>

namespace sluice::anthropic {

/// The kind for one of Anthropic's error types; nullopt for a type this plugin does not know.
/// Types that mean the gateway's own account is at fault (billing_error) map to upstream, so
/// the executor may fail over instead of blaming the client.
std::optional<core::error_kind> kind_for_error_type(std::string_view type) noexcept;

/// The kind for an HTTP status when the body names no known type.
core::error_kind kind_for_status(unsigned status) noexcept;

/// A non-2xx answer: the body's error type decides the kind, else the status does. A body that
/// is not Anthropic's error shape (a proxy's HTML page) is quoted, shortened, in the message.
core::error map_error(unsigned status, std::string_view body);

/// The `error` object of a stream's `event: error` (or of a 200 body whose type is "error").
core::error error_from_object(const boost::json::object& error, std::string_view request_id = {});

} // namespace sluice::anthropic

#endif

#ifndef SLUICE_ROUTING_REQUEST_TEXT_HPP
#define SLUICE_ROUTING_REQUEST_TEXT_HPP

// What of a request the router reads: the system text and the latest user text. Earlier turns
// are left out on purpose: a conversation that moves from billing to code should follow it.

#include <sluice/core/envelope.hpp>

#include <string>

namespace sluice::routing {

/// The system text, a blank line, and the text of the latest user message that has any (a user
/// turn holding only tool results, as agents send, is passed over).
inline std::string routing_text(const core::envelope& env) {
    std::string out = env.system_text();
    for (auto it = env.messages.rbegin(); it != env.messages.rend(); ++it) {
        if (it->role != core::role::user) continue;
        auto text = core::text_of(it->content);
        if (text.empty()) continue;
        if (!out.empty()) out += "\n\n";
        out += text;
        break;
    }
    return out;
}

} // namespace sluice::routing

#endif

#include "response.hpp"

#include "error.hpp"
#include "native.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <string>

namespace sluice::anthropic {

namespace json = boost::json;

namespace {

core::error malformed(std::string what) {
    return core::error{
        core::error_kind::upstream, "anthropic upstream sent a malformed response body: " + std::move(what), {}, {}};
}

} // namespace

plugin::result<std::vector<core::event>> decode_response(std::string_view body) {
    boost::system::error_code ec;
    const json::value parsed = json::parse(body, ec);
    if (ec) return malformed("not JSON (" + ec.message() + ")");
    const auto* message = parsed.if_object();
    if (!message) return malformed("not a JSON object");

    const auto type = string_at(*message, "type");
    if (type == "error") {
        const auto* inner = object_at(*message, "error");
        return inner ? error_from_object(*inner, string_at(*message, "request_id"))
                     : malformed("an error without an error object");
    }
    if (type != "message") return malformed("type is '" + std::string(type) + "', not 'message'");
    const auto* content_value = message->if_contains("content");
    const auto* content = content_value ? content_value->if_array() : nullptr;
    if (!content) return malformed("no content array");

    std::vector<core::event> out;
    out.reserve(content->size() * 3 + 3);
    out.emplace_back(
        core::message_start{std::string(string_at(*message, "id")), std::string(string_at(*message, "model"))});

    std::uint32_t index = 0;
    bool saw_tool_call = false;
    for (std::size_t i = 0; i < content->size(); ++i) {
        const auto* block = (*content)[i].if_object();
        if (!block) return malformed("content[" + std::to_string(i) + "] is not an object");
        const auto kind = string_at(*block, "type");
        if (kind == "text") {
            out.push_back(core::text_start(index));
            if (auto text = string_at(*block, "text"); !text.empty())
                out.push_back(core::text_delta(index, std::string(text)));
        } else if (kind == "thinking") {
            out.push_back(core::reasoning_start(index));
            if (auto text = string_at(*block, "thinking"); !text.empty())
                out.push_back(core::reasoning_delta(index, std::string(text)));
            if (auto sig = string_at(*block, "signature"); !sig.empty())
                out.push_back(core::signature_delta(index, std::string(sig)));
        } else if (kind == "tool_use") {
            const auto* input = block->if_contains("input");
            out.push_back(core::tool_call_start(index, std::string(string_at(*block, "id")),
                                                std::string(string_at(*block, "name"))));
            out.push_back(core::arguments_delta(index, input && !input->is_null() ? json::serialize(*input) : "{}"));
            saw_tool_call = true;
        } else {
            continue; // redacted_thinking, server_tool_use, web_search_tool_result...: no canonical kind yet
        }
        out.emplace_back(core::block_stop{index});
        ++index;
    }

    if (const auto* u = object_at(*message, "usage")) {
        usage_ledger ledger;
        if (auto used = ledger.advance(usage_totals::read(*u)); !used.empty()) out.emplace_back(used);
    }
    out.emplace_back(core::message_stop{finish_for(string_at(*message, "stop_reason"), saw_tool_call),
                                        std::string(string_at(*message, "stop_sequence"))});
    return out;
}

} // namespace sluice::anthropic

// Fuzz target: api::decode_messages_request and api::decode_count_tokens_request.
//
// Invariants: each decoder gives a messages envelope with a model, or a 400 with a message.
// count_tokens is the same request with max_tokens optional and stream ignored, so whatever
// /v1/messages takes, /v1/messages/count_tokens takes too, and never as a stream; the
// interleaved-thinking beta only loosens a rule, so what decodes without it decodes with it.
// The token estimate of a counted request is at least the prompt's fixed cost.

#include <sluice/api/messages.hpp>

#include "request_checks.hpp"

namespace {

using namespace sluice;

const api::request_headers no_headers;
const api::request_headers beta_headers{{"anthropic-version", "2023-06-01"},
                                        {"anthropic-beta", "interleaved-thinking-2025-05-14"}};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using sluice_fuzz::check_decoded;
    const auto body = sluice_fuzz::bytes_of(data, size);
    constexpr auto api = core::front_api::messages;

    const auto plain = api::decode_messages_request(body, no_headers);
    const auto* request = check_decoded(plain, api);

    const auto beta = api::decode_messages_request(body, beta_headers);
    const auto* beta_request = check_decoded(beta, api);
    FUZZ_CHECK(!request || beta_request,
               "refused only with the interleaved-thinking beta: " + beta.error().message);

    const auto counted = api::decode_count_tokens_request(body, beta_headers);
    const auto* count_request = check_decoded(counted, api);
    FUZZ_CHECK(!beta_request || count_request,
               "/v1/messages takes it, count_tokens refuses it: " + counted.error().message);
    if (count_request) {
        FUZZ_CHECK(!count_request->stream, "a count_tokens request decoded as a stream");
        FUZZ_CHECK(api::estimate_input_tokens(*count_request) >= api::messages_detail::estimated_prompt_tokens,
                   "an estimate below the prompt's fixed cost");
    }
    return 0;
}

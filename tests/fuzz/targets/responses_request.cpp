// Fuzz target: api::decode_responses_request.
//
// Invariants: any bytes decode to a responses envelope with a model, or to a 400 with a message.

#include <sluice/api/responses.hpp>

#include "request_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sluice;
    const auto decoded = api::decode_responses_request(sluice_fuzz::bytes_of(data, size), {});
    sluice_fuzz::check_decoded(decoded, core::front_api::responses);
    return 0;
}

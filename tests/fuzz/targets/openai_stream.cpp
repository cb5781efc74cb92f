// Fuzz target: the openai provider's stream decoder (plugins/openai/stream.hpp), built as the
// provider's make_stream_decoder builds it. Invariants: stream_checks.hpp.

#include "openai/stream.hpp"

#include "stream_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    sluice_fuzz::check_stream_decoder(sluice_fuzz::bytes_of(data, size), [] {
        return sluice::providers::openai::chat_stream_decoder("gpt-fuzz");
    });
    return 0;
}

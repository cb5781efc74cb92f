// Fuzz target: the anthropic provider's stream decoder (plugins/anthropic/stream.hpp).
// Invariants: stream_checks.hpp.

#include "anthropic/stream.hpp"

// The decoder's two sources compiled into this one translation unit: one compile, no library.
#include "anthropic/error.cpp"
#include "anthropic/stream.cpp"

#include "stream_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    sluice_fuzz::check_stream_decoder(sluice_fuzz::bytes_of(data, size),
                                      [] { return sluice::anthropic::stream_decoder(); });
    return 0;
}

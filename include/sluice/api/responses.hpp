#ifndef SLUICE_API_RESPONSES_HPP
#define SLUICE_API_RESPONSES_HPP

// The OpenAI Responses front API (POST /v1/responses):
//   decode_responses_request   body -> envelope                       (responses_decode.hpp)
//   encode_responses_body      aggregate -> the Response object       (responses_encode.hpp)
//   responses_stream_encoder   events -> named SSE events             (responses_stream.hpp)
//   responses_echo             what a Response repeats of its request (responses_encode.hpp)

#include <sluice/api/responses_decode.hpp>
#include <sluice/api/responses_encode.hpp>
#include <sluice/api/responses_stream.hpp>

#endif

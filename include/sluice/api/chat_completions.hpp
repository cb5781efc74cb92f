#ifndef SLUICE_API_CHAT_COMPLETIONS_HPP
#define SLUICE_API_CHAT_COMPLETIONS_HPP

// The OpenAI Chat Completions front API (POST /v1/chat/completions), the codec shape of codec.hpp:
//   core::result<core::envelope> decode_chat_completions_request(body, headers);   // _decode.hpp
//   std::string encode_chat_completions_body(aggregate, context);                  // _encode.hpp
//   class chat_completions_stream_encoder { add(event, frames) };                  // _encode.hpp
// with the message readers in _messages.hpp and the JSON reading and writing in _json.hpp.

#include <sluice/api/chat_completions_decode.hpp>
#include <sluice/api/chat_completions_encode.hpp>

#endif

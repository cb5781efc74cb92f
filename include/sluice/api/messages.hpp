#ifndef SLUICE_API_MESSAGES_HPP
#define SLUICE_API_MESSAGES_HPP

// The Anthropic Messages front API (what Claude Code and @anthropic-ai/sdk speak):
//   messages_decode.hpp        POST /v1/messages and /v1/messages/count_tokens -> envelope
//   messages_content.hpp       its content blocks -> content parts
//   messages_encode.hpp        the folded answer -> the JSON body
//   messages_stream.hpp        canonical events -> named SSE events
//   messages_count_tokens.hpp  {"input_tokens": N} and an estimate of N without a tokenizer
// Errors use core::anthropic_error_body with core::anthropic_http_status.

#include <sluice/api/messages_count_tokens.hpp>
#include <sluice/api/messages_decode.hpp>
#include <sluice/api/messages_encode.hpp>
#include <sluice/api/messages_stream.hpp>

#endif

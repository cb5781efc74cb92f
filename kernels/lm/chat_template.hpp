#pragma once
// Chat prompts from a model's tokenizer.chat_template. The template is not run as Jinja: its family
// is recognised by its markers, as llama.cpp's llm_chat_detect_template does, and rendered here.

#include "gguf.hpp"

#include <span>
#include <string>
#include <string_view>

namespace sluice::lm {

struct chat_message {
    std::string role;
    std::string content;
};

enum class chat_family { chatml, llama2, llama3, zephyr, gemma };

/// The family of a template text: ChatML (<|im_start|>), Llama-2 ([INST]), Llama-3
/// (<|start_header_id|>), Zephyr (<|user|>), Gemma (<start_of_turn>); anything else is ChatML.
chat_family detect_chat_family(std::string_view chat_template);
std::string_view to_string(chat_family);

/// Renders the messages in the family of the file's tokenizer.chat_template (ChatML without one).
/// Returns the prompt text with special tokens as text: encode it with parse_special=true. The
/// BOS token is not included (the tokenizer's add_bos() says whether to prepend it).
std::string render_chat(const gguf_file&, std::span<const chat_message>, bool add_generation_prompt);

/// The same, for a family chosen by the caller; bos/eos are the texts of those tokens.
std::string render_chat(chat_family, std::span<const chat_message>, bool add_generation_prompt,
                        std::string_view bos = "<s>", std::string_view eos = "</s>");

} // namespace sluice::lm

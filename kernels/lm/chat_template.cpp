// Chat prompt families, written as the templates they stand for render them (Hugging Face
// tokenizer_config.json templates, llama.cpp's llm_chat_apply_template).

#include "chat_template.hpp"

#include <variant>
#include <vector>

namespace sluice::lm {
namespace {

std::string_view trim(std::string_view s) {
    constexpr std::string_view space = " \t\n\r\v\f";
    const auto a = s.find_first_not_of(space);
    if (a == std::string_view::npos) return {};
    return s.substr(a, s.find_last_not_of(space) - a + 1);
}

// Families without a system turn fold system messages into the next user message.
std::vector<chat_message> fold_system(std::span<const chat_message> messages, std::string_view separator) {
    std::vector<chat_message> out;
    std::string system;
    for (const auto& m : messages) {
        if (m.role == "system") {
            if (!system.empty()) system += separator;
            system += m.content;
            continue;
        }
        out.push_back(m);
        if (!system.empty() && m.role == "user") {
            out.back().content = system + std::string(separator) + m.content;
            system.clear();
        }
    }
    if (!system.empty()) out.push_back({"user", system});
    return out;
}

std::string token_text(const gguf_file& f, std::string_view key, std::string fallback) {
    const auto* tokens = f.find("tokenizer.ggml.tokens");
    const auto* list = tokens ? std::get_if<std::vector<std::string>>(tokens) : nullptr;
    const auto id = f.get_uint(key, ~std::uint64_t{0});
    if (!list || id >= list->size()) return fallback;
    return (*list)[static_cast<std::size_t>(id)];
}

} // namespace

chat_family detect_chat_family(std::string_view t) {
    const auto has = [t](std::string_view marker) { return t.find(marker) != std::string_view::npos; };
    if (has("<|im_start|>")) return chat_family::chatml;
    if (has("<|start_header_id|>")) return chat_family::llama3;
    if (has("[INST]")) return chat_family::llama2;
    if (has("<start_of_turn>")) return chat_family::gemma;
    if (has("<|user|>")) return chat_family::zephyr;
    return chat_family::chatml;
}

std::string_view to_string(chat_family f) {
    switch (f) {
    case chat_family::chatml: return "chatml";
    case chat_family::llama2: return "llama2";
    case chat_family::llama3: return "llama3";
    case chat_family::zephyr: return "zephyr";
    case chat_family::gemma: return "gemma";
    }
    return "chatml";
}

std::string render_chat(chat_family family, std::span<const chat_message> messages, bool add_generation_prompt,
                        std::string_view bos, std::string_view eos) {
    std::string out;
    switch (family) {
    case chat_family::chatml:
        for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
        if (add_generation_prompt) out += "<|im_start|>assistant\n";
        break;
    case chat_family::llama3:
        for (const auto& m : messages) {
            out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n";
            out += trim(m.content);
            out += "<|eot_id|>";
        }
        if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
        break;
    case chat_family::llama2: {
        // [INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] ...
        // The first BOS is the tokenizer's; a reply ends the prompt-free turn, so no generation prompt.
        std::vector<chat_message> turns;
        std::string system;
        for (const auto& m : messages) {
            if (m.role == "system") system += m.content;
            else turns.push_back(m);
        }
        bool first_user = true;
        for (const auto& m : turns) {
            if (m.role == "user") {
                if (!first_user) out += bos;
                out += "[INST] ";
                if (first_user && !system.empty()) out += "<<SYS>>\n" + system + "\n<</SYS>>\n\n";
                out += trim(m.content);
                out += " [/INST]";
                first_user = false;
            } else {
                out += " ";
                out += trim(m.content);
                out += " ";
                out += eos;
            }
        }
        if (first_user && !system.empty()) out += "[INST] <<SYS>>\n" + system + "\n<</SYS>>\n\n [/INST]";
        break;
    }
    case chat_family::zephyr:
        for (const auto& m : messages) {
            out += "<|" + m.role + "|>\n" + m.content;
            out += eos;
            out += "\n";
        }
        if (add_generation_prompt) out += "<|assistant|>\n";
        break;
    case chat_family::gemma:
        for (const auto& m : fold_system(messages, "\n\n")) {
            out += "<start_of_turn>";
            out += m.role == "assistant" ? "model" : m.role;
            out += "\n";
            out += trim(m.content);
            out += "<end_of_turn>\n";
        }
        if (add_generation_prompt) out += "<start_of_turn>model\n";
        break;
    }
    return out;
}

std::string render_chat(const gguf_file& f, std::span<const chat_message> messages, bool add_generation_prompt) {
    const auto family = detect_chat_family(f.get_string("tokenizer.chat_template", ""));
    return render_chat(family, messages, add_generation_prompt, token_text(f, "tokenizer.ggml.bos_token_id", "<s>"),
                       token_text(f, "tokenizer.ggml.eos_token_id", "</s>"));
}

} // namespace sluice::lm

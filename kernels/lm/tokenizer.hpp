#pragma once
// Tokenizers read from a GGUF file's tokenizer.ggml.* keys, as llama.cpp's llama-vocab.cpp runs them:
//   "gpt2"  byte-level BPE: pre-split by the pre-tokenizer's pattern, bytes mapped to printable
//           code points, pairs merged by rank (tokenizer.ggml.merges);
//   "llama" SentencePiece BPE: spaces become U+2581, pieces merged by score, bytes without a piece
//           become <0xNN> tokens.

#include "gguf.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice::lm {

class tokenizer {
public:
    enum class kind { gpt2, llama };
    /// How a gpt2 tokenizer splits text into words before merging (tokenizer.ggml.pre; without
    /// one, or with llama.cpp's "default", GPT-2's split). Outside ASCII, \p{L} and \p{N} are
    /// approximated by ranges (tokenizer.cpp, unicode_class); "sluice" is byte-exact.
    enum class pre_split { gpt2, sluice, qwen2, llama3, smollm };

    /// Throws format_error for a missing or inconsistent vocabulary or an unknown model/pre-tokenizer.
    static tokenizer from_gguf(const gguf_file&);

    /// Special tokens (control, token type 3) are matched as whole strings when parse_special;
    /// user-defined tokens (type 4) always, as llama.cpp does. No BOS is added: see add_bos().
    std::vector<std::int32_t> encode(std::string_view text, bool parse_special) const;
    /// The text of the tokens: control tokens render as nothing, and for "llama" the space that
    /// encode put in front of the text is taken off again.
    std::string decode(std::span<const std::int32_t>) const;
    /// Bytes of one token (may be a partial UTF-8 sequence); "" for control tokens and bad ids.
    std::string piece(std::int32_t id) const;
    /// The token's text as stored in the vocabulary (control tokens included); "" for a bad id.
    const std::string& text(std::int32_t id) const;
    /// The id of a token by its vocabulary text, or -1.
    std::int32_t find(std::string_view text) const;

    std::int32_t bos() const { return bos_; }
    std::int32_t eos() const { return eos_; }
    bool add_bos() const { return add_bos_; }
    bool is_end_of_generation(std::int32_t id) const; // eos, eot, <|im_end|>, <|endoftext|>, </s>...
    std::size_t size() const { return texts_.size(); }
    kind model() const { return kind_; }

private:
    enum token_type : std::uint8_t { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

    void encode_text(std::string_view text, bool after_special, std::vector<std::int32_t>& out) const;
    void encode_spm(std::string_view text, std::vector<std::int32_t>& out) const;
    void encode_bpe_word(std::string_view word, std::vector<std::int32_t>& out) const;
    std::uint8_t type_of(std::int32_t id) const;

    kind kind_ = kind::gpt2;
    pre_split pre_ = pre_split::gpt2;
    bool add_space_prefix_ = false;
    bool add_bos_ = false;
    std::int32_t bos_ = -1, eos_ = -1, eot_ = -1, unk_ = -1;
    std::vector<std::string> texts_;
    std::vector<float> scores_;
    std::vector<std::uint8_t> types_;
    std::unordered_map<std::string, std::int32_t> ids_;
    std::unordered_map<std::string, std::int32_t> merge_ranks_;          // "left right" -> rank (gpt2)
    std::vector<std::int32_t> byte_tokens_;                              // byte value -> token id or -1
    bool ignore_merges_ = false;                                         // llama3: a whole word in the vocabulary is one token
    std::vector<std::int32_t> specials_;                                 // longest first
    std::vector<std::int32_t> end_of_generation_;
};

/// Holds back the bytes of an incomplete UTF-8 sequence between pieces, so each text delta is
/// valid UTF-8 on its own. Bytes that can never form a character come out as U+FFFD.
class utf8_streamer {
public:
    std::string push(std::string_view piece);
    /// What is still held (an unfinished sequence) as U+FFFD; "" when nothing is.
    std::string flush();

private:
    std::string pending_;
};

} // namespace sluice::lm

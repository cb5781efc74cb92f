#pragma once
// GGUF (v2, v3) model files: a read-only memory map, the metadata the lm kernel needs, and the
// tensors of the types it runs (f32, f16, q8_0). Every read of a hostile file is bounds-checked;
// a bad file is a format_error that names the problem, never a crash or a huge allocation.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sluice::lm {

/// A model file the lm kernel cannot use, with the reason.
class format_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// ggml's tensor type numbers. Only f32, f16 and q8_0 load; the others are known by name for messages.
enum class ggml_type : std::uint32_t { f32 = 0, f16 = 1, q8_0 = 8 };

/// "f32", "q4_K", ... ("type N" for a number ggml does not define).
std::string_view to_string(ggml_type);

/// q8_0 stores blocks of 32 values: one f16 scale, then 32 int8.
inline constexpr std::uint64_t q8_0_block_values = 32;
inline constexpr std::uint64_t q8_0_block_bytes = 34;

struct tensor {
    std::string name;
    ggml_type type;
    std::vector<std::uint64_t> dims; // ggml ne order: dims[0] is the contiguous (fastest) one
    const std::byte* data;           // into the memory map, aligned as the file says
    std::uint64_t bytes;

    std::uint64_t elements() const;
};

/// A metadata value: unsigned and signed integers widen to 64 bits, floats to double, and arrays
/// hold strings, integers (bools included) or floats.
using gguf_value = std::variant<std::uint64_t, std::int64_t, double, bool, std::string,
                                std::vector<std::string>, std::vector<std::int64_t>, std::vector<double>>;

/// An open GGUF file. Move-only: it owns the memory map that tensor::data points into.
class gguf_file {
public:
    /// Maps and checks the file; throws format_error ("not a GGUF file (magic ...)",
    /// "truncated: ...", "unsupported GGUF version 1", "tensor X has unsupported type q4_K",
    /// "unsupported architecture 'mamba' (supported: llama, qwen2)").
    static gguf_file open(const std::filesystem::path& path);

    gguf_file(gguf_file&& other) noexcept;
    gguf_file& operator=(gguf_file&& other) noexcept;
    gguf_file(const gguf_file&) = delete;
    gguf_file& operator=(const gguf_file&) = delete;
    ~gguf_file();

    std::uint32_t version() const { return version_; }
    const std::map<std::string, gguf_value, std::less<>>& metadata() const { return metadata_; }

    const gguf_value* find(std::string_view key) const;
    /// Throw format_error "missing key K", or "key K is not an unsigned integer" (and so on).
    std::uint64_t get_uint(std::string_view key) const;
    std::uint64_t get_uint(std::string_view key, std::uint64_t fallback) const;
    double get_float(std::string_view key) const;
    double get_float(std::string_view key, double fallback) const;
    std::string get_string(std::string_view key) const;
    std::string get_string(std::string_view key, std::string fallback) const;
    bool get_bool(std::string_view key, bool fallback) const;

    const tensor* find_tensor(std::string_view name) const;
    /// Throws format_error "missing tensor X".
    const tensor& get_tensor(std::string_view name) const;
    const std::vector<tensor>& tensors() const { return tensors_; }

    /// general.architecture
    std::string architecture() const;

private:
    gguf_file() = default;
    void parse();
    void release() noexcept;

    const std::byte* map_ = nullptr;
    std::uint64_t size_ = 0;
    std::uint32_t version_ = 0;
    std::map<std::string, gguf_value, std::less<>> metadata_;
    std::vector<tensor> tensors_;
    std::map<std::string, std::size_t, std::less<>> tensor_index_;
};

/// Hyper-parameters read from "<arch>.*" keys, checked against each other and the tensors' shapes.
struct llama_hparams {
    std::string arch; // "llama" or "qwen2"
    std::uint32_t vocab, dim, layers, ffn, heads, kv_heads, head_dim, context, rope_dims;
    double rope_base, rms_eps;
    bool rope_neox;   // qwen2: true (rotate halves); llama: false (adjacent pairs)
    bool tied_output; // no output.weight: use token_embd.weight
    bool qkv_bias;    // qwen2 has attn_q.bias etc.
};

/// Throws format_error naming the key or tensor at fault.
llama_hparams read_hparams(const gguf_file&);

} // namespace sluice::lm

#ifndef SLUICE_KERNELS_LM_WEIGHTS_HPP
#define SLUICE_KERNELS_LM_WEIGHTS_HPP

// What the forward pass needs of a model: its shape and views of its weight matrices. Plain
// values with no Thrust and no GGUF, so the ops and their tests can build weights in memory and
// the loader (loader.cpp) fills the same struct from a memory-mapped GGUF file.

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::lm {

/// Weight encodings the ops read; the values are ggml's type ids.
enum class weight_type : std::uint32_t { f32 = 0, f16 = 1, q8_0 = 8 };

/// A row-major matrix `rows` x `cols` (ggml: ne[1] x ne[0]); a vector is one row. Q8_0 rows are
/// cols / 32 blocks of 34 bytes. `data` is host memory (the mmap); the CUDA build copies it.
struct weight_view {
    weight_type type = weight_type::f32;
    std::uint32_t rows = 0;
    std::uint32_t cols = 0;
    const void* data = nullptr;

    bool empty() const noexcept { return data == nullptr; }
    std::uint64_t bytes() const noexcept {
        const std::uint64_t n = std::uint64_t(rows) * cols;
        switch (type) {
        case weight_type::f32: return n * 4;
        case weight_type::f16: return n * 2;
        case weight_type::q8_0: return n / 32 * 34;
        }
        return 0;
    }
};

/// The llama family's hyper-parameters (llama, qwen2: RMSNorm, RoPE, SwiGLU, grouped-query attention).
struct model_config {
    std::string arch = "llama";
    std::uint32_t vocab = 0, dim = 0, layers = 0, ffn = 0, heads = 0, kv_heads = 0, head_dim = 0;
    std::uint32_t context = 0, rope_dims = 0;
    float rope_base = 10000.f;
    float rms_eps = 1e-5f;
    bool rope_neox = false; // rotate halves (qwen2, neox) rather than adjacent pairs (llama)
};

struct layer_weights {
    weight_view attn_norm, wq, wk, wv, wo;
    weight_view bq, bk, bv; // qwen2's biases; empty for llama
    weight_view ffn_norm, gate, up, down;
};

struct model_weights {
    model_config config;
    weight_view token_embd;
    weight_view output_norm;
    weight_view output; // token_embd when the output is tied
    std::vector<layer_weights> layers;
};

} // namespace sluice::lm

#endif

#ifndef SLUICE_KERNELS_LM_MODEL_HPP
#define SLUICE_KERNELS_LM_MODEL_HPP

// The forward pass of a llama-family model over a paged KV cache: the plain C++ face of the
// Thrust code in model.cpp. Two libraries implement it from the same source, sluice_lm_cpu (g++,
// Thrust OMP, hand-vectorised matmul) and sluice_lm_cuda (nvcc); a program links one of them.

#include "weights.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace sluice::lm {

/// One step's tokens, from any number of sequences (prefill chunks and decode tokens mixed).
/// Token t of the batch sits at positions[t] of its sequence, whose block table starts at
/// tables[table_offset[t]]; its K and V go to that table's slot for the position, and it
/// attends to every position up to its own.
struct forward_batch {
    std::vector<std::int32_t> tokens;
    std::vector<std::uint32_t> positions;
    std::vector<std::uint32_t> table_offset;
    std::vector<std::uint32_t> tables;     // the batch's block tables, back to back
    std::vector<std::uint32_t> logit_rows; // the tokens whose next-token logits are wanted

    void clear() {
        tokens.clear();
        positions.clear();
        table_offset.clear();
        tables.clear();
        logit_rows.clear();
    }
};

class model {
public:
    /// Takes views of the weights (which must outlive the model on the CPU build; the CUDA build
    /// copies them) and allocates a KV cache of `kv_blocks` blocks of `block_size` tokens.
    /// Throws std::invalid_argument on inconsistent shapes, std::bad_alloc when memory runs out.
    model(const model_weights& weights, std::uint32_t kv_blocks, std::uint32_t block_size, unsigned threads);
    ~model();
    model(const model&) = delete;
    model& operator=(const model&) = delete;

    const model_config& config() const noexcept;
    std::uint32_t kv_blocks() const noexcept;
    std::uint32_t block_size() const noexcept;
    unsigned threads() const noexcept;

    /// Runs the batch; `logits` gets logit_rows.size() rows of config().vocab values.
    void forward(const forward_batch& batch, std::vector<float>& logits);

    /// KV cache bytes one block of `block_size` tokens takes (K and V, every layer, float).
    static std::uint64_t kv_block_bytes(const model_config& c, std::uint32_t block_size) noexcept;
    /// "cpu-omp", "cpu" or "cuda"; "+avx2" is added where the CPU matmul runs vectorised.
    static const char* backend() noexcept;

private:
    struct state;
    std::unique_ptr<state> state_;
};

/// The ops one call each, on host arrays: what the parity tests hold against naive loops.
/// The CUDA build copies to the device and back.
namespace host_ops {
/// y = x W^T (+ bias): x is n x w.cols, y is n x w.rows. `vectorised` picks the hand-written CPU
/// path where this build has one (the default in the model), else the Thrust functor.
void matmul(const weight_view& w, const float* x, std::uint32_t n, const float* bias, float* y, bool vectorised,
            unsigned threads = 1);
/// The hand-written CPU matmul on one instruction set, "avx2" or "vnni512" (tests compare them);
/// false, computing nothing, where this build or CPU has no such path.
bool matmul_isa(const weight_view& w, const float* x, std::uint32_t n, const float* bias, float* y, const char* isa,
                unsigned threads = 1);
void rmsnorm(const float* x, const float* gain, std::uint32_t n, std::uint32_t dim, float eps, float* out);
void rope(float* x, const std::uint32_t* positions, std::uint32_t n, std::uint32_t heads, std::uint32_t head_dim,
          std::uint32_t rope_dims, float base, bool neox);
/// Attention of q (n x heads x head_dim) over caches of `rows` rows of kv_heads x head_dim,
/// read through block tables as in forward_batch.
void paged_attention(const float* q, const float* k_cache, const float* v_cache, std::uint32_t cache_rows,
                     const std::vector<std::uint32_t>& tables, const std::vector<std::uint32_t>& table_offset,
                     const std::vector<std::uint32_t>& positions, std::uint32_t heads, std::uint32_t kv_heads,
                     std::uint32_t head_dim, std::uint32_t block_size, float* out);
void softmax(float* x, std::uint32_t rows, std::uint32_t cols);
void swiglu(float* gate, const float* up, std::uint32_t n);
} // namespace host_ops

} // namespace sluice::lm

#endif

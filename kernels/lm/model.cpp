// The forward pass of model.hpp over the functors of ops.hpp. This file is one of the
// translation units that see Thrust: g++ builds it into sluice_lm_cpu, nvcc (through a generated
// .cu) into sluice_lm_cuda. Buffers are thrust::device_vector on both: host memory under OMP,
// GPU memory under CUDA.

#include "model.hpp"

#include "ops.hpp"

#if THRUST_DEVICE_SYSTEM != THRUST_DEVICE_SYSTEM_CUDA
#  include "matmul_cpu.hpp"
#endif

#include <thrust/copy.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/system/cpp/execution_policy.h>

#include <cmath>
#include <initializer_list>
#include <stdexcept>
#include <string>

#if defined(_OPENMP)
#  include <omp.h>
#endif

namespace sluice::lm {
namespace {

using u32 = std::uint32_t;

constexpr bool on_gpu = THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA;

template <class T>
T* raw(thrust::device_vector<T>& v) {
    return thrust::raw_pointer_cast(v.data());
}
template <class T>
const T* raw(const thrust::device_vector<T>& v) {
    return thrust::raw_pointer_cast(v.data());
}

template <class T>
void fit(thrust::device_vector<T>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
}

template <class T>
void upload(thrust::device_vector<T>& dst, const std::vector<T>& src) {
    fit(dst, src.size());
    if (!src.empty()) thrust::copy(src.begin(), src.end(), dst.begin());
}

/// A matrix's dequantised values, as float (norm gains and biases are small; read often).
std::vector<float> to_floats(const weight_view& w) {
    std::vector<float> out(std::size_t(w.rows) * w.cols);
    for (u32 r = 0; r < w.rows; ++r)
        for (u32 c = 0; c < w.cols; ++c) out[std::size_t(r) * w.cols + c] = ops::weight_at(w, r, c);
    return out;
}

void check_shape(const weight_view& w, u32 rows, u32 cols, const char* what) {
    if (w.empty()) throw std::invalid_argument(std::string("lm: missing weight ") + what);
    if (w.rows != rows || w.cols != cols)
        throw std::invalid_argument(std::string("lm: weight ") + what + " is " + std::to_string(w.rows) + "x" +
                                    std::to_string(w.cols) + ", expected " + std::to_string(rows) + "x" +
                                    std::to_string(cols));
    if (w.type == weight_type::q8_0 && cols % 32 != 0)
        throw std::invalid_argument(std::string("lm: Q8_0 weight ") + what + " has a row length not a multiple of 32");
}

} // namespace

struct model::state {
    model_config cfg;
    u32 kv_blocks = 0, block_size = 0;
    unsigned threads = 1;

    // Matrices: views of the mmap on the CPU, of uploaded copies on the GPU.
    std::vector<thrust::device_vector<unsigned char>> owned;
    struct layer {
        weight_view wq, wk, wv, wo, gate, up, down;
        thrust::device_vector<float> attn_norm, ffn_norm, bq, bk, bv;
    };
    std::vector<layer> layers;
    weight_view token_embd, output;
    thrust::device_vector<float> output_norm;

    thrust::device_vector<float> k_cache, v_cache; // layers x rows x kv_dim each

    // Scratch, grown to the largest batch seen.
    thrust::device_vector<float> x, h, q, k, v, att, tmp, gate, up, sel, logits;
    thrust::device_vector<std::int32_t> tokens;
    thrust::device_vector<u32> positions, table_offset, tables, slots, rows;

    weight_view place(const weight_view& w) {
        if (!on_gpu || w.empty()) return w;
        const auto* p = static_cast<const unsigned char*>(w.data);
        owned.emplace_back(p, p + w.bytes());
        weight_view out = w;
        out.data = raw(owned.back());
        return out;
    }

    static thrust::device_vector<float> floats(const weight_view& w) {
        if (w.empty()) return {};
        const auto f = to_floats(w);
        return thrust::device_vector<float>(f.begin(), f.end());
    }

    void matmul(const weight_view& w, const float* in, u32 n, const float* bias, float* out) {
#if THRUST_DEVICE_SYSTEM != THRUST_DEVICE_SYSTEM_CUDA
        cpu::matmul(w, in, n, bias, out, threads);
#else
        ops::launch(thrust::device, std::size_t(n) * w.rows, ops::matmul_fn{w, in, bias, out});
#endif
    }

    /// Matmuls sharing one input: one parallel region on the CPU.
    void matmuls(std::initializer_list<ops::matmul_job> jobs, const float* in, u32 n) {
#if THRUST_DEVICE_SYSTEM != THRUST_DEVICE_SYSTEM_CUDA
        cpu::matmul_group(jobs.begin(), u32(jobs.size()), in, n, threads);
#else
        for (const auto& j : jobs) matmul(j.w, in, n, j.bias, j.y);
#endif
    }

    /// An op of `count` items and about `work` scalar steps: on the GPU always; on the CPU on the
    /// OpenMP team only when large enough to pay for the fork and barrier, else on this thread.
    template <class Fn>
    void run(std::size_t count, std::size_t work, const Fn& fn) {
#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
        (void)work;
        ops::launch(thrust::device, count, fn);
#else
        if (threads > 1 && work >= parallel_work)
            ops::launch(thrust::device, count, fn);
        else
            ops::launch(thrust::cpp::par, count, fn);
#endif
    }
    static constexpr std::size_t parallel_work = std::size_t(1) << 18;
};

model::model(const model_weights& w, std::uint32_t kv_blocks, std::uint32_t block_size, unsigned threads)
    : state_(std::make_unique<state>()) {
    auto& s = *state_;
    const auto& c = w.config;
    if (c.dim == 0 || c.layers == 0 || c.heads == 0 || c.kv_heads == 0 || c.head_dim == 0 || c.vocab == 0)
        throw std::invalid_argument("lm: model shape has a zero dimension");
    if (c.heads % c.kv_heads != 0) throw std::invalid_argument("lm: kv heads do not divide heads");
    if (c.rope_dims == 0 || c.rope_dims > c.head_dim || c.rope_dims % 2 != 0)
        throw std::invalid_argument("lm: rope dimensions must be even and at most the head size");
    if (kv_blocks == 0 || block_size == 0) throw std::invalid_argument("lm: the KV cache needs blocks");
    if (w.layers.size() != c.layers) throw std::invalid_argument("lm: layer count does not match the weights");
    s.cfg = c;
    s.kv_blocks = kv_blocks;
    s.block_size = block_size;
    s.threads = threads ? threads : 1;

    const u32 q_dim = c.heads * c.head_dim, kv_dim = c.kv_heads * c.head_dim;
    check_shape(w.token_embd, c.vocab, c.dim, "token_embd");
    check_shape(w.output, c.vocab, c.dim, "output");
    check_shape(w.output_norm, 1, c.dim, "output_norm");
    s.owned.reserve(w.layers.size() * 7 + 2);
    s.token_embd = s.place(w.token_embd);
    s.output = w.output.data == w.token_embd.data ? s.token_embd : s.place(w.output);
    s.output_norm = state::floats(w.output_norm);
    for (std::size_t i = 0; i < w.layers.size(); ++i) {
        const auto& l = w.layers[i];
        const std::string at = "blk." + std::to_string(i) + ".";
        check_shape(l.attn_norm, 1, c.dim, (at + "attn_norm").c_str());
        check_shape(l.wq, q_dim, c.dim, (at + "attn_q").c_str());
        check_shape(l.wk, kv_dim, c.dim, (at + "attn_k").c_str());
        check_shape(l.wv, kv_dim, c.dim, (at + "attn_v").c_str());
        check_shape(l.wo, c.dim, q_dim, (at + "attn_output").c_str());
        check_shape(l.ffn_norm, 1, c.dim, (at + "ffn_norm").c_str());
        check_shape(l.gate, c.ffn, c.dim, (at + "ffn_gate").c_str());
        check_shape(l.up, c.ffn, c.dim, (at + "ffn_up").c_str());
        check_shape(l.down, c.dim, c.ffn, (at + "ffn_down").c_str());
        if (!l.bq.empty()) check_shape(l.bq, 1, q_dim, (at + "attn_q.bias").c_str());
        if (!l.bk.empty()) check_shape(l.bk, 1, kv_dim, (at + "attn_k.bias").c_str());
        if (!l.bv.empty()) check_shape(l.bv, 1, kv_dim, (at + "attn_v.bias").c_str());
        auto& d = s.layers.emplace_back();
        d.wq = s.place(l.wq);
        d.wk = s.place(l.wk);
        d.wv = s.place(l.wv);
        d.wo = s.place(l.wo);
        d.gate = s.place(l.gate);
        d.up = s.place(l.up);
        d.down = s.place(l.down);
        d.attn_norm = state::floats(l.attn_norm);
        d.ffn_norm = state::floats(l.ffn_norm);
        d.bq = state::floats(l.bq);
        d.bk = state::floats(l.bk);
        d.bv = state::floats(l.bv);
    }
    const std::size_t cache = std::size_t(c.layers) * kv_blocks * block_size * kv_dim;
    s.k_cache.resize(cache);
    s.v_cache.resize(cache);
}

model::~model() = default;

const model_config& model::config() const noexcept { return state_->cfg; }
std::uint32_t model::kv_blocks() const noexcept { return state_->kv_blocks; }
std::uint32_t model::block_size() const noexcept { return state_->block_size; }
unsigned model::threads() const noexcept { return state_->threads; }

std::uint64_t model::kv_block_bytes(const model_config& c, std::uint32_t block_size) noexcept {
    return std::uint64_t(2) * c.layers * block_size * c.kv_heads * c.head_dim * sizeof(float);
}

const char* model::backend() noexcept {
#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
    return kernels::backend_name;
#else
    static const std::string name = std::string(kernels::backend_name) + (cpu::has_avx2() ? "+avx2" : "") +
                                    (cpu::has_vnni512() ? "+avx512vnni" : "");
    return name.c_str();
#endif
}

void model::forward(const forward_batch& b, std::vector<float>& logits) {
    auto& s = *state_;
    const auto& c = s.cfg;
    const u32 n = u32(b.tokens.size());
    const u32 m = u32(b.logit_rows.size());
    logits.assign(std::size_t(m) * c.vocab, 0.f);
    if (n == 0) return;
    if (b.positions.size() != n || b.table_offset.size() != n)
        throw std::invalid_argument("lm: forward batch arrays differ in length");
#if defined(_OPENMP) && THRUST_DEVICE_SYSTEM != THRUST_DEVICE_SYSTEM_CUDA
    omp_set_num_threads(int(s.threads)); // Thrust's OMP loops take the team size from here
#endif
    const u32 q_dim = c.heads * c.head_dim, kv_dim = c.kv_heads * c.head_dim;
    const std::size_t layer_cache = std::size_t(s.kv_blocks) * s.block_size * kv_dim;

    std::vector<u32> slots(n);
    for (u32 t = 0; t < n; ++t) {
        const u32 pos = b.positions[t];
        const std::size_t entry = std::size_t(b.table_offset[t]) + pos / s.block_size;
        if (entry >= b.tables.size() || b.tables[entry] >= s.kv_blocks)
            throw std::invalid_argument("lm: a token's position is outside its block table");
        slots[t] = b.tables[entry] * s.block_size + pos % s.block_size;
    }
    for (auto tok : b.tokens)
        if (tok < 0 || u32(tok) >= c.vocab) throw std::invalid_argument("lm: token id outside the vocabulary");

    upload(s.tokens, b.tokens);
    upload(s.positions, b.positions);
    upload(s.table_offset, b.table_offset);
    upload(s.tables, b.tables);
    upload(s.slots, slots);
    fit(s.x, std::size_t(n) * c.dim);
    fit(s.h, std::size_t(n) * c.dim);
    fit(s.tmp, std::size_t(n) * c.dim);
    fit(s.q, std::size_t(n) * q_dim);
    fit(s.att, std::size_t(n) * q_dim);
    fit(s.k, std::size_t(n) * kv_dim);
    fit(s.v, std::size_t(n) * kv_dim);
    fit(s.gate, std::size_t(n) * c.ffn);
    fit(s.up, std::size_t(n) * c.ffn);

    float* x = raw(s.x);
    float* h = raw(s.h);
    const std::size_t nd = std::size_t(n) * c.dim;
    s.run(nd, nd, ops::embed_fn{s.token_embd, raw(s.tokens), x});

    // Attention reads every earlier position of each token's sequence.
    std::size_t attended = 0;
    for (auto p : b.positions) attended += p + 1;
    const std::size_t attention_work = attended * c.heads * c.head_dim * 2;

    const float scale = 1.f / std::sqrt(float(c.head_dim));
    for (u32 li = 0; li < c.layers; ++li) {
        auto& l = s.layers[li];
        float* kc = raw(s.k_cache) + li * layer_cache;
        float* vc = raw(s.v_cache) + li * layer_cache;

        s.run(n, nd, ops::rmsnorm_fn{x, raw(l.attn_norm), h, c.dim, c.rms_eps});
        s.matmuls({{l.wq, l.bq.empty() ? nullptr : raw(l.bq), raw(s.q)},
                   {l.wk, l.bk.empty() ? nullptr : raw(l.bk), raw(s.k)},
                   {l.wv, l.bv.empty() ? nullptr : raw(l.bv), raw(s.v)}},
                  h, n);
        const std::size_t q_pairs = std::size_t(n) * c.heads * (c.rope_dims / 2);
        const std::size_t k_pairs = std::size_t(n) * c.kv_heads * (c.rope_dims / 2);
        s.run(q_pairs, q_pairs * 16,
              ops::rope_fn{raw(s.q), raw(s.positions), c.heads, c.head_dim, c.rope_dims, c.rope_base, c.rope_neox});
        s.run(k_pairs, k_pairs * 16,
              ops::rope_fn{raw(s.k), raw(s.positions), c.kv_heads, c.head_dim, c.rope_dims, c.rope_base, c.rope_neox});
        s.run(std::size_t(n) * kv_dim, std::size_t(n) * kv_dim,
              ops::kv_write_fn{raw(s.k), raw(s.v), raw(s.slots), kc, vc, kv_dim});
        s.run(std::size_t(n) * c.heads, attention_work,
              ops::paged_attention_fn{raw(s.q), kc, vc, raw(s.tables), raw(s.table_offset), raw(s.positions),
                                      raw(s.att), c.heads, c.kv_heads, c.head_dim, s.block_size, scale});
        s.matmul(l.wo, raw(s.att), n, nullptr, raw(s.tmp));
        s.run(nd, nd, ops::add_fn{x, raw(s.tmp)});

        s.run(n, nd, ops::rmsnorm_fn{x, raw(l.ffn_norm), h, c.dim, c.rms_eps});
        s.matmuls({{l.gate, nullptr, raw(s.gate)}, {l.up, nullptr, raw(s.up)}}, h, n);
        s.run(std::size_t(n) * c.ffn, std::size_t(n) * c.ffn * 8, ops::swiglu_fn{raw(s.gate), raw(s.up)});
        s.matmul(l.down, raw(s.gate), n, nullptr, raw(s.tmp));
        s.run(nd, nd, ops::add_fn{x, raw(s.tmp)});
    }
    if (m == 0) return;

    // Only the rows that sample get the final norm and the (large) output matmul.
    fit(s.sel, std::size_t(m) * c.dim);
    fit(s.logits, std::size_t(m) * c.vocab);
    for (u32 i = 0; i < m; ++i) {
        if (b.logit_rows[i] >= n) throw std::invalid_argument("lm: a logit row is outside the batch");
        thrust::copy(s.x.begin() + std::ptrdiff_t(b.logit_rows[i]) * c.dim,
                     s.x.begin() + std::ptrdiff_t(b.logit_rows[i] + 1) * c.dim, s.h.begin() + std::ptrdiff_t(i) * c.dim);
    }
    s.run(m, std::size_t(m) * c.dim, ops::rmsnorm_fn{h, raw(s.output_norm), raw(s.sel), c.dim, c.rms_eps});
    s.matmul(s.output, raw(s.sel), m, nullptr, raw(s.logits));
    thrust::copy(s.logits.begin(), s.logits.begin() + std::ptrdiff_t(m) * c.vocab, logits.begin());
}

// ---------------------------------------------------------------- host_ops

namespace host_ops {
namespace {

template <class T>
thrust::device_vector<T> dev(const T* p, std::size_t n) {
    return thrust::device_vector<T>(p, p + n);
}
template <class T>
void back(const thrust::device_vector<T>& d, T* p) {
    thrust::copy(d.begin(), d.end(), p);
}

} // namespace

void matmul(const weight_view& w, const float* x, std::uint32_t n, const float* bias, float* y, bool vectorised,
            unsigned threads) {
#if THRUST_DEVICE_SYSTEM != THRUST_DEVICE_SYSTEM_CUDA
    if (vectorised) {
        cpu::matmul(w, x, n, bias, y, threads ? threads : 1);
        return;
    }
#endif
    const auto* p = static_cast<const unsigned char*>(w.data);
    auto wd = dev(p, w.bytes());
    weight_view wv = w;
    wv.data = raw(wd);
    auto xd = dev(x, std::size_t(n) * w.cols);
    thrust::device_vector<float> bd;
    if (bias) bd = dev(bias, w.rows);
    thrust::device_vector<float> yd(std::size_t(n) * w.rows);
    ops::launch(thrust::device, yd.size(), ops::matmul_fn{wv, raw(xd), bias ? raw(bd) : nullptr, raw(yd)});
    back(yd, y);
}

bool matmul_isa(const weight_view& w, const float* x, std::uint32_t n, const float* bias, float* y, const char* isa,
                unsigned threads) {
#if THRUST_DEVICE_SYSTEM != THRUST_DEVICE_SYSTEM_CUDA
    const std::string name = isa;
    cpu::isa use;
    if (name == "avx2" && cpu::has_avx2())
        use = cpu::isa::avx2;
    else if (name == "vnni512" && cpu::has_vnni512())
        use = cpu::isa::vnni512;
    else
        return false;
    cpu::matmul(w, x, n, bias, y, threads ? threads : 1, use);
    return true;
#else
    (void)w, (void)x, (void)n, (void)bias, (void)y, (void)isa, (void)threads;
    return false;
#endif
}

void rmsnorm(const float* x, const float* gain, std::uint32_t n, std::uint32_t dim, float eps, float* out) {
    auto xd = dev(x, std::size_t(n) * dim);
    auto gd = dev(gain, dim);
    thrust::device_vector<float> od(std::size_t(n) * dim);
    ops::launch(thrust::device, n, ops::rmsnorm_fn{raw(xd), raw(gd), raw(od), dim, eps});
    back(od, out);
}

void rope(float* x, const std::uint32_t* positions, std::uint32_t n, std::uint32_t heads, std::uint32_t head_dim,
          std::uint32_t rope_dims, float base, bool neox) {
    auto xd = dev(x, std::size_t(n) * heads * head_dim);
    auto pd = dev(positions, n);
    ops::launch(thrust::device, std::size_t(n) * heads * (rope_dims / 2),
                ops::rope_fn{raw(xd), raw(pd), heads, head_dim, rope_dims, base, neox});
    back(xd, x);
}

void paged_attention(const float* q, const float* k_cache, const float* v_cache, std::uint32_t cache_rows,
                     const std::vector<std::uint32_t>& tables, const std::vector<std::uint32_t>& table_offset,
                     const std::vector<std::uint32_t>& positions, std::uint32_t heads, std::uint32_t kv_heads,
                     std::uint32_t head_dim, std::uint32_t block_size, float* out) {
    const u32 n = u32(positions.size());
    const std::size_t kv = std::size_t(cache_rows) * kv_heads * head_dim;
    auto qd = dev(q, std::size_t(n) * heads * head_dim);
    auto kd = dev(k_cache, kv);
    auto vd = dev(v_cache, kv);
    auto td = dev(tables.data(), tables.size());
    auto od_ = dev(table_offset.data(), table_offset.size());
    auto pd = dev(positions.data(), positions.size());
    thrust::device_vector<float> res(std::size_t(n) * heads * head_dim);
    ops::launch(thrust::device, std::size_t(n) * heads,
                ops::paged_attention_fn{raw(qd), raw(kd), raw(vd), raw(td), raw(od_), raw(pd), raw(res), heads,
                                        kv_heads, head_dim, block_size, 1.f / std::sqrt(float(head_dim))});
    back(res, out);
}

void softmax(float* x, std::uint32_t rows, std::uint32_t cols) {
    auto xd = dev(x, std::size_t(rows) * cols);
    ops::launch(thrust::device, rows, ops::softmax_fn{raw(xd), cols});
    back(xd, x);
}

void swiglu(float* gate, const float* up, std::uint32_t n) {
    auto gd = dev(gate, n);
    auto ud = dev(up, n);
    ops::launch(thrust::device, n, ops::swiglu_fn{raw(gd), raw(ud)});
    back(gd, gate);
}

} // namespace host_ops
} // namespace sluice::lm

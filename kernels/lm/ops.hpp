#ifndef SLUICE_KERNELS_LM_OPS_HPP
#define SLUICE_KERNELS_LM_OPS_HPP

// The lm ops, written once as functors over Thrust: nvcc builds them for CUDA, g++ for the CPU
// (OMP). Each functor computes one independent output (a row, a token, a (token, head) pair),
// so a launch is thrust::for_each over a counting iterator with an explicit policy. Every
// output is computed by the same arithmetic whatever the batch around it, which is what makes
// seeded sampling repeat across batch compositions.

#include <sluice/kernels/backend.hpp>

#include "weights.hpp"

#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace sluice::lm::ops {

using u32 = std::uint32_t;

// ---------------------------------------------------------------- scalar helpers

/// IEEE half to float, by bits (no intrinsics: the same code on host and device).
SLUICE_HD inline float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1fu;
    std::uint32_t mant = h & 0x3ffu;
    std::uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { // subnormal: normalise
            exp = 113;
            while (!(mant & 0x400u)) {
                mant <<= 1;
                --exp;
            }
            bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

/// One Q8_0 block: 32 int8 values sharing an f16 scale (ggml's block_q8_0, 34 bytes).
struct q8_0_block {
    std::uint16_t scale;
    std::int8_t q[32];
};
static_assert(sizeof(q8_0_block) == 34);

/// Element `col` of row `row`, dequantised.
SLUICE_HD inline float weight_at(const weight_view& w, u32 row, u32 col) {
    const auto* base = static_cast<const unsigned char*>(w.data);
    switch (w.type) {
    case weight_type::f32: return reinterpret_cast<const float*>(base)[std::size_t(row) * w.cols + col];
    case weight_type::f16: {
        std::uint16_t h;
        std::memcpy(&h, base + (std::size_t(row) * w.cols + col) * 2, 2);
        return half_to_float(h);
    }
    case weight_type::q8_0: {
        const auto* b = reinterpret_cast<const q8_0_block*>(base + std::size_t(row) * (w.cols / 32) * 34) + col / 32;
        std::uint16_t s;
        std::memcpy(&s, &b->scale, 2);
        return half_to_float(s) * float(b->q[col % 32]);
    }
    }
    return 0.f;
}

/// Row `row` of `w` dot `x`, in a fixed order (Q8_0 sums each block, then scales it, like ggml).
SLUICE_HD inline float row_dot(const weight_view& w, u32 row, const float* x) {
    const auto* base = static_cast<const unsigned char*>(w.data);
    float acc = 0.f;
    switch (w.type) {
    case weight_type::f32: {
        const float* r = reinterpret_cast<const float*>(base) + std::size_t(row) * w.cols;
        for (u32 c = 0; c < w.cols; ++c) acc += r[c] * x[c];
        break;
    }
    case weight_type::f16: {
        const unsigned char* r = base + std::size_t(row) * w.cols * 2;
        for (u32 c = 0; c < w.cols; ++c) {
            std::uint16_t h;
            std::memcpy(&h, r + std::size_t(c) * 2, 2);
            acc += half_to_float(h) * x[c];
        }
        break;
    }
    case weight_type::q8_0: {
        const u32 blocks = w.cols / 32;
        const unsigned char* r = base + std::size_t(row) * blocks * 34;
        for (u32 b = 0; b < blocks; ++b) {
            const unsigned char* blk = r + std::size_t(b) * 34;
            std::uint16_t s;
            std::memcpy(&s, blk, 2);
            const auto* q = reinterpret_cast<const std::int8_t*>(blk + 2);
            float sum = 0.f;
            for (u32 i = 0; i < 32; ++i) sum += float(q[i]) * x[b * 32 + i];
            acc += half_to_float(s) * sum;
        }
        break;
    }
    }
    return acc;
}

// ---------------------------------------------------------------- functors

/// y[t][r] = W[r] . x[t] (+ bias[r]) for index t * rows + r.
struct matmul_fn {
    weight_view w;
    const float* x;    // n x cols
    const float* bias; // rows, or null
    float* y;          // n x rows

    SLUICE_HD void operator()(u32 i) const {
        const u32 t = i / w.rows, r = i % w.rows;
        float v = row_dot(w, r, x + std::size_t(t) * w.cols);
        if (bias) v += bias[r];
        y[std::size_t(t) * w.rows + r] = v;
    }
};

/// Row `t` of the embedding table, dequantised, for index t * dim + c.
struct embed_fn {
    weight_view table;
    const std::int32_t* tokens;
    float* out;

    SLUICE_HD void operator()(u32 i) const {
        const u32 t = i / table.cols, c = i % table.cols;
        out[i] = weight_at(table, u32(tokens[t]), c);
    }
};

/// out[t] = x[t] / rms(x[t]) * gain, one token per index.
struct rmsnorm_fn {
    const float* x;
    const float* gain;
    float* out;
    u32 dim;
    float eps;

    SLUICE_HD void operator()(u32 t) const {
        const float* row = x + std::size_t(t) * dim;
        float ss = 0.f;
        for (u32 c = 0; c < dim; ++c) ss += row[c] * row[c];
        const float scale = 1.f / sqrtf(ss / float(dim) + eps);
        float* o = out + std::size_t(t) * dim;
        for (u32 c = 0; c < dim; ++c) o[c] = row[c] * scale * gain[c];
    }
};

/// Rotates one pair of one head of one token: index (t * heads + h) * (rope_dims / 2) + i.
/// Adjacent pairs (x[2i], x[2i+1]) for llama; halves (x[i], x[i + rope_dims/2]) for neox/qwen2.
struct rope_fn {
    float* x; // n x heads x head_dim
    const std::uint32_t* positions;
    u32 heads, head_dim, rope_dims;
    float base;
    bool neox;

    SLUICE_HD void operator()(u32 idx) const {
        const u32 half = rope_dims / 2;
        const u32 i = idx % half;
        const u32 th = idx / half; // t * heads + h
        const u32 t = th / heads;
        float* v = x + std::size_t(th) * head_dim;
        const float freq = powf(base, -2.f * float(i) / float(rope_dims));
        const float angle = float(positions[t]) * freq;
        const float c = cosf(angle), s = sinf(angle);
        const u32 a = neox ? i : 2 * i;
        const u32 b = neox ? i + half : 2 * i + 1;
        const float x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
    }
};

/// Copies one token's K and V rows into its cache slot: index t * kv_dim + c.
struct kv_write_fn {
    const float* k; // n x kv_dim
    const float* v;
    const std::uint32_t* slots; // cache row of each token
    float* k_cache;             // rows x kv_dim
    float* v_cache;
    u32 kv_dim;

    SLUICE_HD void operator()(u32 i) const {
        const u32 t = i / kv_dim, c = i % kv_dim;
        const std::size_t dst = std::size_t(slots[t]) * kv_dim + c;
        k_cache[dst] = k[i];
        v_cache[dst] = v[i];
    }
};

/// Causal attention of one query head of one token over its sequence's paged cache:
/// index t * heads + h. Positions 0..positions[t] are read through the token's block table
/// (one pass, running max and sum: no scratch the size of the context).
struct paged_attention_fn {
    const float* q; // n x heads x head_dim
    const float* k_cache;
    const float* v_cache;
    const std::uint32_t* tables;       // concatenated block tables
    const std::uint32_t* table_offset; // per token: its sequence's table in `tables`
    const std::uint32_t* positions;
    float* out; // n x heads x head_dim
    u32 heads, kv_heads, head_dim, block_size;
    float scale;

    SLUICE_HD void operator()(u32 idx) const {
        const u32 t = idx / heads, h = idx % heads;
        const u32 kvh = h / (heads / kv_heads);
        const u32 kv_dim = kv_heads * head_dim;
        const float* qv = q + std::size_t(idx) * head_dim;
        float* o = out + std::size_t(idx) * head_dim;
        const std::uint32_t* table = tables + table_offset[t];
        for (u32 d = 0; d < head_dim; ++d) o[d] = 0.f;
        float m = -INFINITY, l = 0.f;
        const u32 last = positions[t];
        for (u32 j = 0; j <= last; ++j) {
            const std::size_t row = std::size_t(table[j / block_size]) * block_size + j % block_size;
            const float* kr = k_cache + row * kv_dim + std::size_t(kvh) * head_dim;
            float s = 0.f;
            for (u32 d = 0; d < head_dim; ++d) s += qv[d] * kr[d];
            s *= scale;
            const float m_new = s > m ? s : m;
            const float carry = expf(m - m_new);
            const float e = expf(s - m_new);
            l = l * carry + e;
            const float* vr = v_cache + row * kv_dim + std::size_t(kvh) * head_dim;
            for (u32 d = 0; d < head_dim; ++d) o[d] = o[d] * carry + e * vr[d];
            m = m_new;
        }
        const float inv = 1.f / l;
        for (u32 d = 0; d < head_dim; ++d) o[d] *= inv;
    }
};

/// gate = silu(gate) * up, elementwise.
struct swiglu_fn {
    float* gate;
    const float* up;

    SLUICE_HD void operator()(u32 i) const {
        const float g = gate[i];
        gate[i] = g / (1.f + expf(-g)) * up[i];
    }
};

/// y += x, elementwise (the residual stream).
struct add_fn {
    float* y;
    const float* x;

    SLUICE_HD void operator()(u32 i) const { y[i] += x[i]; }
};

/// Softmax of one row per index, in place, numerically stable.
struct softmax_fn {
    float* x;
    u32 cols;

    SLUICE_HD void operator()(u32 r) const {
        float* row = x + std::size_t(r) * cols;
        float m = -INFINITY;
        for (u32 c = 0; c < cols; ++c) m = row[c] > m ? row[c] : m;
        float sum = 0.f;
        for (u32 c = 0; c < cols; ++c) {
            row[c] = expf(row[c] - m);
            sum += row[c];
        }
        const float inv = 1.f / sum;
        for (u32 c = 0; c < cols; ++c) row[c] *= inv;
    }
};

/// One matmul of a group sharing an input: y = x W^T (+ bias).
struct matmul_job {
    weight_view w;
    const float* bias; // or null
    float* y;
};

/// Runs `fn` for indices [0, n) under `policy`.
template <class Policy, class Fn>
void launch(const Policy& policy, std::size_t n, const Fn& fn) {
    if (n == 0) return;
    thrust::for_each(policy, thrust::counting_iterator<u32>(0), thrust::counting_iterator<u32>(u32(n)), fn);
}

} // namespace sluice::lm::ops

#endif

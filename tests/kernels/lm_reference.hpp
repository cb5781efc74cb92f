#ifndef SLUICE_TESTS_KERNELS_LM_REFERENCE_HPP
#define SLUICE_TESTS_KERNELS_LM_REFERENCE_HPP

// Plain-loop twins of the lm ops (double accumulation, contiguous KV, no Thrust), random weights
// built in memory in each weight type, and a reference forward pass over them.

#include "weights.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace lm_reference {

using sluice::lm::model_config;
using sluice::lm::model_weights;
using sluice::lm::weight_type;
using sluice::lm::weight_view;

/// IEEE half to float by the formula (independent of the bit tricks in ops.hpp).
inline float half_value(std::uint16_t h) {
    const int sign = (h >> 15) ? -1 : 1;
    const int exp = (h >> 10) & 0x1f;
    const int mant = h & 0x3ff;
    if (exp == 0) return float(sign * std::ldexp(double(mant) / 1024.0, -14));
    if (exp == 31) return mant ? NAN : sign * INFINITY;
    return float(sign * std::ldexp(1.0 + double(mant) / 1024.0, exp - 15));
}

/// Float to half, truncating (values here are small normals or zero).
inline std::uint16_t to_half(float f) {
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    const std::uint16_t sign = std::uint16_t((bits >> 16) & 0x8000u);
    const int exp = int((bits >> 23) & 0xff) - 127 + 15;
    if (exp <= 0) return sign;
    if (exp >= 31) return std::uint16_t(sign | 0x7bffu);
    return std::uint16_t(sign | (exp << 10) | ((bits >> 13) & 0x3ffu));
}

/// A matrix in one weight type; `bytes` owns the encoding that `view()` points at.
struct matrix {
    weight_type type = weight_type::f32;
    std::uint32_t rows = 0, cols = 0;
    std::vector<unsigned char> bytes;

    weight_view view() const { return weight_view{type, rows, cols, bytes.data()}; }

    /// The exact values the encoding stands for.
    float at(std::uint32_t r, std::uint32_t c) const {
        switch (type) {
        case weight_type::f32: {
            float f;
            std::memcpy(&f, bytes.data() + (std::size_t(r) * cols + c) * 4, 4);
            return f;
        }
        case weight_type::f16: {
            std::uint16_t h;
            std::memcpy(&h, bytes.data() + (std::size_t(r) * cols + c) * 2, 2);
            return half_value(h);
        }
        case weight_type::q8_0: {
            const unsigned char* blk = bytes.data() + (std::size_t(r) * (cols / 32) + c / 32) * 34;
            std::uint16_t h;
            std::memcpy(&h, blk, 2);
            return half_value(h) * float(static_cast<std::int8_t>(blk[2 + c % 32]));
        }
        }
        return 0;
    }
};

inline matrix encode(const std::vector<float>& values, std::uint32_t rows, std::uint32_t cols, weight_type type) {
    matrix m{type, rows, cols, {}};
    switch (type) {
    case weight_type::f32:
        m.bytes.resize(values.size() * 4);
        std::memcpy(m.bytes.data(), values.data(), m.bytes.size());
        break;
    case weight_type::f16:
        m.bytes.resize(values.size() * 2);
        for (std::size_t i = 0; i < values.size(); ++i) {
            const auto h = to_half(values[i]);
            std::memcpy(m.bytes.data() + i * 2, &h, 2);
        }
        break;
    case weight_type::q8_0:
        m.bytes.resize(values.size() / 32 * 34);
        for (std::size_t b = 0; b < values.size() / 32; ++b) {
            float amax = 0;
            for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(values[b * 32 + i]));
            const std::uint16_t h = to_half(amax / 127.f);
            const float d = half_value(h);
            unsigned char* blk = m.bytes.data() + b * 34;
            std::memcpy(blk, &h, 2);
            for (int i = 0; i < 32; ++i) {
                const float q = d > 0 ? std::round(values[b * 32 + i] / d) : 0.f;
                blk[2 + i] = static_cast<unsigned char>(static_cast<std::int8_t>(std::clamp(q, -127.f, 127.f)));
            }
        }
        break;
    }
    return m;
}

inline matrix random_matrix(std::mt19937& rng, std::uint32_t rows, std::uint32_t cols, weight_type type,
                            float scale = 0.5f, float offset = 0.f) {
    std::uniform_real_distribution<float> u(-scale, scale);
    std::vector<float> v(std::size_t(rows) * cols);
    for (auto& x : v) x = offset + u(rng);
    return encode(v, rows, cols, type);
}

inline std::vector<float> random_vector(std::mt19937& rng, std::size_t n, float scale = 1.f) {
    std::uniform_real_distribution<float> u(-scale, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

// ---------------------------------------------------------------- ops

inline void matmul(const matrix& w, const float* x, std::uint32_t n, const float* bias, float* y) {
    for (std::uint32_t t = 0; t < n; ++t)
        for (std::uint32_t r = 0; r < w.rows; ++r) {
            double acc = bias ? bias[r] : 0.0;
            for (std::uint32_t c = 0; c < w.cols; ++c) acc += double(w.at(r, c)) * x[std::size_t(t) * w.cols + c];
            y[std::size_t(t) * w.rows + r] = float(acc);
        }
}

/// The CPU's vectorised Q8_0 path: activations quantised per 32 values (scale max|x|/127, rounded
/// to nearest) and multiplied as integers, block scales applied after.
inline void matmul_q8_activations(const matrix& w, const float* x, std::uint32_t n, const float* bias, float* y) {
    const std::uint32_t blocks = w.cols / 32;
    for (std::uint32_t t = 0; t < n; ++t) {
        std::vector<float> xd(blocks);
        std::vector<int> xq(w.cols);
        for (std::uint32_t b = 0; b < blocks; ++b) {
            const float* xb = x + std::size_t(t) * w.cols + b * 32;
            float amax = 0;
            for (int i = 0; i < 32; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
            const float d = amax / 127.f;
            const float inv = d > 0 ? 1.f / d : 0.f;
            xd[b] = d;
            for (int i = 0; i < 32; ++i) xq[b * 32 + i] = int(std::nearbyint(xb[i] * inv));
        }
        for (std::uint32_t r = 0; r < w.rows; ++r) {
            double acc = bias ? bias[r] : 0.0;
            for (std::uint32_t b = 0; b < blocks; ++b) {
                const unsigned char* blk = w.bytes.data() + (std::size_t(r) * blocks + b) * 34;
                std::uint16_t h;
                std::memcpy(&h, blk, 2);
                long sum = 0;
                for (int i = 0; i < 32; ++i) sum += long(static_cast<std::int8_t>(blk[2 + i])) * xq[b * 32 + i];
                acc += double(half_value(h)) * xd[b] * double(sum);
            }
            y[std::size_t(t) * w.rows + r] = float(acc);
        }
    }
}

inline void rmsnorm(const float* x, const float* gain, std::uint32_t n, std::uint32_t dim, float eps, float* out) {
    for (std::uint32_t t = 0; t < n; ++t) {
        double ss = 0;
        for (std::uint32_t c = 0; c < dim; ++c) ss += double(x[t * dim + c]) * x[t * dim + c];
        const double s = 1.0 / std::sqrt(ss / dim + eps);
        for (std::uint32_t c = 0; c < dim; ++c) out[t * dim + c] = float(x[t * dim + c] * s * gain[c]);
    }
}

inline void rope(float* x, const std::uint32_t* pos, std::uint32_t n, std::uint32_t heads, std::uint32_t head_dim,
                 std::uint32_t rope_dims, float base, bool neox) {
    for (std::uint32_t t = 0; t < n; ++t)
        for (std::uint32_t h = 0; h < heads; ++h) {
            float* v = x + (std::size_t(t) * heads + h) * head_dim;
            for (std::uint32_t i = 0; i < rope_dims / 2; ++i) {
                const double theta = pos[t] * std::pow(double(base), -2.0 * i / rope_dims);
                const std::uint32_t a = neox ? i : 2 * i, b = neox ? i + rope_dims / 2 : 2 * i + 1;
                const double x0 = v[a], x1 = v[b];
                v[a] = float(x0 * std::cos(theta) - x1 * std::sin(theta));
                v[b] = float(x0 * std::sin(theta) + x1 * std::cos(theta));
            }
        }
}

/// Causal attention of one query (heads x head_dim) at position `pos` over contiguous K/V rows.
inline void attention(const float* q, const float* k, const float* v, std::uint32_t pos, std::uint32_t heads,
                      std::uint32_t kv_heads, std::uint32_t head_dim, float* out) {
    const std::uint32_t kv_dim = kv_heads * head_dim;
    for (std::uint32_t h = 0; h < heads; ++h) {
        const std::uint32_t kvh = h / (heads / kv_heads);
        std::vector<double> s(pos + 1);
        double m = -INFINITY;
        for (std::uint32_t j = 0; j <= pos; ++j) {
            double d = 0;
            for (std::uint32_t i = 0; i < head_dim; ++i) d += double(q[h * head_dim + i]) * k[j * kv_dim + kvh * head_dim + i];
            s[j] = d / std::sqrt(double(head_dim));
            m = std::max(m, s[j]);
        }
        double sum = 0;
        for (auto& e : s) sum += e = std::exp(e - m);
        for (std::uint32_t i = 0; i < head_dim; ++i) {
            double acc = 0;
            for (std::uint32_t j = 0; j <= pos; ++j) acc += s[j] * v[j * kv_dim + kvh * head_dim + i];
            out[h * head_dim + i] = float(acc / sum);
        }
    }
}

inline void softmax(float* x, std::uint32_t rows, std::uint32_t cols) {
    for (std::uint32_t r = 0; r < rows; ++r) {
        float* row = x + std::size_t(r) * cols;
        double m = -INFINITY, sum = 0;
        for (std::uint32_t c = 0; c < cols; ++c) m = std::max(m, double(row[c]));
        std::vector<double> e(cols);
        for (std::uint32_t c = 0; c < cols; ++c) sum += e[c] = std::exp(row[c] - m);
        for (std::uint32_t c = 0; c < cols; ++c) row[c] = float(e[c] / sum);
    }
}

inline float silu_times(float g, float u) { return float(double(g) / (1.0 + std::exp(-double(g))) * u); }

/// Largest |a - b| over the largest |b|: the normalised error the parity tests bound.
inline double normalised_error(const std::vector<float>& a, const std::vector<float>& b) {
    double diff = 0, scale = 1e-12;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, std::fabs(double(a[i]) - b[i]));
        scale = std::max(scale, std::fabs(double(b[i])));
    }
    return diff / scale;
}

// ---------------------------------------------------------------- a random model

struct random_model {
    model_weights weights;
    std::vector<matrix> store; // owns every encoding the views point at
    matrix embd, out, out_norm;
    struct layer {
        matrix attn_norm, wq, wk, wv, wo, bq, bk, bv, ffn_norm, gate, up, down;
    };
    std::vector<layer> layers;
};

/// A small llama-shaped model with random weights in `type` (norms and biases stay f32).
inline std::unique_ptr<random_model> make_random_model(weight_type type, std::uint32_t seed = 7, bool neox = false,
                                                       bool bias = false, std::uint32_t vocab = 96,
                                                       std::uint32_t context = 512) {
    auto m = std::make_unique<random_model>();
    model_config c;
    c.arch = neox ? "qwen2" : "llama";
    c.vocab = vocab;
    c.dim = 64;
    c.layers = 2;
    c.ffn = 96;
    c.heads = 4;
    c.kv_heads = 2;
    c.head_dim = 16;
    c.context = context;
    c.rope_dims = 16;
    c.rope_base = 10000.f;
    c.rms_eps = 1e-5f;
    c.rope_neox = neox;
    std::mt19937 rng(seed);
    const auto f32 = weight_type::f32;
    const float s = 0.3f;
    m->embd = random_matrix(rng, c.vocab, c.dim, type, 1.f);
    m->out = random_matrix(rng, c.vocab, c.dim, type, s);
    m->out_norm = random_matrix(rng, 1, c.dim, f32, 0.2f, 1.f);
    m->weights.config = c;
    m->weights.token_embd = m->embd.view();
    m->weights.output = m->out.view();
    m->weights.output_norm = m->out_norm.view();
    m->layers.resize(c.layers);
    for (auto& l : m->layers) {
        l.attn_norm = random_matrix(rng, 1, c.dim, f32, 0.2f, 1.f);
        l.wq = random_matrix(rng, c.heads * c.head_dim, c.dim, type, s);
        l.wk = random_matrix(rng, c.kv_heads * c.head_dim, c.dim, type, s);
        l.wv = random_matrix(rng, c.kv_heads * c.head_dim, c.dim, type, s);
        l.wo = random_matrix(rng, c.dim, c.heads * c.head_dim, type, s);
        if (bias) {
            l.bq = random_matrix(rng, 1, c.heads * c.head_dim, f32, 0.2f);
            l.bk = random_matrix(rng, 1, c.kv_heads * c.head_dim, f32, 0.2f);
            l.bv = random_matrix(rng, 1, c.kv_heads * c.head_dim, f32, 0.2f);
        }
        l.ffn_norm = random_matrix(rng, 1, c.dim, f32, 0.2f, 1.f);
        l.gate = random_matrix(rng, c.ffn, c.dim, type, s);
        l.up = random_matrix(rng, c.ffn, c.dim, type, s);
        l.down = random_matrix(rng, c.dim, c.ffn, type, s);
        auto& v = m->weights.layers.emplace_back();
        v.attn_norm = l.attn_norm.view();
        v.wq = l.wq.view();
        v.wk = l.wk.view();
        v.wv = l.wv.view();
        v.wo = l.wo.view();
        if (bias) {
            v.bq = l.bq.view();
            v.bk = l.bk.view();
            v.bv = l.bv.view();
        }
        v.ffn_norm = l.ffn_norm.view();
        v.gate = l.gate.view();
        v.up = l.up.view();
        v.down = l.down.view();
    }
    return m;
}

inline std::vector<float> floats_of(const matrix& m) {
    std::vector<float> v(std::size_t(m.rows) * m.cols);
    for (std::uint32_t r = 0; r < m.rows; ++r)
        for (std::uint32_t c = 0; c < m.cols; ++c) v[std::size_t(r) * m.cols + c] = m.at(r, c);
    return v;
}

/// Logits after every token of `tokens` (tokens.size() x vocab), by plain loops.
inline std::vector<float> reference_forward(const random_model& m, const std::vector<std::int32_t>& tokens) {
    const auto& c = m.weights.config;
    const std::uint32_t n = std::uint32_t(tokens.size());
    const std::uint32_t q_dim = c.heads * c.head_dim, kv_dim = c.kv_heads * c.head_dim;
    std::vector<float> x(std::size_t(n) * c.dim), h(x.size()), tmp(x.size());
    for (std::uint32_t t = 0; t < n; ++t)
        for (std::uint32_t i = 0; i < c.dim; ++i) x[t * c.dim + i] = m.embd.at(std::uint32_t(tokens[t]), i);
    std::vector<std::uint32_t> pos(n);
    for (std::uint32_t t = 0; t < n; ++t) pos[t] = t;
    std::vector<float> q(std::size_t(n) * q_dim), k(std::size_t(n) * kv_dim), v(k.size()), att(q.size());
    std::vector<float> g(std::size_t(n) * c.ffn), u(g.size());
    for (const auto& l : m.layers) {
        const auto gain = floats_of(l.attn_norm);
        rmsnorm(x.data(), gain.data(), n, c.dim, c.rms_eps, h.data());
        const auto bq = l.bq.rows ? floats_of(l.bq) : std::vector<float>();
        const auto bk = l.bk.rows ? floats_of(l.bk) : std::vector<float>();
        const auto bv = l.bv.rows ? floats_of(l.bv) : std::vector<float>();
        matmul(l.wq, h.data(), n, bq.empty() ? nullptr : bq.data(), q.data());
        matmul(l.wk, h.data(), n, bk.empty() ? nullptr : bk.data(), k.data());
        matmul(l.wv, h.data(), n, bv.empty() ? nullptr : bv.data(), v.data());
        rope(q.data(), pos.data(), n, c.heads, c.head_dim, c.rope_dims, c.rope_base, c.rope_neox);
        rope(k.data(), pos.data(), n, c.kv_heads, c.head_dim, c.rope_dims, c.rope_base, c.rope_neox);
        for (std::uint32_t t = 0; t < n; ++t)
            attention(q.data() + t * q_dim, k.data(), v.data(), t, c.heads, c.kv_heads, c.head_dim, att.data() + t * q_dim);
        matmul(l.wo, att.data(), n, nullptr, tmp.data());
        for (std::size_t i = 0; i < x.size(); ++i) x[i] += tmp[i];
        const auto fgain = floats_of(l.ffn_norm);
        rmsnorm(x.data(), fgain.data(), n, c.dim, c.rms_eps, h.data());
        matmul(l.gate, h.data(), n, nullptr, g.data());
        matmul(l.up, h.data(), n, nullptr, u.data());
        for (std::size_t i = 0; i < g.size(); ++i) g[i] = silu_times(g[i], u[i]);
        matmul(l.down, g.data(), n, nullptr, tmp.data());
        for (std::size_t i = 0; i < x.size(); ++i) x[i] += tmp[i];
    }
    const auto ogain = floats_of(m.out_norm);
    rmsnorm(x.data(), ogain.data(), n, c.dim, c.rms_eps, h.data());
    std::vector<float> logits(std::size_t(n) * c.vocab);
    matmul(m.out, h.data(), n, nullptr, logits.data());
    return logits;
}

} // namespace lm_reference

#endif

#ifndef SLUICE_KERNELS_LM_MATMUL_CPU_HPP
#define SLUICE_KERNELS_LM_MATMUL_CPU_HPP

// The CPU matmul: decode time is almost all weight reads, which Thrust's per-element functor
// leaves unvectorised. Rows are split across OpenMP threads; each (row, token) dot product is
// computed alone, in one fixed order, so results do not depend on the batch around them.
// AVX2/FMA/F16C code is picked at run time (__builtin_cpu_supports); elsewhere the scalar
// row_dot of ops.hpp runs, so the library stays portable to any x86-64 or other CPU. With AVX2,
// Q8_0 rows are multiplied with activations quantised to Q8 per token (as llama.cpp does): about
// 0.4 % error per product, for integer multiply-adds at twice the float path's speed.

#include "ops.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDACC__)
#  define SLUICE_LM_X86 1
#  include <immintrin.h>
#endif

namespace sluice::lm::cpu {

using u32 = std::uint32_t;

#if SLUICE_LM_X86

#  define SLUICE_LM_AVX2 __attribute__((target("avx2,fma,f16c")))

SLUICE_LM_AVX2 inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

SLUICE_LM_AVX2 inline float dot_f32(const float* w, const float* x, u32 n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    u32 i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
    float s = hsum(_mm256_add_ps(a0, a1));
    for (; i < n; ++i) s += w[i] * x[i];
    return s;
}

/// Row `w` against T tokens: each weight vector is converted once for all T. Every token's sum
/// runs the same operations in the same order for any T, so its bits do not depend on T.
template <int T>
SLUICE_LM_AVX2 inline void dot_f16_tokens(const std::uint16_t* w, const float* const* x, u32 n, float* out) {
    __m256 a0[T], a1[T];
    for (int k = 0; k < T; ++k) a0[k] = a1[k] = _mm256_setzero_ps();
    u32 i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i)));
        const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i + 8)));
        for (int k = 0; k < T; ++k) {
            a0[k] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[k] + i), a0[k]);
            a1[k] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x[k] + i + 8), a1[k]);
        }
    }
    for (; i + 8 <= n; i += 8) {
        const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i)));
        for (int k = 0; k < T; ++k) a0[k] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[k] + i), a0[k]);
    }
    for (int k = 0; k < T; ++k) {
        float s = hsum(_mm256_add_ps(a0[k], a1[k]));
        for (u32 j = i; j < n; ++j) s += ops::half_to_float(w[j]) * x[k][j];
        out[k] = s;
    }
}

SLUICE_LM_AVX2 inline float dot_f16(const std::uint16_t* w, const float* x, u32 n) {
    float out;
    dot_f16_tokens<1>(w, &x, n, &out);
    return out;
}

SLUICE_LM_AVX2 inline __m256 q8_lane(const std::int8_t* q) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
}

SLUICE_LM_AVX2 inline float dot_q8_0(const unsigned char* w, const float* x, u32 n) {
    __m256 acc = _mm256_setzero_ps();
    const u32 blocks = n / 32;
    for (u32 b = 0; b < blocks; ++b) {
        const unsigned char* blk = w + std::size_t(b) * 34;
        std::uint16_t scale;
        std::memcpy(&scale, blk, 2);
        const auto* q = reinterpret_cast<const std::int8_t*>(blk + 2);
        const float* xb = x + b * 32;
        __m256 s = _mm256_mul_ps(q8_lane(q), _mm256_loadu_ps(xb));
        s = _mm256_fmadd_ps(q8_lane(q + 8), _mm256_loadu_ps(xb + 8), s);
        s = _mm256_fmadd_ps(q8_lane(q + 16), _mm256_loadu_ps(xb + 16), s);
        s = _mm256_fmadd_ps(q8_lane(q + 24), _mm256_loadu_ps(xb + 24), s);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(scale)), s, acc);
    }
    return hsum(acc);
}

/// Activations quantised like Q8_0 weights (a float scale, 32 int8), so a Q8_0 row dot product is
/// integer multiply-adds per block and one float multiply-add: ggml's vec_dot_q8_0_q8_0.
struct q8_activation {
    float scale;
    std::int8_t q[32];
};

/// Quantises one token's `cols` values (a multiple of 32): scale = max|x| / 127, q = round(x / scale).
inline void quantize_activations(const float* x, u32 cols, q8_activation* out) {
    for (u32 b = 0; b < cols / 32; ++b) {
        const float* xb = x + b * 32;
        float amax = 0.f;
        for (u32 i = 0; i < 32; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
        const float d = amax / 127.f;
        const float inv = d > 0.f ? 1.f / d : 0.f;
        out[b].scale = d;
        for (u32 i = 0; i < 32; ++i) out[b].q[i] = static_cast<std::int8_t>(std::nearbyint(xb[i] * inv));
    }
}

/// Row `w` against T tokens' quantised activations: each weight block is loaded and split into
/// magnitude and sign once for all T; per token, the same operations in the same order for any T.
template <int T>
SLUICE_LM_AVX2 inline void dot_q8_0_tokens(const unsigned char* w, const q8_activation* const* x, u32 blocks,
                                           float* out) {
    __m256 acc[T];
    for (int k = 0; k < T; ++k) acc[k] = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    for (u32 b = 0; b < blocks; ++b) {
        const unsigned char* blk = w + std::size_t(b) * 34;
        std::uint16_t scale;
        std::memcpy(&scale, blk, 2);
        const float dw = _cvtsh_ss(scale);
        const __m256i qw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
        // maddubs takes unsigned x signed: move w's sign onto x (|w| <= 128, pair sums fit int16).
        const __m256i magnitude = _mm256_sign_epi8(qw, qw);
        for (int k = 0; k < T; ++k) {
            const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[k][b].q));
            const __m256i products = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(qx, qw));
            const __m256i sums = _mm256_madd_epi16(products, ones);
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x[k][b].scale), _mm256_cvtepi32_ps(sums), acc[k]);
        }
    }
    for (int k = 0; k < T; ++k) out[k] = hsum(acc[k]);
}

SLUICE_LM_AVX2 inline float row_dot_avx2(const weight_view& w, u32 row, const float* x) {
    const auto* base = static_cast<const unsigned char*>(w.data);
    switch (w.type) {
    case weight_type::f32: return dot_f32(reinterpret_cast<const float*>(base) + std::size_t(row) * w.cols, x, w.cols);
    case weight_type::f16:
        return dot_f16(reinterpret_cast<const std::uint16_t*>(base) + std::size_t(row) * w.cols, x, w.cols);
    case weight_type::q8_0: return dot_q8_0(base + std::size_t(row) * (w.cols / 32) * 34, x, w.cols);
    }
    return 0.f;
}

inline bool has_avx2() noexcept {
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                            __builtin_cpu_supports("f16c");
    return yes;
}

#else

inline bool has_avx2() noexcept { return false; }

#endif

using ops::matmul_job;

/// Runs matmuls that share the input x (n tokens) in one parallel region: q, k and v, or gate
/// and up, cost one fork and one barrier instead of three, which matters on a busy machine where
/// each barrier may wait for a descheduled thread.
inline void matmul_group(const matmul_job* jobs, u32 count, const float* x, u32 n, unsigned threads) {
    // Tokens in tiles, rows inside: a tile of activations stays in cache while rows stream by.
    constexpr u32 tile = 16;
    constexpr u32 rows_per_chunk = 16;
    u32 chunks = 0;
    std::uint64_t work = 0;
    for (u32 j = 0; j < count; ++j) {
        chunks += (jobs[j].w.rows + rows_per_chunk - 1) / rows_per_chunk;
        work += std::uint64_t(jobs[j].w.rows) * jobs[j].w.cols * n;
    }
    const bool avx2 = has_avx2();
    (void)avx2;
#if SLUICE_LM_X86
    // Q8_0 weights meet Q8-quantised activations (shared by the group: they have one input).
    std::vector<q8_activation> xq;
    u32 q_blocks = 0;
    for (u32 j = 0; j < count && avx2; ++j)
        if (jobs[j].w.type == weight_type::q8_0) {
            q_blocks = jobs[j].w.cols / 32;
            xq.resize(std::size_t(n) * q_blocks);
            for (u32 t = 0; t < n; ++t) quantize_activations(x + std::size_t(t) * jobs[j].w.cols, jobs[j].w.cols, xq.data() + std::size_t(t) * q_blocks);
            break;
        }
#endif
    // Below ~64k multiply-adds the team costs more than it saves.
    const bool parallel = threads > 1 && chunks > 1 && work >= (1u << 16);
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
    for (u32 chunk = 0; chunk < chunks; ++chunk) {
        u32 j = 0, local = chunk;
        for (;; ++j) {
            const u32 c = (jobs[j].w.rows + rows_per_chunk - 1) / rows_per_chunk;
            if (local < c) break;
            local -= c;
        }
        const weight_view& w = jobs[j].w;
        const float* bias = jobs[j].bias;
        float* y = jobs[j].y;
        const u32 r0 = local * rows_per_chunk;
        const u32 r1 = r0 + rows_per_chunk < w.rows ? r0 + rows_per_chunk : w.rows;
        for (u32 t0 = 0; t0 < n; t0 += tile) {
            const u32 t1 = t0 + tile < n ? t0 + tile : n;
            for (u32 r = r0; r < r1; ++r) {
                const float b = bias ? bias[r] : 0.f;
                u32 t = t0;
#if SLUICE_LM_X86
                // Four tokens at a time share each weight load (same bits as one at a time).
                if (avx2 && w.type == weight_type::q8_0) {
                    const auto* row = static_cast<const unsigned char*>(w.data) + std::size_t(r) * q_blocks * 34;
                    for (; t + 4 <= t1; t += 4) {
                        const q8_activation* xs[4];
                        float v[4];
                        for (int k = 0; k < 4; ++k) xs[k] = xq.data() + std::size_t(t + k) * q_blocks;
                        dot_q8_0_tokens<4>(row, xs, q_blocks, v);
                        for (int k = 0; k < 4; ++k) y[std::size_t(t + k) * w.rows + r] = v[k] + b;
                    }
                    for (; t < t1; ++t) {
                        const q8_activation* xs = xq.data() + std::size_t(t) * q_blocks;
                        float v;
                        dot_q8_0_tokens<1>(row, &xs, q_blocks, &v);
                        y[std::size_t(t) * w.rows + r] = v + b;
                    }
                } else if (avx2 && w.type == weight_type::f16) {
                    const auto* row = static_cast<const std::uint16_t*>(w.data) + std::size_t(r) * w.cols;
                    for (; t + 4 <= t1; t += 4) {
                        const float* xs[4];
                        float v[4];
                        for (int k = 0; k < 4; ++k) xs[k] = x + std::size_t(t + k) * w.cols;
                        dot_f16_tokens<4>(row, xs, w.cols, v);
                        for (int k = 0; k < 4; ++k) y[std::size_t(t + k) * w.rows + r] = v[k] + b;
                    }
                }
#endif
                for (; t < t1; ++t) {
                    const float* xt = x + std::size_t(t) * w.cols;
#if SLUICE_LM_X86
                    const float v = avx2 ? row_dot_avx2(w, r, xt) : ops::row_dot(w, r, xt);
#else
                    const float v = ops::row_dot(w, r, xt);
#endif
                    y[std::size_t(t) * w.rows + r] = v + b;
                }
            }
        }
    }
}

/// y = x W^T (+ bias), n tokens, on `threads` OpenMP threads.
inline void matmul(const weight_view& w, const float* x, u32 n, const float* bias, float* y, unsigned threads) {
    const matmul_job job{w, bias, y};
    matmul_group(&job, 1, x, n, threads);
}

} // namespace sluice::lm::cpu

#endif

#ifndef SLUICE_KERNELS_LM_MATMUL_CPU_HPP
#define SLUICE_KERNELS_LM_MATMUL_CPU_HPP

// The CPU matmul: decode time is almost all weight reads, which Thrust's per-element functor
// leaves unvectorised. Rows are split across OpenMP threads; each (row, token) dot product is
// computed alone, in one fixed order, so results do not depend on the batch around them.
// AVX2/FMA/F16C code is picked at run time (__builtin_cpu_supports); elsewhere the scalar
// row_dot of ops.hpp runs, so the library stays portable to any x86-64 or other CPU. With AVX2,
// Q8_0 rows are multiplied with activations quantised to Q8 per token (as llama.cpp does): about
// 0.4 % error per product, for integer multiply-adds at twice the float path's speed.
// Where AVX-512 VNNI is there too, those Q8_0 products use vpdpbusd (64 multiply-adds an
// instruction), which is what batched decode and prefill are bound by.

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
#  pragma GCC unroll 4
        for (int k = 0; k < T; ++k) {
            const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[k][b].q));
            const __m256i products = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(qx, qw));
            const __m256i sums = _mm256_madd_epi16(products, ones);
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x[k][b].scale), _mm256_cvtepi32_ps(sums), acc[k]);
        }
    }
    for (int k = 0; k < T; ++k) out[k] = hsum(acc[k]);
}

// GCC 12 warns of the "undefined" upper halves inside its own AVX-512 intrinsics.
#  pragma GCC diagnostic push
#  pragma GCC diagnostic ignored "-Wuninitialized"
#  pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// AVX-512 VNNI: vpdpbusd multiplies unsigned by signed bytes into int32 lanes in one
// instruction. Activations are stored biased (x + 128, in 1..255) and the bias comes back off as
// 128 * (sum of w), which the same instruction computes once per weight block for every token.
// Two 32-value blocks fill a 512-bit register; a row with an odd block count gets a zero block.
#  define SLUICE_LM_VNNI512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/// Two blocks of one token's activations in the VNNI layout: 64 biased bytes, then each block's
/// scale repeated over the 8 int32 lanes of its half.
struct q8_pair {
    std::uint8_t u[64];
    float scale[16];
};

/// Quantises one token (`blocks` x 32 values) straight into the VNNI layout: the same values as
/// quantize_activations (max, one division, round to nearest even), sixteen at a time.
SLUICE_LM_VNNI512 inline void quantize_pairs(const float* x, u32 blocks, q8_pair* out) {
    for (u32 p = 0; p < (blocks + 1) / 2; ++p) {
        for (u32 h = 0; h < 2; ++h) {
            const u32 b = 2 * p + h;
            std::uint8_t* u = out[p].u + h * 32;
            if (b >= blocks) {
                std::memset(u, 128, 32);
                _mm256_storeu_ps(out[p].scale + h * 8, _mm256_setzero_ps());
                continue;
            }
            const __m512 v0 = _mm512_loadu_ps(x + b * 32), v1 = _mm512_loadu_ps(x + b * 32 + 16);
            const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
            const float d = amax / 127.f;
            const float inv = d > 0.f ? 1.f / d : 0.f;
            const __m512i bias = _mm512_set1_epi32(128);
            // cvtps rounds in the current mode, as nearbyint does: to nearest even by default.
            const __m512i q0 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v0, _mm512_set1_ps(inv))), bias);
            const __m512i q1 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v1, _mm512_set1_ps(inv))), bias);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(u), _mm512_cvtepi32_epi8(q0));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(u + 16), _mm512_cvtepi32_epi8(q1));
            _mm256_storeu_ps(out[p].scale + h * 8, _mm256_set1_ps(d));
        }
    }
}

/// Row `w` (`blocks` Q8_0 blocks) against T tokens: each pair of weight blocks is loaded, its
/// bias correction and scales made once for all T; per token, the same operations in the same
/// order for any T.
template <int T>
SLUICE_LM_VNNI512 inline void dot_q8_0_vnni(const unsigned char* w, const q8_pair* const* x, u32 blocks, float* out) {
    __m512 acc[T];
    for (int k = 0; k < T; ++k) acc[k] = _mm512_setzero_ps();
    const __m512i bias = _mm512_set1_epi8(char(0x80));
    const __m512i zero = _mm512_setzero_si512();
    const u32 pairs = (blocks + 1) / 2;
    for (u32 p = 0; p < pairs; ++p) {
        const unsigned char* b0 = w + std::size_t(2 * p) * 34;
        const bool second = 2 * p + 1 < blocks;
        std::uint16_t h0, h1 = 0;
        std::memcpy(&h0, b0, 2);
        const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0 + 2));
        __m512i qw = _mm512_zextsi256_si512(lo);
        if (second) {
            std::memcpy(&h1, b0 + 34, 2);
            qw = _mm512_inserti64x4(qw, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0 + 36)), 1);
        }
        // -128 * sum(w) per lane: the start value that takes the bias back off.
        const __m512i start = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, bias, qw));
        const __m128 dh = _mm_cvtph_ps(_mm_cvtsi32_si128(int(h0 | (u32(h1) << 16))));
        const __m512 dw = _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                                                _mm512_zextps128_ps512(dh));
        // Unrolled so the T accumulators stay in registers (-O2 does not unroll by itself).
#  pragma GCC unroll 8
        for (int k = 0; k < T; ++k) {
            const q8_pair& a = x[k][p];
            const __m512i sums = _mm512_dpbusd_epi32(start, _mm512_loadu_si512(a.u), qw);
            const __m512 scale = _mm512_mul_ps(dw, _mm512_loadu_ps(a.scale));
            acc[k] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(sums), acc[k]);
        }
    }
    for (int k = 0; k < T; ++k) out[k] = _mm512_reduce_add_ps(acc[k]);
}

#  pragma GCC diagnostic pop

inline bool has_vnni512() noexcept {
    static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
                            __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                            __builtin_cpu_supports("f16c");
    return yes;
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
inline bool has_vnni512() noexcept { return false; }

#endif

using ops::matmul_job;

/// The instruction sets the CPU matmul can use, best last; `best_isa()` is what this CPU runs.
enum class isa { scalar, avx2, vnni512 };

inline isa best_isa() noexcept {
    return has_vnni512() ? isa::vnni512 : has_avx2() ? isa::avx2 : isa::scalar;
}

/// Runs matmuls that share the input x (n tokens) in one parallel region: q, k and v, or gate
/// and up, cost one fork and one barrier instead of three, which matters on a busy machine where
/// each barrier may wait for a descheduled thread. `use` may name a lesser instruction set than
/// the CPU has (the tests compare them).
inline void matmul_group(const matmul_job* jobs, u32 count, const float* x, u32 n, unsigned threads,
                         isa use = best_isa()) {
    // Tokens in tiles, rows inside: a tile of activations stays in cache while rows stream by,
    // so every token of the tile shares each load of a weight row from memory.
    constexpr u32 tile = 16;
    constexpr u32 rows_per_chunk = 16;
    u32 chunks = 0;
    std::uint64_t work = 0;
    for (u32 j = 0; j < count; ++j) {
        chunks += (jobs[j].w.rows + rows_per_chunk - 1) / rows_per_chunk;
        work += std::uint64_t(jobs[j].w.rows) * jobs[j].w.cols * n;
    }
    if (use == isa::vnni512 && !has_vnni512()) use = isa::avx2;
    if (use == isa::avx2 && !has_avx2()) use = isa::scalar;
    const bool avx2 = use != isa::scalar;
    const bool vnni = use == isa::vnni512;
    (void)avx2;
    (void)vnni;
#if SLUICE_LM_X86
    // Q8_0 weights meet Q8-quantised activations (shared by the group: they have one input).
    // Kept per thread across calls: a decode step would otherwise allocate for every matmul.
    thread_local std::vector<q8_activation> xq;
    thread_local std::vector<q8_pair> xp;
    u32 q_blocks = 0, q_pairs = 0;
    for (u32 j = 0; j < count && avx2; ++j)
        if (jobs[j].w.type == weight_type::q8_0) {
            q_blocks = jobs[j].w.cols / 32;
            q_pairs = (q_blocks + 1) / 2;
            if (vnni) {
                if (xp.size() < std::size_t(n) * q_pairs) xp.resize(std::size_t(n) * q_pairs);
                for (u32 t = 0; t < n; ++t)
                    quantize_pairs(x + std::size_t(t) * jobs[j].w.cols, q_blocks, xp.data() + std::size_t(t) * q_pairs);
            } else {
                if (xq.size() < std::size_t(n) * q_blocks) xq.resize(std::size_t(n) * q_blocks);
                for (u32 t = 0; t < n; ++t)
                    quantize_activations(x + std::size_t(t) * jobs[j].w.cols, jobs[j].w.cols,
                                         xq.data() + std::size_t(t) * q_blocks);
            }
            break;
        }
    const q8_activation* xq_data = xq.data();
    const q8_pair* xp_data = xp.data();
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
                if (vnni && w.type == weight_type::q8_0) {
                    // Up to eight tokens share each weight load; any split gives the same bits.
                    const auto* row = static_cast<const unsigned char*>(w.data) + std::size_t(r) * q_blocks * 34;
                    const q8_pair* xs[8];
                    float v[8];
                    for (; t < t1;) {
                        const u32 k_n = t1 - t >= 8 ? 8 : t1 - t >= 4 ? 4 : t1 - t >= 2 ? 2 : 1;
                        for (u32 k = 0; k < k_n; ++k) xs[k] = xp_data + std::size_t(t + k) * q_pairs;
                        switch (k_n) {
                        case 8: dot_q8_0_vnni<8>(row, xs, q_blocks, v); break;
                        case 4: dot_q8_0_vnni<4>(row, xs, q_blocks, v); break;
                        case 2: dot_q8_0_vnni<2>(row, xs, q_blocks, v); break;
                        default: dot_q8_0_vnni<1>(row, xs, q_blocks, v); break;
                        }
                        for (u32 k = 0; k < k_n; ++k) y[std::size_t(t + k) * w.rows + r] = v[k] + b;
                        t += k_n;
                    }
                } else if (avx2 && w.type == weight_type::q8_0) {
                    // Four tokens at a time share each weight load (same bits as one at a time).
                    const auto* row = static_cast<const unsigned char*>(w.data) + std::size_t(r) * q_blocks * 34;
                    for (; t + 4 <= t1; t += 4) {
                        const q8_activation* xs[4];
                        float v[4];
                        for (int k = 0; k < 4; ++k) xs[k] = xq_data + std::size_t(t + k) * q_blocks;
                        dot_q8_0_tokens<4>(row, xs, q_blocks, v);
                        for (int k = 0; k < 4; ++k) y[std::size_t(t + k) * w.rows + r] = v[k] + b;
                    }
                    for (; t < t1; ++t) {
                        const q8_activation* xs = xq_data + std::size_t(t) * q_blocks;
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
inline void matmul(const weight_view& w, const float* x, u32 n, const float* bias, float* y, unsigned threads,
                   isa use = best_isa()) {
    const matmul_job job{w, bias, y};
    matmul_group(&job, 1, x, n, threads, use);
}

} // namespace sluice::lm::cpu

#endif

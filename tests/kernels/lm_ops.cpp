// Each lm op against its plain-loop twin (lm_reference.hpp), with a normalised-error bound per op,
// and the whole forward pass against a reference forward over the same random weights.

#include "model.hpp"

#include "lm_reference.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <random>

using namespace sluice;
namespace ref = lm_reference;

namespace {

bool has_avx2() { return std::string(lm::model::backend()).find("+avx2") != std::string::npos; }

/// What the forward pass may differ from the float reference by: Q8_0 with AVX2 quantises activations.
double forward_tolerance(lm::weight_type t) { return t == lm::weight_type::q8_0 && has_avx2() ? 8e-2 : 1e-4; }

std::string type_name(lm::weight_type t) {
    return t == lm::weight_type::f32 ? "f32" : t == lm::weight_type::f16 ? "f16" : "q8_0";
}

} // namespace

TEST_CASE("lm matmul matches the naive reference for every weight type", "[lm][ops]") {
    const auto type = GENERATE(lm::weight_type::f32, lm::weight_type::f16, lm::weight_type::q8_0);
    const bool vectorised = GENERATE(true, false);
    // Q8_0 rows are whole 32-value blocks; the float types also get a ragged length for the tails.
    const std::uint32_t cols = GENERATE(96u, 100u);
    if (type == lm::weight_type::q8_0 && cols % 32 != 0) return;
    INFO(type_name(type) << (vectorised ? " vectorised" : " functor") << " cols " << cols);
    std::mt19937 rng(1);
    const std::uint32_t rows = 37, n = 5;
    const auto w = ref::random_matrix(rng, rows, cols, type);
    const auto x = ref::random_vector(rng, std::size_t(n) * cols);
    const auto bias = ref::random_vector(rng, rows);
    std::vector<float> got(std::size_t(n) * rows), want(got.size());
    lm::host_ops::matmul(w.view(), x.data(), n, bias.data(), got.data(), vectorised, 2);
    if (vectorised && type == lm::weight_type::q8_0 && has_avx2()) {
        // The AVX2 path quantises activations too; its twin does the same.
        ref::matmul_q8_activations(w, x.data(), n, bias.data(), want.data());
        CHECK(ref::normalised_error(got, want) < 1e-5);
        ref::matmul(w, x.data(), n, bias.data(), want.data());
        CHECK(ref::normalised_error(got, want) < 2e-2);
    } else {
        ref::matmul(w, x.data(), n, bias.data(), want.data());
        CHECK(ref::normalised_error(got, want) < 1e-5);
    }

    // Each (row, token) value is computed alone: a batch of one gives the same bits.
    std::vector<float> one(rows);
    lm::host_ops::matmul(w.view(), x.data() + 3 * cols, 1, bias.data(), one.data(), vectorised, 1);
    CHECK(std::equal(one.begin(), one.end(), got.begin() + 3 * rows));
}

TEST_CASE("lm Q8_0 matmul agrees on every instruction set this CPU has", "[lm][ops]") {
    const std::string isa = GENERATE(as<std::string>(), "avx2", "vnni512");
    // An odd block count gives the VNNI path a half-empty last pair.
    const std::uint32_t cols = GENERATE(96u, 128u, 576u);
    INFO(isa << " cols " << cols);
    std::mt19937 rng(7);
    // 19 tokens: VNNI takes them 8 + 8 + 2 + 1, AVX2 4 at a time and then one by one.
    const std::uint32_t rows = 45, n = 19;
    const auto w = ref::random_matrix(rng, rows, cols, lm::weight_type::q8_0);
    auto x = ref::random_vector(rng, std::size_t(n) * cols);
    std::fill_n(x.begin() + 5 * cols, cols, 0.f); // a zero token: scale 0
    const auto bias = ref::random_vector(rng, rows);
    std::vector<float> got(std::size_t(n) * rows), want(got.size());
    if (!lm::host_ops::matmul_isa(w.view(), x.data(), n, bias.data(), got.data(), isa.c_str(), 2)) {
        SUCCEED("no " << isa << " here");
        return;
    }
    ref::matmul_q8_activations(w, x.data(), n, bias.data(), want.data());
    CHECK(ref::normalised_error(got, want) < 1e-5);
    // Each token alone gives the bits it got in the batch.
    for (std::uint32_t t = 0; t < n; ++t) {
        std::vector<float> one(rows);
        REQUIRE(lm::host_ops::matmul_isa(w.view(), x.data() + std::size_t(t) * cols, 1, bias.data(), one.data(),
                                         isa.c_str(), 1));
        CHECK(std::equal(one.begin(), one.end(), got.begin() + std::size_t(t) * rows));
    }
}

TEST_CASE("lm rmsnorm matches the naive reference", "[lm][ops]") {
    std::mt19937 rng(2);
    const std::uint32_t n = 3, dim = 70;
    const auto x = ref::random_vector(rng, n * dim, 3.f);
    const auto gain = ref::random_vector(rng, dim);
    std::vector<float> got(n * dim), want(n * dim);
    lm::host_ops::rmsnorm(x.data(), gain.data(), n, dim, 1e-6f, got.data());
    ref::rmsnorm(x.data(), gain.data(), n, dim, 1e-6f, want.data());
    CHECK(ref::normalised_error(got, want) < 1e-5);
}

TEST_CASE("lm rope matches the naive reference in both pair layouts", "[lm][ops]") {
    const bool neox = GENERATE(false, true);
    const std::uint32_t rope_dims = GENERATE(32u, 16u); // all of the head, or part of it
    INFO((neox ? "neox" : "adjacent") << " rope_dims " << rope_dims);
    std::mt19937 rng(3);
    const std::uint32_t n = 4, heads = 3, head_dim = 32;
    auto got = ref::random_vector(rng, n * heads * head_dim);
    auto want = got;
    const std::vector<std::uint32_t> pos{0, 1, 17, 300};
    lm::host_ops::rope(got.data(), pos.data(), n, heads, head_dim, rope_dims, 10000.f, neox);
    ref::rope(want.data(), pos.data(), n, heads, head_dim, rope_dims, 10000.f, neox);
    CHECK(ref::normalised_error(got, want) < 1e-4);
    // Position 0 is the identity.
    auto zero = ref::random_vector(rng, heads * head_dim);
    auto same = zero;
    const std::uint32_t p0 = 0;
    lm::host_ops::rope(same.data(), &p0, 1, heads, head_dim, rope_dims, 10000.f, neox);
    CHECK(same == zero);
}

TEST_CASE("lm paged attention equals contiguous attention", "[lm][ops]") {
    std::mt19937 rng(4);
    const std::uint32_t heads = 4, kv_heads = 2, head_dim = 8, block = 4, kv_dim = kv_heads * head_dim;
    const std::vector<std::uint32_t> lengths{5, 20, 37, 1};
    // Blocks of all sequences scattered over one pool in shuffled order.
    std::uint32_t total_blocks = 0;
    for (auto l : lengths) total_blocks += (l + block - 1) / block;
    std::vector<std::uint32_t> ids(total_blocks);
    std::iota(ids.begin(), ids.end(), 0u);
    std::shuffle(ids.begin(), ids.end(), rng);
    const std::uint32_t rows = total_blocks * block;
    std::vector<float> k_cache(std::size_t(rows) * kv_dim, 1e9f), v_cache(k_cache.size(), 1e9f); // unused rows poison

    std::vector<std::uint32_t> tables, table_offset, positions;
    std::vector<float> q, want;
    std::size_t next = 0;
    for (auto len : lengths) {
        const auto k = ref::random_vector(rng, std::size_t(len) * kv_dim);
        const auto v = ref::random_vector(rng, std::size_t(len) * kv_dim);
        const auto offset = std::uint32_t(tables.size());
        for (std::uint32_t b = 0; b < (len + block - 1) / block; ++b) tables.push_back(ids[next++]);
        for (std::uint32_t j = 0; j < len; ++j) {
            const std::size_t row = std::size_t(tables[offset + j / block]) * block + j % block;
            std::copy_n(k.data() + j * kv_dim, kv_dim, k_cache.data() + row * kv_dim);
            std::copy_n(v.data() + j * kv_dim, kv_dim, v_cache.data() + row * kv_dim);
        }
        // Queries at the last position and at a middle one.
        for (std::uint32_t p : {len - 1, len / 2}) {
            const auto qt = ref::random_vector(rng, heads * head_dim);
            q.insert(q.end(), qt.begin(), qt.end());
            table_offset.push_back(offset);
            positions.push_back(p);
            std::vector<float> o(heads * head_dim);
            ref::attention(qt.data(), k.data(), v.data(), p, heads, kv_heads, head_dim, o.data());
            want.insert(want.end(), o.begin(), o.end());
        }
    }
    std::vector<float> got(want.size());
    lm::host_ops::paged_attention(q.data(), k_cache.data(), v_cache.data(), rows, tables, table_offset, positions,
                                  heads, kv_heads, head_dim, block, got.data());
    CHECK(ref::normalised_error(got, want) < 1e-5);
}

TEST_CASE("lm softmax and swiglu match the naive reference", "[lm][ops]") {
    std::mt19937 rng(5);
    auto got = ref::random_vector(rng, 3 * 50, 20.f);
    auto want = got;
    lm::host_ops::softmax(got.data(), 3, 50);
    ref::softmax(want.data(), 3, 50);
    CHECK(ref::normalised_error(got, want) < 1e-5);

    auto gate = ref::random_vector(rng, 200, 6.f);
    const auto up = ref::random_vector(rng, 200, 2.f);
    std::vector<float> expect(200);
    for (std::size_t i = 0; i < 200; ++i) expect[i] = ref::silu_times(gate[i], up[i]);
    lm::host_ops::swiglu(gate.data(), up.data(), 200);
    CHECK(ref::normalised_error(gate, expect) < 1e-5);
}

namespace {

/// One sequence's logits for every prompt token, prefilled in one step through a scattered block table.
std::vector<float> model_prefill(lm::model& m, const std::vector<std::int32_t>& tokens, std::vector<std::uint32_t> blocks) {
    lm::forward_batch b;
    b.tables = std::move(blocks);
    for (std::uint32_t t = 0; t < tokens.size(); ++t) {
        b.tokens.push_back(tokens[t]);
        b.positions.push_back(t);
        b.table_offset.push_back(0);
        b.logit_rows.push_back(t);
    }
    std::vector<float> logits;
    m.forward(b, logits);
    return logits;
}

} // namespace

TEST_CASE("lm forward matches the reference forward for every weight type", "[lm][ops][model]") {
    const auto type = GENERATE(lm::weight_type::f32, lm::weight_type::f16, lm::weight_type::q8_0);
    const bool qwen = GENERATE(false, true); // neox rope and q/k/v biases
    INFO(type_name(type) << (qwen ? " qwen2-style" : " llama-style"));
    auto rm = ref::make_random_model(type, 11, qwen, qwen);
    lm::model m(rm->weights, 16, 4, 2);
    const std::vector<std::int32_t> tokens{1, 5, 9, 33, 2, 2, 70, 11, 4, 95, 0};
    const auto want = ref::reference_forward(*rm, tokens);
    const auto got = model_prefill(m, tokens, {7, 3, 12});
    CHECK(ref::normalised_error(got, want) < forward_tolerance(type));

    SECTION("decoding token by token gives the prefill's logits") {
        lm::model d(rm->weights, 16, 4, 1);
        const std::uint32_t vocab = rm->weights.config.vocab;
        std::vector<float> step;
        for (std::uint32_t t = 0; t < tokens.size(); ++t) {
            lm::forward_batch b;
            b.tables = {2, 9, 0};
            b.tokens = {tokens[t]};
            b.positions = {t};
            b.table_offset = {0};
            b.logit_rows = {0};
            d.forward(b, step);
            const std::vector<float> row(want.begin() + std::ptrdiff_t(t) * vocab, want.begin() + std::ptrdiff_t(t + 1) * vocab);
            CHECK(ref::normalised_error(step, row) < forward_tolerance(type));
        }
    }
}

TEST_CASE("lm forward gives the same bits whatever else is in the batch", "[lm][ops][model]") {
    auto rm = ref::make_random_model(lm::weight_type::q8_0, 12);
    const std::uint32_t vocab = rm->weights.config.vocab;
    lm::model m(rm->weights, 32, 4, 2);
    const std::vector<std::int32_t> a{3, 1, 4, 1, 5, 9, 2, 6};
    const std::vector<std::int32_t> b{2, 7, 1, 8, 2, 8};
    const auto alone = model_prefill(m, a, {0, 1});

    lm::forward_batch both;
    both.tables = {10, 11, 20, 21};
    for (std::uint32_t t = 0; t < b.size(); ++t) {
        both.tokens.push_back(b[t]);
        both.positions.push_back(t);
        both.table_offset.push_back(2);
    }
    for (std::uint32_t t = 0; t < a.size(); ++t) {
        both.tokens.push_back(a[t]);
        both.positions.push_back(t);
        both.table_offset.push_back(0);
    }
    both.logit_rows = {std::uint32_t(b.size() + a.size() - 1)};
    std::vector<float> mixed;
    m.forward(both, mixed);
    const std::vector<float> last(alone.end() - vocab, alone.end());
    CHECK(mixed == last);
}

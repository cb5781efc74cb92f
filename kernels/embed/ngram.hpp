#ifndef SLUICE_KERNELS_EMBED_NGRAM_HPP
#define SLUICE_KERNELS_EMBED_NGRAM_HPP

// The embed kernel, written once over Thrust: nvcc builds it for CUDA, g++ for the CPU (OMP or
// CPP). Hashes first, then functors, then the batched ops. The recipe is in
// include/sluice/kernels/embed.hpp and docs/kernels.md; tests/kernels holds a plain-loop twin.

#include <sluice/kernels/backend.hpp>

#include <thrust/device_vector.h>
#include <thrust/host_vector.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/discard_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/iterator/zip_iterator.h>
#include <thrust/reduce.h>
#include <thrust/remove.h>
#include <thrust/scatter.h>
#include <thrust/sort.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>
#include <thrust/tuple.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sluice::kernels::embed::ngram {

using u32 = std::uint32_t;
using u64 = std::uint64_t;

inline constexpr u32 min_n = 3;
inline constexpr u32 max_n = 5;
/// Features that may start at one byte: an n-gram for each n, and a word.
inline constexpr u32 slots_per_byte = max_n - min_n + 2;
inline constexpr u32 word_slot = slots_per_byte - 1;
/// FNV-1a offset bases: n-grams and words hash apart, so the word "abc" is not the 3-gram "abc".
inline constexpr u32 ngram_basis = 0x811c9dc5u;
inline constexpr u32 word_basis = 0x811c9dc5u ^ 0x5bd1e995u;

// ---------------------------------------------------------------- hashes

SLUICE_HD inline u32 fnv1a(const unsigned char* p, u32 n, u32 h) {
    for (u32 i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/// murmur3's finaliser: FNV-1a's high bits mix poorly, and bucket and sign need independent bits.
SLUICE_HD inline u32 fmix32(u32 h) {
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

SLUICE_HD inline u32 feature_hash(const unsigned char* p, u32 n, u32 basis) { return fmix32(fnv1a(p, n, basis)); }

// ---------------------------------------------------------------- host: normalise and flatten

/// Texts after normalisation, back to back: text t is bytes[offsets[t], offsets[t + 1]); an
/// empty range is a text with no word bytes. Every non-empty text starts and ends with a space.
struct flat_texts {
    std::vector<unsigned char> bytes;
    std::vector<u32> offsets{0};

    std::size_t size() const noexcept { return offsets.size() - 1; }
};

constexpr bool is_word_byte(unsigned char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

constexpr unsigned char fold(unsigned char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c - 'A' + 'a') : c;
}

/// Appends one text; the caller keeps the total under 2^32 / slots_per_byte bytes.
inline void append(flat_texts& flat, std::string_view text) {
    auto& out = flat.bytes;
    const std::size_t start = out.size();
    out.push_back(' ');
    bool gap = false;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (!is_word_byte(c)) {
            gap = out.size() > start + 1;
            continue;
        }
        if (gap) out.push_back(' ');
        gap = false;
        out.push_back(fold(c));
    }
    if (out.size() == start + 1)
        out.resize(start);
    else
        out.push_back(' ');
    flat.offsets.push_back(static_cast<u32>(out.size()));
}

// ---------------------------------------------------------------- functors

/// Slot s is feature s % slots_per_byte starting at byte s / slots_per_byte: its key is
/// text * dim + bucket and its value the sign, or key `texts * dim` (past every row) with value 0
/// where no such feature starts.
struct feature_at {
    const unsigned char* bytes;
    const u32* offsets;
    u32 texts;
    u32 dim;

    SLUICE_HD thrust::tuple<u32, int> operator()(u32 slot) const {
        const u32 pos = slot / slots_per_byte;
        const u32 kind = slot % slots_per_byte;
        const thrust::tuple<u32, int> none(texts * dim, 0);

        // The text holding pos: offsets[lo] <= pos < offsets[hi], so empty texts are never it.
        u32 lo = 0, hi = texts;
        while (hi - lo > 1) {
            const u32 mid = lo + (hi - lo) / 2;
            if (offsets[mid] <= pos)
                lo = mid;
            else
                hi = mid;
        }
        const u32 end = offsets[lo + 1];
        const unsigned char* p = bytes + pos;

        u32 h = 0;
        if (kind != word_slot) {
            // n-grams stay inside one word and its two spaces (" word "): an n-gram across a
            // space mostly pairs stop words, noise that drowns a short prompt in dim 256.
            const u32 n = min_n + kind;
            if (end - pos < n) return none;
            for (u32 i = 1; i + 1 < n; ++i)
                if (p[i] == ' ') return none;
            h = feature_hash(p, n, ngram_basis);
        } else {
            // A word starts after a space; the padding guarantees a byte before and a space after.
            if (p[0] == ' ' || p[-1] != ' ') return none;
            u32 n = 1;
            while (p[n] != ' ') ++n;
            h = feature_hash(p, n, word_basis);
        }
        return thrust::tuple<u32, int>(lo * dim + h % dim, (h >> 31) ? -1 : 1);
    }
};

struct no_feature {
    u32 none;
    SLUICE_HD bool operator()(const thrust::tuple<u32, int>& f) const { return thrust::get<0>(f) == none; }
};

struct row_of {
    u32 dim;
    SLUICE_HD u32 operator()(u32 i) const { return i / dim; }
};

struct square_count {
    SLUICE_HD u64 operator()(int c) const { return static_cast<u64>(static_cast<long long>(c) * c); }
};

/// Counts are exact integers and so are their squared norms: every backend and every batch
/// split gives the same bits.
struct unit_cell {
    const int* counts;
    const u64* norm2;
    u32 dim;

    SLUICE_HD float operator()(u32 i) const {
        const u64 n2 = norm2[i / dim];
        return n2 == 0 ? 0.0f : static_cast<float>(static_cast<double>(counts[i]) / ::sqrt(static_cast<double>(n2)));
    }
};

struct square_value {
    SLUICE_HD double operator()(float v) const { return static_cast<double>(v) * v; }
};

/// Cosine of row r of a rows x dim matrix with the query (whose norm is given).
struct cosine_with {
    const float* matrix;
    const float* query;
    std::size_t dim;
    double query_norm;

    SLUICE_HD float operator()(std::size_t r) const {
        const float* row = matrix + r * dim;
        double dot = 0, norm2 = 0;
        for (std::size_t i = 0; i < dim; ++i) {
            dot += static_cast<double>(row[i]) * query[i];
            norm2 += static_cast<double>(row[i]) * row[i];
        }
        if (norm2 == 0 || query_norm == 0) return 0.0f;
        return static_cast<float>(dot / (::sqrt(norm2) * query_norm));
    }
};

// ---------------------------------------------------------------- batched ops
// Inputs are pointers that `exec` can read (device memory for thrust::device under CUDA, host
// memory for the CPU backends); Buffer is the vector type of scratch memory where exec runs
// (thrust::device_vector, or thrust::host_vector for a host policy such as thrust::cpp::par).

/// The embeddings of `texts` flattened texts (bytes[0, offsets[texts]) and offsets[0, texts] as
/// in flat_texts), row-major texts x dim, to out[0, texts * dim). The caller keeps
/// texts * dim < 2^32, offsets[texts] * slots_per_byte < 2^32 and dim > 0.
template <template <class...> class Buffer, class Exec, class OutIt>
void encode(Exec&& exec, const unsigned char* bytes, const u32* offsets, u32 byte_count, u32 texts, u32 dim,
            OutIt out) {
    const u32 cells = texts * dim;
    const u32 slots = byte_count * slots_per_byte;

    // Every slot becomes (cell, sign); the empty ones go, and sorting gathers each cell's
    // features into one run, which reduce_by_key sums.
    Buffer<u32> keys(slots);
    Buffer<int> signs(slots);
    const auto features = thrust::make_zip_iterator(thrust::make_tuple(keys.begin(), signs.begin()));
    thrust::transform(exec, thrust::counting_iterator<u32>(0), thrust::counting_iterator<u32>(slots), features,
                      feature_at{bytes, offsets, texts, dim});
    const auto kept = thrust::remove_if(exec, features, features + slots, no_feature{cells}) - features;
    thrust::sort_by_key(exec, keys.begin(), keys.begin() + kept, signs.begin());

    Buffer<u32> cell(kept);
    Buffer<int> sum(kept);
    const auto runs =
        thrust::reduce_by_key(exec, keys.begin(), keys.begin() + kept, signs.begin(), cell.begin(), sum.begin());

    Buffer<int> counts(cells, 0);
    thrust::scatter(exec, sum.begin(), runs.second, cell.begin(), counts.begin());

    Buffer<u64> norm2(texts);
    thrust::reduce_by_key(exec, thrust::make_transform_iterator(thrust::counting_iterator<u32>(0), row_of{dim}),
                          thrust::make_transform_iterator(thrust::counting_iterator<u32>(cells), row_of{dim}),
                          thrust::make_transform_iterator(counts.begin(), square_count{}),
                          thrust::make_discard_iterator(), norm2.begin());

    thrust::transform(exec, thrust::counting_iterator<u32>(0), thrust::counting_iterator<u32>(cells), out,
                      unit_cell{thrust::raw_pointer_cast(counts.data()), thrust::raw_pointer_cast(norm2.data()), dim});
}

/// Cosine of query[0, dim) with each row of matrix (rows x dim, row-major), to out[0, rows).
template <class Exec, class OutIt>
void similarities(Exec&& exec, const float* matrix, std::size_t rows, const float* query, std::size_t dim, OutIt out) {
    const double query_norm =
        ::sqrt(thrust::transform_reduce(exec, query, query + dim, square_value{}, 0.0, thrust::plus<double>()));
    thrust::transform(exec, thrust::counting_iterator<std::size_t>(0), thrust::counting_iterator<std::size_t>(rows), out,
                      cosine_with{matrix, query, dim, query_norm});
}

} // namespace sluice::kernels::embed::ngram

#endif // SLUICE_KERNELS_EMBED_NGRAM_HPP

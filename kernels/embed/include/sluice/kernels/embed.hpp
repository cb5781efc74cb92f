#ifndef SLUICE_KERNELS_EMBED_HPP
#define SLUICE_KERNELS_EMBED_HPP

// Hashed character n-gram text embeddings: the plain C++ face of kernels/embed/ngram.hpp, for code
// that is not compiled with Thrust (the gateway, the router, plugins). Two libraries implement it
// from the same source: sluice::embed_cpu (g++, Thrust OMP or CPP) and sluice::embed_cuda (nvcc,
// only where nvcc is found). A program links exactly one of them.
//
// A text's vector (docs/kernels.md has the exact recipe):
//   1. normalise: ASCII letters lower-cased; ASCII letters, digits and every byte >= 0x80 (UTF-8)
//      are word bytes; any other byte separates words; runs of separators become one space; the
//      result is padded with one space at each end ("Why, me?" -> " why me ").
//   2. features: every character n-gram, n = 3, 4, 5, of the padded text that stays within one
//      word and its two spaces (" why ", " me "), and every word; each hashed (FNV-1a, then
//      murmur3's finaliser) to a bucket in [0, dim) and a sign (bit 31).
//   3. the signed counts, L2-normalised. A text with no word bytes (empty, only punctuation or
//      spaces) is the zero vector, and its similarity to anything is 0.
// Same input, same bytes out, on every backend and batch size. The OMP build runs work under
// 1 MiB of text (or 2^20 matrix values) on the calling thread, larger work on its OpenMP team.

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

namespace sluice::kernels::embed {

/// The dimension the router uses: enough buckets that a prompt's ~1k features rarely collide.
inline constexpr std::size_t default_dim = 256;

/// One row of `dim` floats per text, row-major (texts.size() x dim), each row of norm 1 or all
/// zeros (see above). Throws std::invalid_argument when dim is 0 or above 2^20 or a text is over
/// 64 MiB, and whatever the backend throws when it fails (thrust::system_error on a CUDA error,
/// std::bad_alloc).
std::vector<float> encode(std::span<const std::string_view> texts, std::size_t dim = default_dim);

/// Cosine similarity of `query` with each of the `rows` rows of `matrix` (row-major,
/// rows x query.size()): one value per row in [-1, 1]; 0 where either vector is all zeros.
/// Throws std::invalid_argument when matrix.size() != rows * query.size() or query is empty
/// while rows > 0.
std::vector<float> similarities(std::span<const float> matrix, std::size_t rows, std::span<const float> query);

/// The backend the linked library runs on: "cpu-omp", "cpu" (sequential) or "cuda".
const char* backend() noexcept;

} // namespace sluice::kernels::embed

#endif // SLUICE_KERNELS_EMBED_HPP

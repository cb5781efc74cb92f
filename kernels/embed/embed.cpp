// The plain C++ API of include/sluice/kernels/embed.hpp over ngram.hpp. This file is the one
// translation unit that sees Thrust: g++ compiles it into sluice_embed_cpu, nvcc (through a
// generated .cu) into sluice_embed_cuda.

#include <sluice/kernels/embed.hpp>

#include "ngram.hpp"

#include <thrust/copy.h>
#include <thrust/device_vector.h>
#include <thrust/host_vector.h>
#include <thrust/system/cpp/execution_policy.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace sluice::kernels::embed {
namespace {

using ngram::u32;

constexpr std::size_t max_dim = std::size_t{1} << 20;
// Bounds one chunk's scratch memory (about 40 bytes per text byte) and keeps slot numbers in 32 bits.
constexpr std::size_t chunk_bytes = std::size_t{1} << 22;
// One text fills a chunk on its own; 64 MiB (four times the gateway's body limit) needs ~2.5 GiB.
constexpr std::size_t max_text_bytes = std::size_t{1} << 26;
constexpr std::size_t max_chunk_cells = std::size_t{1} << 31;

// A chunk's normalised text is at most its texts plus two spaces each; its slots count in 32 bits.
static_assert((std::max(chunk_bytes, max_text_bytes) + 2) * ngram::slots_per_byte < (std::size_t{1} << 32));
static_assert(max_dim <= max_chunk_cells);

// Below these sizes the OMP build runs on the calling thread, in host memory: Thrust 1.17's OMP
// passes do about twice the sequential work (its sort is sequential anyway), and on a busy
// machine one descheduled team thread stalls the whole call (docs/kernels.md has the numbers).
constexpr std::size_t parallel_bytes = std::size_t{1} << 20;
constexpr std::size_t parallel_cells = std::size_t{1} << 20;

/// Whether work of this size runs on the calling thread rather than on the backend's device.
constexpr bool on_caller(std::size_t work, std::size_t parallel_from) noexcept {
#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_OMP
    return work < parallel_from;
#elif THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CPP
    return (void)work, (void)parallel_from, true;
#else
    return (void)work, (void)parallel_from, false;
#endif
}

template <class T>
auto raw(const thrust::device_vector<T>& v) {
    return thrust::raw_pointer_cast(v.data());
}

void encode_on_device(const ngram::flat_texts& flat, u32 dim, float* out) {
    const thrust::device_vector<unsigned char> bytes(flat.bytes.begin(), flat.bytes.end());
    const thrust::device_vector<u32> offsets(flat.offsets.begin(), flat.offsets.end());
    thrust::device_vector<float> rows(flat.size() * dim);
    ngram::encode<thrust::device_vector>(thrust::device, raw(bytes), raw(offsets), static_cast<u32>(bytes.size()),
                                         static_cast<u32>(flat.size()), dim, rows.begin());
    thrust::copy(rows.begin(), rows.end(), out);
}

void similarities_on_device(std::span<const float> matrix, std::size_t rows, std::span<const float> query, float* out) {
    const thrust::device_vector<float> m(matrix.begin(), matrix.end());
    const thrust::device_vector<float> q(query.begin(), query.end());
    thrust::device_vector<float> cos(rows);
    ngram::similarities(thrust::device, raw(m), rows, raw(q), q.size(), cos.begin());
    thrust::copy(cos.begin(), cos.end(), out);
}

#if THRUST_DEVICE_SYSTEM != THRUST_DEVICE_SYSTEM_CUDA
void encode_on_caller(const ngram::flat_texts& flat, u32 dim, float* out) {
    ngram::encode<thrust::host_vector>(thrust::cpp::par, flat.bytes.data(), flat.offsets.data(),
                                       static_cast<u32>(flat.bytes.size()), static_cast<u32>(flat.size()), dim, out);
}

void similarities_on_caller(std::span<const float> matrix, std::size_t rows, std::span<const float> query, float* out) {
    ngram::similarities(thrust::cpp::par, matrix.data(), rows, query.data(), query.size(), out);
}
#endif

} // namespace

std::vector<float> encode(std::span<const std::string_view> texts, std::size_t dim) {
    if (dim == 0 || dim > max_dim)
        throw std::invalid_argument("sluice::kernels::embed::encode: dim must be in [1, " + std::to_string(max_dim) +
                                    "], not " + std::to_string(dim));
    for (const auto text : texts)
        if (text.size() > max_text_bytes)
            throw std::invalid_argument("sluice::kernels::embed::encode: a text of " + std::to_string(text.size()) +
                                        " bytes is over the limit of " + std::to_string(max_text_bytes));

    std::vector<float> out(texts.size() * dim);
    std::size_t first = 0;
    while (first < texts.size()) {
        // Texts are independent, so a large batch runs as chunks of whole texts.
        ngram::flat_texts flat;
        std::size_t last = first;
        do {
            ngram::append(flat, texts[last]);
            ++last;
        } while (last < texts.size() && flat.bytes.size() + texts[last].size() + 2 <= chunk_bytes &&
                 (last - first + 1) * dim < max_chunk_cells);

        float* rows = out.data() + first * dim;
#if THRUST_DEVICE_SYSTEM != THRUST_DEVICE_SYSTEM_CUDA
        if (on_caller(flat.bytes.size(), parallel_bytes)) {
            encode_on_caller(flat, static_cast<u32>(dim), rows);
            first = last;
            continue;
        }
#endif
        encode_on_device(flat, static_cast<u32>(dim), rows);
        first = last;
    }
    return out;
}

std::vector<float> similarities(std::span<const float> matrix, std::size_t rows, std::span<const float> query) {
    if (rows == 0 && matrix.empty()) return {};
    if (query.empty())
        throw std::invalid_argument("sluice::kernels::embed::similarities: the query vector is empty");
    if (matrix.size() / query.size() != rows || matrix.size() % query.size() != 0)
        throw std::invalid_argument("sluice::kernels::embed::similarities: a matrix of " +
                                    std::to_string(matrix.size()) + " values is not " + std::to_string(rows) +
                                    " rows of " + std::to_string(query.size()));

    std::vector<float> out(rows);
#if THRUST_DEVICE_SYSTEM != THRUST_DEVICE_SYSTEM_CUDA
    if (on_caller(matrix.size(), parallel_cells)) {
        similarities_on_caller(matrix, rows, query, out.data());
        return out;
    }
#endif
    similarities_on_device(matrix, rows, query, out.data());
    return out;
}

const char* backend() noexcept { return kernels::backend_name; }

} // namespace sluice::kernels::embed

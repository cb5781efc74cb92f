// GGUF reader. The layout (ggml docs/gguf.md): magic "GGUF", u32 version, u64 tensor count,
// u64 key count, the key/value pairs, the tensor infos, padding to the alignment, then the data.

#include "gguf.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

namespace sluice::lm {
namespace {

constexpr std::uint32_t gguf_magic = 0x46554747; // "GGUF" little-endian
constexpr std::uint64_t default_alignment = 32;
constexpr std::uint32_t max_dims = 4;                      // GGML_MAX_DIMS
constexpr std::uint64_t max_string_bytes = 1ull << 30;     // no key, name or token is near this
constexpr std::uint64_t max_tensor_elements = 1ull << 48;  // keeps byte sizes far from overflow

static_assert(std::endian::native == std::endian::little, "GGUF is read in place: little-endian hosts only");

// The GGUF metadata value types.
enum class value_type : std::uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
    string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};

// The smallest encoding of one element, so an array's count is checked against the bytes left
// before anything is allocated.
std::uint64_t min_size(value_type t) {
    switch (t) {
    case value_type::u8: case value_type::i8: case value_type::boolean: return 1;
    case value_type::u16: case value_type::i16: return 2;
    case value_type::u32: case value_type::i32: case value_type::f32: return 4;
    case value_type::u64: case value_type::i64: case value_type::f64: case value_type::string: return 8;
    case value_type::array: return 12;
    }
    return 0;
}

// Bounds-checked little-endian reads over the map.
class reader {
public:
    reader(const std::byte* data, std::uint64_t size) : data_(data), size_(size) {}

    std::uint64_t pos() const { return pos_; }
    std::uint64_t left() const { return size_ - pos_; }

    void need(std::uint64_t n, std::string_view what) const {
        if (n > left()) {
            throw format_error("truncated: " + std::string(what) + " needs bytes up to " +
                               (n > std::numeric_limits<std::uint64_t>::max() - pos_
                                    ? std::string("beyond 2^64")
                                    : std::to_string(pos_ + n)) +
                               ", file has " + std::to_string(size_));
        }
    }

    template <class T>
    T get(std::string_view what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, data_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }

    std::string string(std::string_view what) {
        const auto n = get<std::uint64_t>(what);
        if (n > max_string_bytes) throw format_error(std::string(what) + ": string length " + std::to_string(n) + " is too large");
        need(n, what);
        std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<std::size_t>(n));
        pos_ += n;
        return s;
    }

private:
    const std::byte* data_;
    std::uint64_t size_;
    std::uint64_t pos_ = 0;
};

std::string type_name(value_type t) {
    static constexpr std::array<const char*, 13> names{"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                                       "bool", "string", "array", "u64", "i64", "f64"};
    const auto i = static_cast<std::uint32_t>(t);
    return i < names.size() ? names[i] : "type " + std::to_string(i);
}

std::uint64_t read_unsigned(reader& r, value_type t, const std::string& what) {
    switch (t) {
    case value_type::u8: return r.get<std::uint8_t>(what);
    case value_type::u16: return r.get<std::uint16_t>(what);
    case value_type::u32: return r.get<std::uint32_t>(what);
    default: return r.get<std::uint64_t>(what);
    }
}

std::int64_t read_signed(reader& r, value_type t, const std::string& what) {
    switch (t) {
    case value_type::i8: return r.get<std::int8_t>(what);
    case value_type::i16: return r.get<std::int16_t>(what);
    case value_type::i32: return r.get<std::int32_t>(what);
    default: return r.get<std::int64_t>(what);
    }
}

bool is_unsigned(value_type t) {
    return t == value_type::u8 || t == value_type::u16 || t == value_type::u32 || t == value_type::u64;
}
bool is_signed(value_type t) {
    return t == value_type::i8 || t == value_type::i16 || t == value_type::i32 || t == value_type::i64;
}

gguf_value read_value(reader& r, value_type t, const std::string& key) {
    const std::string what = "key " + key;
    if (is_unsigned(t)) return read_unsigned(r, t, what);
    if (is_signed(t)) return read_signed(r, t, what);
    switch (t) {
    case value_type::f32: return static_cast<double>(r.get<float>(what));
    case value_type::f64: return r.get<double>(what);
    case value_type::boolean: return r.get<std::uint8_t>(what) != 0;
    case value_type::string: return r.string(what);
    case value_type::array: break;
    default: throw format_error(what + " has unknown value type " + std::to_string(static_cast<std::uint32_t>(t)));
    }

    const auto elem = static_cast<value_type>(r.get<std::uint32_t>(what));
    const auto count = r.get<std::uint64_t>(what);
    if (static_cast<std::uint32_t>(elem) > static_cast<std::uint32_t>(value_type::f64)) {
        throw format_error(what + " is an array of unknown value type " + std::to_string(static_cast<std::uint32_t>(elem)));
    }
    if (elem == value_type::array) throw format_error(what + " is an array of arrays, which is not supported");
    // A hostile count fails here, before any allocation.
    if (count > r.left() / min_size(elem)) {
        throw format_error("truncated: " + what + " claims " + std::to_string(count) + " elements of " +
                           type_name(elem) + ", more than the " + std::to_string(r.left()) + " bytes left");
    }
    const auto n = static_cast<std::size_t>(count);
    if (elem == value_type::string) {
        std::vector<std::string> v;
        v.reserve(n);
        for (std::size_t i = 0; i < n; ++i) v.push_back(r.string(what));
        return v;
    }
    if (elem == value_type::f32 || elem == value_type::f64) {
        std::vector<double> v;
        v.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            v.push_back(elem == value_type::f32 ? static_cast<double>(r.get<float>(what)) : r.get<double>(what));
        }
        return v;
    }
    std::vector<std::int64_t> v;
    v.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (elem == value_type::boolean) v.push_back(r.get<std::uint8_t>(what) != 0);
        else if (is_signed(elem)) v.push_back(read_signed(r, elem, what));
        else v.push_back(static_cast<std::int64_t>(read_unsigned(r, elem, what)));
    }
    return v;
}

// Bytes of a tensor of a loadable type, or a format_error naming the problem.
std::uint64_t tensor_bytes(const std::string& name, ggml_type type, const std::vector<std::uint64_t>& dims) {
    std::uint64_t n = 1;
    for (const auto d : dims) {
        if (d == 0) throw format_error("tensor " + name + " has a zero dimension");
        if (d > max_tensor_elements / n) throw format_error("tensor " + name + " is too large");
        n *= d;
    }
    switch (type) {
    case ggml_type::f32: return 4 * n;
    case ggml_type::f16: return 2 * n;
    case ggml_type::q8_0:
        if (dims[0] % q8_0_block_values != 0) {
            throw format_error("tensor " + name + " is q8_0 but its first dimension " + std::to_string(dims[0]) +
                               " is not a multiple of " + std::to_string(q8_0_block_values));
        }
        return n / q8_0_block_values * q8_0_block_bytes;
    }
    throw format_error("tensor " + name + " has unsupported type " + std::string(to_string(type)));
}

std::string type_of(const gguf_value& v) {
    static constexpr std::array<const char*, 8> names{"an unsigned integer", "a signed integer", "a float", "a bool",
                                                      "a string", "a string array", "an integer array", "a float array"};
    return names[v.index()];
}

} // namespace

std::string_view to_string(ggml_type t) {
    // ggml's type table; the gaps are numbers ggml retired.
    static constexpr std::array<std::string_view, 40> names{
        "f32", "f16", "q4_0", "q4_1", "", "", "q5_0", "q5_1", "q8_0", "q8_1",
        "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "q8_K", "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s",
        "iq4_nl", "iq3_s", "iq2_s", "iq4_xs", "i8", "i16", "i32", "i64", "f64", "iq1_m",
        "bf16", "q4_0_4_4", "q4_0_4_8", "q4_0_8_8", "tq1_0", "tq2_0", "iq4_nl_4_4", "iq4_nl_4_8", "iq4_nl_8_8", "mxfp4"};
    static thread_local std::string unknown;
    const auto i = static_cast<std::uint32_t>(t);
    if (i < names.size() && !names[i].empty()) return names[i];
    unknown = "type " + std::to_string(i);
    return unknown;
}

std::uint64_t tensor::elements() const {
    std::uint64_t n = 1;
    for (const auto d : dims) n *= d;
    return n;
}

gguf_file gguf_file::open(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw format_error("cannot open " + path.string() + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw format_error(path.string() + " is not a regular file");
    }
    gguf_file f;
    f.size_ = static_cast<std::uint64_t>(st.st_size);
    if (f.size_ > 0) {
        void* p = ::mmap(nullptr, static_cast<std::size_t>(f.size_), PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw format_error("cannot map " + path.string() + ": " + std::strerror(err));
        }
        f.map_ = static_cast<const std::byte*>(p);
    }
    ::close(fd); // the map stays valid
    f.parse();
    return f;
}

gguf_file::gguf_file(gguf_file&& other) noexcept
    : map_(std::exchange(other.map_, nullptr)), size_(std::exchange(other.size_, 0)), version_(other.version_),
      metadata_(std::move(other.metadata_)), tensors_(std::move(other.tensors_)),
      tensor_index_(std::move(other.tensor_index_)) {}

gguf_file& gguf_file::operator=(gguf_file&& other) noexcept {
    if (this != &other) {
        release();
        map_ = std::exchange(other.map_, nullptr);
        size_ = std::exchange(other.size_, 0);
        version_ = other.version_;
        metadata_ = std::move(other.metadata_);
        tensors_ = std::move(other.tensors_);
        tensor_index_ = std::move(other.tensor_index_);
    }
    return *this;
}

gguf_file::~gguf_file() { release(); }

void gguf_file::release() noexcept {
    if (map_) ::munmap(const_cast<std::byte*>(map_), static_cast<std::size_t>(size_));
    map_ = nullptr;
}

void gguf_file::parse() {
    if (size_ < 4) throw format_error("not a GGUF file (only " + std::to_string(size_) + " bytes)");
    reader r(map_, size_);
    const auto magic = r.get<std::uint32_t>("magic");
    if (magic != gguf_magic) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%08x", magic);
        throw format_error(std::string("not a GGUF file (magic ") + hex + ", expected 0x46554747 \"GGUF\")");
    }
    version_ = r.get<std::uint32_t>("header");
    if (version_ != 2 && version_ != 3) throw format_error("unsupported GGUF version " + std::to_string(version_));
    const auto n_tensors = r.get<std::uint64_t>("header");
    const auto n_keys = r.get<std::uint64_t>("header");
    // A key needs at least 12 bytes (length, type) and a tensor info 24: hostile counts stop here.
    if (n_keys > r.left() / 12) throw format_error("truncated: header claims " + std::to_string(n_keys) + " keys");

    for (std::uint64_t i = 0; i < n_keys; ++i) {
        auto key = r.string("key " + std::to_string(i));
        const auto t = static_cast<value_type>(r.get<std::uint32_t>("key " + key));
        auto value = read_value(r, t, key);
        if (!metadata_.emplace(key, std::move(value)).second) throw format_error("duplicate key " + key);
    }

    if (n_tensors > r.left() / 24) throw format_error("truncated: header claims " + std::to_string(n_tensors) + " tensors");
    std::vector<std::uint64_t> offsets; // relative to the data section
    tensors_.reserve(static_cast<std::size_t>(n_tensors));
    for (std::uint64_t i = 0; i < n_tensors; ++i) {
        tensor t{};
        t.name = r.string("tensor info " + std::to_string(i));
        const std::string what = "tensor " + t.name;
        const auto n_dims = r.get<std::uint32_t>(what);
        if (n_dims == 0 || n_dims > max_dims) {
            throw format_error(what + " has " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
        }
        for (std::uint32_t d = 0; d < n_dims; ++d) t.dims.push_back(r.get<std::uint64_t>(what));
        const auto type = r.get<std::uint32_t>(what);
        const auto offset = r.get<std::uint64_t>(what);
        t.type = static_cast<ggml_type>(type);
        t.bytes = tensor_bytes(t.name, t.type, t.dims);
        if (!tensor_index_.emplace(t.name, tensors_.size()).second) throw format_error("duplicate tensor " + t.name);
        offsets.push_back(offset);
        tensors_.push_back(std::move(t));
    }

    std::uint64_t alignment = default_alignment;
    if (find("general.alignment")) {
        alignment = get_uint("general.alignment");
        if (!std::has_single_bit(alignment) || alignment > (1u << 20)) {
            throw format_error("general.alignment " + std::to_string(alignment) + " is not a power of two up to 1 MiB");
        }
    }
    const std::uint64_t data_start = (r.pos() + alignment - 1) / alignment * alignment;

    for (std::size_t i = 0; i < tensors_.size(); ++i) {
        auto& t = tensors_[i];
        const auto offset = offsets[i];
        if (offset % alignment != 0) {
            throw format_error("tensor " + t.name + " offset " + std::to_string(offset) + " is not aligned to " +
                               std::to_string(alignment));
        }
        if (offset > size_ || t.bytes > size_ || data_start > size_ - offset || t.bytes > size_ - offset - data_start) {
            const bool overflow = offset > std::numeric_limits<std::uint64_t>::max() - data_start - t.bytes;
            throw format_error("truncated: tensor " + t.name + " needs bytes up to " +
                               (overflow ? std::string("beyond 2^64") : std::to_string(data_start + offset + t.bytes)) +
                               ", file has " + std::to_string(size_));
        }
        t.data = map_ + data_start + offset;
    }

    const auto arch = get_string("general.architecture");
    if (arch != "llama" && arch != "qwen2") {
        throw format_error("unsupported architecture '" + arch + "' (supported: llama, qwen2)");
    }
}

const gguf_value* gguf_file::find(std::string_view key) const {
    const auto it = metadata_.find(key);
    return it == metadata_.end() ? nullptr : &it->second;
}

std::uint64_t gguf_file::get_uint(std::string_view key) const {
    const auto* v = find(key);
    if (!v) throw format_error("missing key " + std::string(key));
    if (const auto* u = std::get_if<std::uint64_t>(v)) return *u;
    if (const auto* s = std::get_if<std::int64_t>(v); s && *s >= 0) return static_cast<std::uint64_t>(*s);
    throw format_error("key " + std::string(key) + " is " + type_of(*v) + ", not an unsigned integer");
}

std::uint64_t gguf_file::get_uint(std::string_view key, std::uint64_t fallback) const {
    return find(key) ? get_uint(key) : fallback;
}

double gguf_file::get_float(std::string_view key) const {
    const auto* v = find(key);
    if (!v) throw format_error("missing key " + std::string(key));
    if (const auto* d = std::get_if<double>(v)) return *d;
    if (const auto* u = std::get_if<std::uint64_t>(v)) return static_cast<double>(*u);
    if (const auto* s = std::get_if<std::int64_t>(v)) return static_cast<double>(*s);
    throw format_error("key " + std::string(key) + " is " + type_of(*v) + ", not a number");
}

double gguf_file::get_float(std::string_view key, double fallback) const {
    return find(key) ? get_float(key) : fallback;
}

std::string gguf_file::get_string(std::string_view key) const {
    const auto* v = find(key);
    if (!v) throw format_error("missing key " + std::string(key));
    if (const auto* s = std::get_if<std::string>(v)) return *s;
    throw format_error("key " + std::string(key) + " is " + type_of(*v) + ", not a string");
}

std::string gguf_file::get_string(std::string_view key, std::string fallback) const {
    return find(key) ? get_string(key) : std::move(fallback);
}

bool gguf_file::get_bool(std::string_view key, bool fallback) const {
    const auto* v = find(key);
    if (!v) return fallback;
    if (const auto* b = std::get_if<bool>(v)) return *b;
    throw format_error("key " + std::string(key) + " is " + type_of(*v) + ", not a bool");
}

const tensor* gguf_file::find_tensor(std::string_view name) const {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const tensor& gguf_file::get_tensor(std::string_view name) const {
    if (const auto* t = find_tensor(name)) return *t;
    throw format_error("missing tensor " + std::string(name));
}

std::string gguf_file::architecture() const { return get_string("general.architecture"); }

namespace {

std::uint32_t u32_key(const gguf_file& f, const std::string& key, std::optional<std::uint64_t> fallback = {}) {
    const auto v = fallback ? f.get_uint(key, *fallback) : f.get_uint(key);
    if (v == 0 || v > std::numeric_limits<std::int32_t>::max()) {
        throw format_error("key " + key + " is " + std::to_string(v) + ", out of range");
    }
    return static_cast<std::uint32_t>(v);
}

std::string dims_text(const std::vector<std::uint64_t>& dims) {
    std::string s = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + "]";
}

void expect_shape(const gguf_file& f, const std::string& name, std::vector<std::uint64_t> dims) {
    const auto& t = f.get_tensor(name);
    if (t.dims != dims) {
        throw format_error("tensor " + name + " has shape " + dims_text(t.dims) + ", expected " + dims_text(dims));
    }
}

} // namespace

llama_hparams read_hparams(const gguf_file& f) {
    llama_hparams h{};
    h.arch = f.architecture();
    if (h.arch != "llama" && h.arch != "qwen2") {
        throw format_error("unsupported architecture '" + h.arch + "' (supported: llama, qwen2)");
    }
    const auto k = [&](std::string_view suffix) { return h.arch + "." + std::string(suffix); };

    h.dim = u32_key(f, k("embedding_length"));
    h.layers = u32_key(f, k("block_count"));
    h.ffn = u32_key(f, k("feed_forward_length"));
    h.heads = u32_key(f, k("attention.head_count"));
    h.kv_heads = u32_key(f, k("attention.head_count_kv"), h.heads);
    h.context = u32_key(f, k("context_length"));
    if (h.dim % h.heads != 0) {
        throw format_error(k("attention.head_count") + " " + std::to_string(h.heads) + " does not divide " +
                           k("embedding_length") + " " + std::to_string(h.dim));
    }
    if (h.heads % h.kv_heads != 0) {
        throw format_error(k("attention.head_count_kv") + " " + std::to_string(h.kv_heads) + " does not divide " +
                           k("attention.head_count") + " " + std::to_string(h.heads));
    }
    h.head_dim = u32_key(f, k("attention.key_length"), h.dim / h.heads);
    if (f.get_uint(k("attention.value_length"), h.head_dim) != h.head_dim) {
        throw format_error(k("attention.value_length") + " differs from the key length");
    }
    if (h.head_dim % 2 != 0) throw format_error("head dimension " + std::to_string(h.head_dim) + " is odd");
    h.rope_dims = u32_key(f, k("rope.dimension_count"), h.head_dim);
    if (h.rope_dims > h.head_dim || h.rope_dims % 2 != 0) {
        throw format_error(k("rope.dimension_count") + " " + std::to_string(h.rope_dims) +
                           " must be even and at most the head dimension " + std::to_string(h.head_dim));
    }
    h.rope_base = f.get_float(k("rope.freq_base"), 10000.0);
    h.rms_eps = f.get_float(k("attention.layer_norm_rms_epsilon"), h.arch == "qwen2" ? 1e-6 : 1e-5);
    if (!(h.rope_base > 0) || !(h.rms_eps > 0) || !(h.rms_eps < 1)) {
        throw format_error("rope.freq_base and attention.layer_norm_rms_epsilon must be positive");
    }
    h.rope_neox = h.arch == "qwen2";

    const auto& embd = f.get_tensor("token_embd.weight");
    if (embd.dims.size() != 2 || embd.dims[0] != h.dim) {
        throw format_error("tensor token_embd.weight has shape " + dims_text(embd.dims) + ", expected [" +
                           std::to_string(h.dim) + ", vocab]");
    }
    h.vocab = u32_key(f, k("vocab_size"), embd.dims[1]);
    if (const auto* tokens = f.find("tokenizer.ggml.tokens")) {
        const auto* list = std::get_if<std::vector<std::string>>(tokens);
        if (list && list->size() > h.vocab) {
            throw format_error("the tokenizer has " + std::to_string(list->size()) + " tokens, the model " +
                               std::to_string(h.vocab));
        }
    }
    expect_shape(f, "token_embd.weight", {h.dim, h.vocab});
    expect_shape(f, "output_norm.weight", {h.dim});
    h.tied_output = f.find_tensor("output.weight") == nullptr;
    if (!h.tied_output) expect_shape(f, "output.weight", {h.dim, h.vocab});
    h.qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;

    const std::uint64_t q = std::uint64_t{h.heads} * h.head_dim;
    const std::uint64_t kv = std::uint64_t{h.kv_heads} * h.head_dim;
    for (std::uint32_t l = 0; l < h.layers; ++l) {
        const auto b = [&](std::string_view t) { return "blk." + std::to_string(l) + "." + std::string(t); };
        expect_shape(f, b("attn_norm.weight"), {h.dim});
        expect_shape(f, b("attn_q.weight"), {h.dim, q});
        expect_shape(f, b("attn_k.weight"), {h.dim, kv});
        expect_shape(f, b("attn_v.weight"), {h.dim, kv});
        expect_shape(f, b("attn_output.weight"), {q, h.dim});
        if (h.qkv_bias) {
            expect_shape(f, b("attn_q.bias"), {q});
            expect_shape(f, b("attn_k.bias"), {kv});
            expect_shape(f, b("attn_v.bias"), {kv});
        }
        expect_shape(f, b("ffn_norm.weight"), {h.dim});
        expect_shape(f, b("ffn_gate.weight"), {h.dim, h.ffn});
        expect_shape(f, b("ffn_up.weight"), {h.dim, h.ffn});
        expect_shape(f, b("ffn_down.weight"), {h.ffn, h.dim});
    }
    return h;
}

} // namespace sluice::lm

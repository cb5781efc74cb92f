// sluice_embed.so: the embed kernel as a kernel plugin, serving POST /v1/embeddings in process.
// The vectors are the hashed character n-gram encoder's (include/sluice/kernels/embed.hpp), so
// the model needs no weights and answers the same bytes for the same input on every machine.
//
//   options:
//     dimensions: 256   # the model's own dimension; a request may ask for fewer, never more
//
// A request's `dimensions` (at most the model's) hashes the features into that many buckets: the
// vector is the encoder's at that dimension, L2-normalised like every other. Token-id inputs are
// embedded as the text of their decimal ids, space-separated (the encoder has no vocabulary).
//
// Tokens, as usage reports them: the words the encoder reads, where a word is a run of ASCII
// letters, digits and bytes >= 0x80 (everything else separates words); one per id for token-id
// inputs.

#include <sluice/kernels/embed.hpp>
#include <sluice/plugin/kernel.hpp>

#include <boost/json/serialize.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::kernels::embed {

inline constexpr const char* plugin_name = "embed";
inline constexpr const char* plugin_version = "1.0.0";
/// The encoder's own limit on a dimension.
inline constexpr std::uint64_t max_dimensions = 1u << 20;

namespace {

bool word_byte(unsigned char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/// Words as the encoder's normaliser splits them.
std::uint64_t count_words(std::string_view text) noexcept {
    std::uint64_t n = 0;
    bool in_word = false;
    for (unsigned char c : text) {
        const bool w = word_byte(c);
        if (w && !in_word) ++n;
        in_word = w;
    }
    return n;
}

} // namespace

class embed_kernel final : public plugin::kernel {
public:
    plugin::result<void> load(const plugin::kernel_config& config) override {
        name_ = config.name;
        if (const auto* d = config.options.if_contains("dimensions")) {
            const bool ok = (d->is_int64() && d->get_int64() > 0 && std::uint64_t(d->get_int64()) <= max_dimensions) ||
                            (d->is_uint64() && d->get_uint64() > 0 && d->get_uint64() <= max_dimensions);
            if (!ok)
                return core::error{core::error_kind::invalid_request,
                                   "embed: option dimensions is " + boost::json::serialize(*d) +
                                       "; expected an integer from 1 to " + std::to_string(max_dimensions),
                                   "dimensions", "invalid_option"};
            dim_ = d->to_number<std::uint64_t>();
        }
        for (const auto& [key, value] : config.options)
            if (key != "dimensions")
                return core::error{core::error_kind::invalid_request,
                                   "embed: unknown option " + std::string(key) + " (known: dimensions)", std::string(key),
                                   "invalid_option"};
        loaded_ = true;
        return {};
    }

    plugin::kernel_info describe() const override {
        plugin::kernel_info info;
        info.name = plugin_name;
        info.version = plugin_version;
        if (loaded_) info.model = "ngram-" + std::to_string(dim_) + " (" + backend() + ")";
        info.endpoints = {core::endpoint::embeddings};
        return info;
    }

    plugin::result<plugin::request_id> submit(core::envelope, plugin::event_sink) override {
        return unsupported("text generation");
    }
    bool cancel(plugin::request_id, core::error) override { return false; }
    plugin::kernel_load current_load() const override { return {}; }

    plugin::result<plugin::embedding_result> embed(const plugin::embedding_request& request) override {
        const std::uint64_t dim = request.dimensions ? request.dimensions : dim_;
        if (dim > dim_)
            return core::error{core::error_kind::invalid_request,
                               "dimensions " + std::to_string(dim) + " is above this model's " + std::to_string(dim_) +
                                   "; ask for at most " + std::to_string(dim_),
                               "dimensions", "invalid_value"};
        plugin::embedding_result out;
        std::vector<std::string> rendered; // token-id inputs as text
        std::vector<std::string_view> texts;
        if (!request.texts.empty()) {
            texts.reserve(request.texts.size());
            for (const auto& t : request.texts) {
                texts.emplace_back(t);
                out.input_tokens += count_words(t);
            }
        } else {
            rendered.reserve(request.tokens.size());
            for (const auto& ids : request.tokens) {
                std::string s;
                for (auto id : ids) (s += std::to_string(id)) += ' ';
                rendered.push_back(std::move(s));
                out.input_tokens += ids.size();
            }
            texts.assign(rendered.begin(), rendered.end());
        }
        auto rows = encode(texts, std::size_t(dim));
        out.vectors.resize(texts.size());
        for (std::size_t i = 0; i < texts.size(); ++i)
            out.vectors[i].assign(rows.begin() + std::ptrdiff_t(i * dim), rows.begin() + std::ptrdiff_t((i + 1) * dim));
        return out;
    }

private:
    std::string name_;
    std::uint64_t dim_ = default_dim;
    bool loaded_ = false;
};

} // namespace sluice::kernels::embed

SLUICE_KERNEL_PLUGIN(sluice::kernels::embed::embed_kernel, sluice::kernels::embed::plugin_name,
                     sluice::kernels::embed::plugin_version)

#ifndef SLUICE_KERNELS_LM_LOADER_HPP
#define SLUICE_KERNELS_LM_LOADER_HPP

// A GGUF file of the llama family opened for the engine: the memory map, the weight views into
// it, the tokenizer and the model's name. Whatever the file lacks is a format_error naming it.

#include "engine.hpp"
#include "gguf.hpp"
#include "tokenizer.hpp"
#include "weights.hpp"

#include <filesystem>
#include <memory>
#include <string>

namespace sluice::lm {

struct loaded_model {
    gguf_file file; // owns the map the weight views point into
    llama_hparams hparams;
    model_weights weights;
    lm::tokenizer tokenizer;
    std::string name; // general.name, else the file's stem
};

/// Opens and checks `path`; throws format_error.
std::shared_ptr<const loaded_model> load_gguf(const std::filesystem::path& path);

/// The weight view of one tensor (rows = dims[1], cols = dims[0]); throws format_error for a type
/// or rank the ops do not take.
weight_view view_of(const tensor& t);

/// The tokenizer of a loaded model as the engine's vocabulary (keeps the model alive).
class tokenizer_vocabulary final : public vocabulary {
public:
    explicit tokenizer_vocabulary(std::shared_ptr<const loaded_model> m) : model_(std::move(m)) {}
    std::string piece(std::int32_t id) const override { return model_->tokenizer.piece(id); }
    bool is_end_of_generation(std::int32_t id) const override { return model_->tokenizer.is_end_of_generation(id); }

private:
    std::shared_ptr<const loaded_model> model_;
};

} // namespace sluice::lm

#endif

// sluice_lm.so (CPU) and sluice_lm_cuda.so: the lm kernel plugin. Loads a llama-family GGUF,
// renders each envelope with the model's chat template, tokenizes it and hands it to the engine's
// scheduler, whose events go straight to the request's sink.
//
// kernel_config.options: threads (default: the machine's cores), kv_blocks (default: room for
// four full contexts, at most kv_memory_mb, 1024 MiB unless set), block_size (16), max_batch (16),
// queue_limit (256), prefill_chunk (256 prompt tokens per step).

#include <sluice/plugin/kernel.hpp>

#include "chat_template.hpp"
#include "engine.hpp"
#include "loader.hpp"
#include "model.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <new>
#include <stdexcept>
#include <thread>

namespace {

using namespace sluice;

core::error make_error(core::error_kind kind, std::string message, std::string param = {}) {
    return core::error{kind, std::move(message), std::move(param), {}};
}

/// A non-negative whole number option, or `fallback` when absent.
std::uint64_t uint_option(const boost::json::object& o, std::string_view key, std::uint64_t fallback) {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) return fallback;
    if (v->is_uint64()) return v->as_uint64();
    if (v->is_int64() && v->as_int64() >= 0) return std::uint64_t(v->as_int64());
    if (v->is_double() && v->as_double() >= 0 && v->as_double() == double(std::uint64_t(v->as_double())))
        return std::uint64_t(v->as_double());
    throw std::invalid_argument("lm: option " + std::string(key) + " must be a non-negative whole number");
}

std::string role_name(core::role r) {
    switch (r) {
    case core::role::system:
    case core::role::developer: return "system";
    case core::role::user: return "user";
    case core::role::assistant: return "assistant";
    case core::role::tool: return "tool";
    }
    return "user";
}

class lm_kernel final : public plugin::kernel {
public:
    plugin::result<void> load(const plugin::kernel_config& config) override {
        std::lock_guard lock(mutex_);
        if (engine_) return make_error(core::error_kind::invalid_request, "lm: a model is already loaded");
        if (config.model_path.empty()) return make_error(core::error_kind::invalid_request, "lm: no model_path");
        if (!std::filesystem::exists(config.model_path))
            return make_error(core::error_kind::not_found, "lm: model file " + config.model_path + " not found");
        std::shared_ptr<const lm::loaded_model> m;
        try {
            m = lm::load_gguf(config.model_path);
        } catch (const lm::format_error& e) {
            return make_error(core::error_kind::invalid_request, "lm: " + config.model_path + ": " + e.what());
        }
        const auto& c = m->weights.config;
        std::uint32_t threads = 0, block_size = 0, kv_blocks = 0;
        lm::engine_options eo;
        try {
            const auto& o = config.options;
            const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
            threads = std::uint32_t(std::clamp<std::uint64_t>(uint_option(o, "threads", cores), 1, 1024));
            block_size = std::uint32_t(std::clamp<std::uint64_t>(uint_option(o, "block_size", 16), 1, 4096));
            const std::uint64_t per_block = lm::model::kv_block_bytes(c, block_size);
            const std::uint64_t budget = uint_option(o, "kv_memory_mb", 1024) << 20;
            const std::uint64_t one_context = (c.context + block_size - 1) / block_size + 1;
            const std::uint64_t fallback = std::max<std::uint64_t>(
                std::min<std::uint64_t>(4 * one_context, std::max<std::uint64_t>(budget / per_block, 1)), 2);
            kv_blocks = std::uint32_t(std::clamp<std::uint64_t>(uint_option(o, "kv_blocks", fallback), 1, 1u << 24));
            eo.max_batch = std::uint32_t(std::clamp<std::uint64_t>(uint_option(o, "max_batch", 16), 1, 4096));
            eo.queue_limit = std::uint32_t(std::min<std::uint64_t>(uint_option(o, "queue_limit", 256), 1u << 20));
            eo.prefill_chunk =
                std::uint32_t(std::clamp<std::uint64_t>(uint_option(o, "prefill_chunk", 256), 1, 1u << 16));
        } catch (const std::invalid_argument& e) {
            return make_error(core::error_kind::invalid_request, e.what());
        }
        const std::string name = config.name.empty() ? m->name : config.name;
        eo.model_name = name;
        std::unique_ptr<lm::model> mdl;
        try {
            mdl = std::make_unique<lm::model>(m->weights, kv_blocks, block_size, threads);
        } catch (const std::invalid_argument& e) {
            return make_error(core::error_kind::invalid_request, "lm: " + config.model_path + ": " + e.what());
        } catch (const std::bad_alloc&) {
            return make_error(core::error_kind::internal,
                              "lm: out of memory for the weights and " + std::to_string(kv_blocks) + " KV blocks");
        }
        const auto weight_type = lm::to_string(m->file.get_tensor("blk.0.attn_q.weight").type);
        std::fprintf(stderr, "lm: loaded %s (%s %.*s, %u layers, %s, %u threads, %u KV blocks of %u tokens)\n",
                     name.c_str(), c.arch.c_str(), int(weight_type.size()), weight_type.data(), c.layers,
                     lm::model::backend(), threads, kv_blocks, block_size);
        name_ = name;
        context_ = c.context;
        model_ = m;
        engine_ = std::make_unique<lm::engine>(std::move(mdl), std::make_shared<lm::tokenizer_vocabulary>(m), eo);
        return {};
    }

    plugin::kernel_info describe() const override {
        std::lock_guard lock(mutex_);
        plugin::kernel_info info{"lm", "0.1.0", name_, {core::endpoint::chat}, context_};
        return info;
    }

    plugin::result<plugin::request_id> submit(core::envelope request, plugin::event_sink sink) override {
        lm::engine* eng;
        std::shared_ptr<const lm::loaded_model> m;
        {
            std::lock_guard lock(mutex_);
            eng = engine_.get();
            m = model_;
        }
        if (!eng) return make_error(core::error_kind::overloaded, "lm: no model loaded");
        const auto& sp = request.sampling;
        if (sp.n && *sp.n > 1) return make_error(core::error_kind::invalid_request, "lm: n above 1 is not supported", "n");
        lm::generation_request g;
        if (sp.temperature) {
            if (!(*sp.temperature >= 0) || *sp.temperature > 100)
                return make_error(core::error_kind::invalid_request, "lm: temperature must be in [0, 100]", "temperature");
            g.sampling.temperature = *sp.temperature;
        }
        if (sp.top_p) {
            if (!(*sp.top_p > 0) || *sp.top_p > 1)
                return make_error(core::error_kind::invalid_request, "lm: top_p must be in (0, 1]", "top_p");
            g.sampling.top_p = *sp.top_p;
        }
        if (sp.top_k) g.sampling.top_k = *sp.top_k;
        if (sp.seed) g.sampling.seed = std::uint64_t(*sp.seed);
        if (sp.max_output_tokens) g.max_tokens = *sp.max_output_tokens;
        g.stop = sp.stop;

        std::vector<lm::chat_message> messages;
        if (const auto system = request.system_text(); !system.empty()) messages.push_back({"system", system});
        for (const auto& msg : request.messages) messages.push_back({role_name(msg.role), core::text_of(msg.content)});
        const auto prompt = lm::render_chat(m->file, messages, true);
        if (m->tokenizer.add_bos() && m->tokenizer.bos() >= 0) g.prompt.push_back(m->tokenizer.bos());
        const auto tokens = m->tokenizer.encode(prompt, true);
        g.prompt.insert(g.prompt.end(), tokens.begin(), tokens.end());
        return eng->submit(std::move(g), std::move(sink));
    }

    bool cancel(plugin::request_id id, core::error reason) override {
        lm::engine* eng;
        {
            std::lock_guard lock(mutex_);
            eng = engine_.get();
        }
        return eng && eng->cancel(id, std::move(reason));
    }

    plugin::kernel_load current_load() const override {
        lm::engine* eng;
        {
            std::lock_guard lock(mutex_);
            eng = engine_.get();
        }
        if (!eng) return {};
        const auto l = eng->load();
        return {l.queue_depth, l.running, l.kv_blocks_used, l.kv_blocks_total, l.prefix_cache_hit_rate};
    }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const lm::loaded_model> model_;
    std::string name_;
    std::uint32_t context_ = 0;
    std::unique_ptr<lm::engine> engine_; // last: its scheduler stops first
};

} // namespace

SLUICE_KERNEL_PLUGIN(lm_kernel, "lm", "0.1.0")

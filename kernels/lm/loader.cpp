#include "loader.hpp"

namespace sluice::lm {

weight_view view_of(const tensor& t) {
    weight_view w;
    switch (t.type) {
    case ggml_type::f32: w.type = weight_type::f32; break;
    case ggml_type::f16: w.type = weight_type::f16; break;
    case ggml_type::q8_0: w.type = weight_type::q8_0; break;
    default: throw format_error("tensor " + t.name + " has unsupported type " + std::string(to_string(t.type)));
    }
    if (t.dims.empty() || t.dims.size() > 2 || t.dims[0] > 0xffffffffull ||
        (t.dims.size() == 2 && t.dims[1] > 0xffffffffull))
        throw format_error("tensor " + t.name + " is not a vector or a matrix the lm kernel can use");
    w.cols = std::uint32_t(t.dims[0]);
    w.rows = t.dims.size() == 2 ? std::uint32_t(t.dims[1]) : 1;
    if (w.type == weight_type::q8_0 && w.cols % 32 != 0)
        throw format_error("tensor " + t.name + ": q8_0 rows must be a multiple of 32 values");
    if (w.bytes() > t.bytes) throw format_error("tensor " + t.name + " is shorter than its shape");
    w.data = t.data;
    return w;
}

std::shared_ptr<const loaded_model> load_gguf(const std::filesystem::path& path) {
    auto m = std::make_shared<loaded_model>(loaded_model{gguf_file::open(path), {}, {}, {}, {}});
    const auto& f = m->file;
    const auto hp = read_hparams(f);
    m->hparams = hp;
    auto& c = m->weights.config;
    c.arch = hp.arch;
    c.vocab = hp.vocab;
    c.dim = hp.dim;
    c.layers = hp.layers;
    c.ffn = hp.ffn;
    c.heads = hp.heads;
    c.kv_heads = hp.kv_heads;
    c.head_dim = hp.head_dim;
    c.context = hp.context;
    c.rope_dims = hp.rope_dims;
    c.rope_base = float(hp.rope_base);
    c.rms_eps = float(hp.rms_eps);
    c.rope_neox = hp.rope_neox;

    const auto get = [&](const std::string& name) { return view_of(f.get_tensor(name)); };
    const auto maybe = [&](const std::string& name) {
        const auto* t = f.find_tensor(name);
        return t ? view_of(*t) : weight_view{};
    };
    auto& w = m->weights;
    w.token_embd = get("token_embd.weight");
    w.output_norm = get("output_norm.weight");
    w.output = hp.tied_output ? w.token_embd : get("output.weight");
    for (std::uint32_t i = 0; i < hp.layers; ++i) {
        const std::string p = "blk." + std::to_string(i) + ".";
        auto& l = w.layers.emplace_back();
        l.attn_norm = get(p + "attn_norm.weight");
        l.wq = get(p + "attn_q.weight");
        l.wk = get(p + "attn_k.weight");
        l.wv = get(p + "attn_v.weight");
        l.wo = get(p + "attn_output.weight");
        l.bq = maybe(p + "attn_q.bias");
        l.bk = maybe(p + "attn_k.bias");
        l.bv = maybe(p + "attn_v.bias");
        l.ffn_norm = get(p + "ffn_norm.weight");
        l.gate = get(p + "ffn_gate.weight");
        l.up = get(p + "ffn_up.weight");
        l.down = get(p + "ffn_down.weight");
    }
    m->tokenizer = tokenizer::from_gguf(f);
    m->name = f.get_string("general.name", path.stem().string());
    return m;
}

} // namespace sluice::lm

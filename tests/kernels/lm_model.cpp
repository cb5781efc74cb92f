// The lm kernel from a GGUF file: random models written here in F32, F16 and Q8_0 load and match
// the reference forward; the shipped tiny model matches its golden logits; and sluice_lm.so
// serves chat through the plugin host (events, usage with prefix-cache hits, load, cancel, errors).

#include "loader.hpp"
#include "model.hpp"

#include "gguf_writer.hpp"
#include "lm_reference.hpp"

#include <sluice/plugin/host.hpp>

#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include <unistd.h>

using namespace sluice;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace ref = lm_reference;

namespace {

const fs::path source_dir = SLUICE_SOURCE_DIR;
const fs::path plugin_path = fs::path(SLUICE_LM_PLUGIN_DIR) / "sluice_lm.so";

/// A folder for the files the tests write, removed when the test program ends.
struct scratch_folder {
    fs::path dir = fs::temp_directory_path() / ("sluice-lm-test-" + std::to_string(::getpid()));
    ~scratch_folder() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
} scratch_files;

fs::path scratch(const std::string& name) {
    fs::create_directories(scratch_files.dir);
    return scratch_files.dir / name;
}

std::string bytes_of(const ref::matrix& m) { return std::string(m.bytes.begin(), m.bytes.end()); }

sluice::test::bpe_vocab test_bpe() {
    return sluice::test::make_bpe_vocab({"Hello", " world", " the", "ing", "\n\n", "user", "assistant"});
}

const std::uint32_t test_vocab = std::uint32_t(test_bpe().tokens.size());

/// Writes `m` as a GGUF of its architecture with a small byte-level BPE vocabulary (ChatML specials).
void write_gguf(const ref::random_model& m, const fs::path& path) {
    const auto v = test_bpe();
    REQUIRE(v.tokens.size() == m.weights.config.vocab);
    const auto& c = m.weights.config;
    const std::string a = c.arch;
    sluice::test::gguf_writer w;
    w.add_string("general.architecture", a).add_string("general.name", "random-" + a);
    w.add_u32(a + ".context_length", c.context).add_u32(a + ".embedding_length", c.dim);
    w.add_u32(a + ".block_count", c.layers).add_u32(a + ".feed_forward_length", c.ffn);
    w.add_u32(a + ".attention.head_count", c.heads).add_u32(a + ".attention.head_count_kv", c.kv_heads);
    w.add_f32(a + ".attention.layer_norm_rms_epsilon", c.rms_eps).add_f32(a + ".rope.freq_base", c.rope_base);
    w.add_u32(a + ".rope.dimension_count", c.rope_dims);
    w.add_string("tokenizer.ggml.model", "gpt2").add_string("tokenizer.ggml.pre", "gpt2");
    w.add_strings("tokenizer.ggml.tokens", v.tokens).add_i32s("tokenizer.ggml.token_type", v.types);
    w.add_strings("tokenizer.ggml.merges", v.merges);
    w.add_u32("tokenizer.ggml.bos_token_id", std::uint32_t(v.tokens.size() - 3));
    w.add_u32("tokenizer.ggml.eos_token_id", std::uint32_t(v.tokens.size() - 1));
    w.add_string("tokenizer.chat_template", "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n'}}{% endfor %}");
    const auto tensor = [&](const std::string& name, const ref::matrix& t) {
        if (t.rows == 1)
            w.add_tensor(name, std::uint32_t(t.type), {t.cols}, bytes_of(t));
        else
            w.add_tensor(name, std::uint32_t(t.type), {t.cols, t.rows}, bytes_of(t));
    };
    tensor("token_embd.weight", m.embd);
    tensor("output_norm.weight", m.out_norm);
    tensor("output.weight", m.out);
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
        const auto& l = m.layers[i];
        const std::string p = "blk." + std::to_string(i) + ".";
        tensor(p + "attn_norm.weight", l.attn_norm);
        tensor(p + "attn_q.weight", l.wq);
        tensor(p + "attn_k.weight", l.wk);
        tensor(p + "attn_v.weight", l.wv);
        tensor(p + "attn_output.weight", l.wo);
        if (l.bq.rows) {
            tensor(p + "attn_q.bias", l.bq);
            tensor(p + "attn_k.bias", l.bk);
            tensor(p + "attn_v.bias", l.bv);
        }
        tensor(p + "ffn_norm.weight", l.ffn_norm);
        tensor(p + "ffn_gate.weight", l.gate);
        tensor(p + "ffn_up.weight", l.up);
        tensor(p + "ffn_down.weight", l.down);
    }
    w.write(path);
}

std::vector<float> prefill(lm::model& m, const std::vector<std::int32_t>& tokens) {
    lm::forward_batch b;
    const std::uint32_t bs = m.block_size();
    for (std::uint32_t i = 0; i < (tokens.size() + bs - 1) / bs; ++i) b.tables.push_back(i);
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

/// One request's events through the plugin.
class answer {
public:
    plugin::event_sink sink() {
        return [this](core::event&& e) {
            std::lock_guard lock(mutex_);
            const bool last = core::is_terminal(e);
            events_.push_back(std::move(e));
            if (last || std::holds_alternative<core::block_delta>(events_.back())) changed_.notify_all();
        };
    }
    bool wait() {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, 60s, [this] { return !events_.empty() && core::is_terminal(events_.back()); });
    }
    bool wait_for_text() {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, 60s, [this] {
            return !events_.empty() && (std::holds_alternative<core::block_delta>(events_.back()) ||
                                        core::is_terminal(events_.back()));
        });
    }
    std::vector<core::event> events() {
        std::lock_guard lock(mutex_);
        return events_;
    }
    std::string text() {
        std::string t;
        for (const auto& e : events())
            if (const auto* d = std::get_if<core::block_delta>(&e)) t += d->text;
        return t;
    }
    core::usage usage() {
        core::usage u;
        for (const auto& e : events())
            if (const auto* x = std::get_if<core::usage>(&e)) u += *x;
        return u;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<core::event> events_;
};

std::shared_ptr<plugin::kernel> make_lm() {
    plugin::host host;
    auto made = host.create_kernel(plugin_path.string());
    REQUIRE(made);
    return std::move(made).value();
}

core::envelope chat(std::string text, std::uint32_t max_tokens, double temperature = 0) {
    core::envelope e;
    e.model = "tiny";
    e.system.push_back(core::text_part{"You are brief.", {}});
    e.messages.push_back(core::message::user(std::move(text)));
    e.sampling.temperature = temperature;
    e.sampling.max_output_tokens = max_tokens;
    return e;
}

} // namespace

TEST_CASE("lm loads F32 F16 and Q8_0 GGUF files and matches the reference forward", "[lm][model][gguf]") {
    const auto type = GENERATE(lm::weight_type::f32, lm::weight_type::f16, lm::weight_type::q8_0);
    const bool qwen = GENERATE(false, true);
    INFO("type " << int(type) << (qwen ? " qwen2" : " llama"));
    const auto rm = ref::make_random_model(type, 31, qwen, qwen, test_vocab);
    const auto path = scratch("random-" + std::to_string(int(type)) + (qwen ? "-qwen2" : "-llama") + ".gguf");
    write_gguf(*rm, path);
    const auto loaded = lm::load_gguf(path);
    CHECK(loaded->name == (qwen ? "random-qwen2" : "random-llama"));
    CHECK(loaded->weights.config.rope_neox == qwen);
    lm::model m(loaded->weights, 8, 16, 2);
    const std::vector<std::int32_t> tokens{258, 5, 72, 101, 200, 0, 13};
    // The AVX2 Q8_0 path quantises activations (lm_ops.cpp checks it against its exact twin).
    const bool q8_activations = type == lm::weight_type::q8_0 && std::string(lm::model::backend()).find("+avx2") != std::string::npos;
    CHECK(ref::normalised_error(prefill(m, tokens), ref::reference_forward(*rm, tokens)) < (q8_activations ? 8e-2 : 1e-4));
}

TEST_CASE("lm matches the tiny model's golden logits and greedy tokens", "[lm][model][golden]") {
    const auto gguf = source_dir / "models/sluice-tiny.gguf";
    const auto golden_path = source_dir / "models/sluice-tiny.golden.json";
    if (!fs::exists(gguf) || !fs::exists(golden_path)) {
        WARN("models/sluice-tiny.gguf or its golden file is missing: nothing to compare");
        return;
    }
    std::ifstream in(golden_path);
    std::stringstream text;
    text << in.rdbuf();
    const auto golden = boost::json::parse(text.str()).as_object();
    const double tol = golden.at("tolerance").as_object().at("abs").to_number<double>();
    std::vector<std::int32_t> tokens;
    for (const auto& t : golden.at("tokens").as_array()) tokens.push_back(std::int32_t(t.to_number<std::int64_t>()));

    const auto loaded = lm::load_gguf(gguf);
    const auto& c = loaded->weights.config;
    lm::model m(loaded->weights, std::uint32_t((c.context + 15) / 16 + 1), 16, 2);
    const auto logits = prefill(m, tokens);
    const auto compare = [&](std::size_t pos, const boost::json::array& want) {
        REQUIRE(want.size() == c.vocab);
        double worst = 0;
        for (std::size_t i = 0; i < want.size(); ++i)
            worst = std::max(worst, std::fabs(double(logits[pos * c.vocab + i]) - want[i].to_number<double>()));
        INFO("position " << pos << ": max abs difference " << worst << ", tolerance " << tol);
        CHECK(worst <= tol);
    };
    compare(tokens.size() - 1, golden.at("logits_last").as_array());
    for (const auto& [pos, row] : golden.at("logits_positions").as_object())
        compare(std::stoul(std::string(pos)), row.as_array());

    // Greedy decoding, one token a step on the same cache.
    std::vector<std::int32_t> greedy;
    auto seq = tokens;
    std::vector<float> step;
    const auto want = golden.at("greedy_next").as_array();
    std::vector<std::int32_t> expected;
    for (const auto& t : want) expected.push_back(std::int32_t(t.to_number<std::int64_t>()));
    std::int32_t next = lm::sampler::argmax(std::span<const float>(logits).subspan((tokens.size() - 1) * c.vocab, c.vocab));
    for (std::size_t i = 0; i < expected.size(); ++i) {
        greedy.push_back(next);
        lm::forward_batch b;
        for (std::uint32_t k = 0; k < m.kv_blocks(); ++k) b.tables.push_back(k);
        b.tokens = {next};
        b.positions = {std::uint32_t(seq.size())};
        b.table_offset = {0};
        b.logit_rows = {0};
        seq.push_back(next);
        m.forward(b, step);
        next = lm::sampler::argmax(step);
    }
    CHECK(greedy == expected);

    SECTION("the plugin answers the golden chat with the golden greedy text") {
        auto k = make_lm();
        REQUIRE(k->load({"sluice-tiny", gguf.string(), boost::json::parse(R"({"threads": 2})").as_object()}));
        core::envelope e;
        e.model = "sluice-tiny";
        for (const auto& msg : golden.at("messages").as_array()) {
            const auto& o = msg.as_object();
            const auto role = core::role_from_string(std::string(o.at("role").as_string()));
            REQUIRE(role);
            if (*role == core::role::system)
                e.system.push_back(core::text_part{std::string(o.at("content").as_string()), {}});
            else
                e.messages.push_back(core::message{*role, {core::text_part{std::string(o.at("content").as_string()), {}}}, {}});
        }
        e.sampling.temperature = 0;
        e.sampling.max_output_tokens = std::uint32_t(expected.size());
        answer a;
        REQUIRE(k->submit(e, a.sink()));
        REQUIRE(a.wait());
        CHECK(a.usage().prompt() == tokens.size());
        const std::string want_text(golden.at("greedy_next_text").as_string());
        CHECK(a.text() == want_text.substr(0, a.text().size()));
    }
}

TEST_CASE("sluice_lm.so serves chat through the plugin host", "[lm][plugin]") {
    const auto rm = ref::make_random_model(lm::weight_type::q8_0, 41, false, false, test_vocab);
    const auto path = scratch("plugin-q8_0.gguf");
    write_gguf(*rm, path);
    auto k = make_lm();
    REQUIRE(k->load({"tiny", path.string(),
                     boost::json::parse(R"({"threads": 2, "kv_blocks": 64, "block_size": 4, "max_batch": 4})").as_object()}));
    const auto info = k->describe();
    CHECK(info.name == "lm");
    CHECK(info.model == "tiny");
    CHECK(info.endpoints.contains(core::endpoint::chat));
    CHECK(info.context_window == 512);
    CHECK(k->current_load().kv_blocks_total == 64);

    answer first;
    REQUIRE(k->submit(chat("Hello world", 5), first.sink()));
    REQUIRE(first.wait());
    const auto events = first.events();
    REQUIRE(events.size() >= 5);
    CHECK(std::get<core::message_start>(events.front()).model == "tiny");
    CHECK(std::holds_alternative<core::block_start>(events[1]));
    const auto& stop = std::get<core::message_stop>(events.back());
    CHECK((stop.finish == core::finish_reason::length || stop.finish == core::finish_reason::stop));
    const auto u1 = first.usage();
    CHECK(u1.input > 5);
    CHECK(u1.cache_read == 0);
    CHECK(u1.output >= 1);

    // The same conversation again: its full prompt blocks come from the prefix cache.
    answer second;
    REQUIRE(k->submit(chat("Hello world", 5), second.sink()));
    REQUIRE(second.wait());
    const auto u2 = second.usage();
    CHECK(u2.cache_read > 0);
    CHECK(u2.cache_read == (u1.prompt() - 1) / 4 * 4);
    CHECK(u2.prompt() == u1.prompt());
    CHECK(second.text() == first.text());
    const auto load = k->current_load();
    CHECK(load.kv_blocks_used == 0);
    CHECK(load.prefix_cache_hit_rate > 0);

    SECTION("cancel frees the blocks and ends with the reason") {
        answer a;
        auto id = k->submit(chat("the the the", 400, 0.7), a.sink());
        REQUIRE(id);
        REQUIRE(a.wait_for_text());
        REQUIRE(k->cancel(*id, core::error{core::error_kind::timeout, "client gone", {}, {}}));
        CHECK(k->current_load().kv_blocks_used == 0);
        REQUIRE(a.wait());
        const auto* err = std::get_if<core::error>(&a.events().back());
        REQUIRE(err);
        CHECK(err->message == "client gone");
    }
    SECTION("a prompt over the context window is refused at submit") {
        answer a;
        std::string huge;
        for (int i = 0; i < 400; ++i) huge += " the world";
        auto refused = k->submit(chat(huge, 4), a.sink());
        REQUIRE_FALSE(refused);
        CHECK(refused.error().kind == core::error_kind::invalid_request);
        CHECK(a.events().empty());
    }
    SECTION("bad sampling values are refused") {
        answer a;
        auto e = chat("Hello", 4);
        e.sampling.top_p = 1.5;
        auto refused = k->submit(e, a.sink());
        REQUIRE_FALSE(refused);
        CHECK(refused.error().param == "top_p");
    }
}

TEST_CASE("sluice_lm.so names what is wrong with a model file", "[lm][plugin]") {
    auto k = make_lm();
    const auto missing = k->load({"x", "/nonexistent/model.gguf", {}});
    REQUIRE_FALSE(missing);
    CHECK(missing.error().kind == core::error_kind::not_found);

    const auto junk = scratch("junk.gguf");
    sluice::test::gguf_writer::write_bytes(junk, "this is not a model file at all");
    const auto bad = k->load({"x", junk.string(), {}});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().kind == core::error_kind::invalid_request);
    CHECK(bad.error().message.find("not a GGUF file") != std::string::npos);

    answer a;
    auto refused = k->submit(chat("Hello", 4), a.sink());
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == core::error_kind::overloaded);
}

TEST_CASE("lm matches tools/reference_forward.py on a generated random GGUF", "[lm][model][numpy]") {
    const auto maker = source_dir / "tools/make_random_gguf.py";
    const auto reference = source_dir / "tools/reference_forward.py";
    // Debian's python3 has python3-numpy (scripts/install-deps); a python3 earlier on PATH may not.
    const std::string py = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    if (!fs::exists(maker) || !fs::exists(reference) || !fs::exists(source_dir / "models/sluice-tiny.gguf") ||
        std::system((py + " -c 'import numpy' 2>/dev/null").c_str()) != 0) {
        WARN("tools/make_random_gguf.py, tools/reference_forward.py, the tiny model (its tokenizer) or numpy "
             "is missing: nothing to compare");
        return;
    }
    const auto type = GENERATE(as<std::string>{}, "f16", "q8_0");
    const auto gguf = scratch("tiny-test-" + type + ".gguf");
    const auto out = scratch("tiny-test-" + type + ".json");
    const std::string make = py + " '" + maker.string() + "' --shape tiny-test --type " + type + " --out '" +
                             gguf.string() + "' > /dev/null";
    REQUIRE(std::system(make.c_str()) == 0);
    const std::vector<std::int32_t> tokens{1, 2, 3, 10, 20, 30, 7};
    std::string list;
    for (auto t : tokens) list += (list.empty() ? "" : ",") + std::to_string(t);
    const std::string run = py + " '" + reference.string() + "' --gguf '" + gguf.string() + "' --tokens " + list +
                            " > '" + out.string() + "'";
    REQUIRE(std::system(run.c_str()) == 0);
    std::ifstream in(out);
    std::stringstream text;
    text << in.rdbuf();
    const auto want = boost::json::parse(text.str()).as_object().at("logits_last").as_array();

    const auto loaded = lm::load_gguf(gguf);
    lm::model m(loaded->weights, 4, 16, 2);
    const auto logits = prefill(m, tokens);
    const auto vocab = loaded->weights.config.vocab;
    REQUIRE(want.size() == vocab);
    std::vector<float> last(logits.end() - vocab, logits.end()), expect;
    for (const auto& v : want) expect.push_back(float(v.to_number<double>()));
    CHECK(ref::normalised_error(last, expect) < (type == "q8_0" ? 8e-2 : 1e-3));
}

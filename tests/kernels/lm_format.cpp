#include "gguf.hpp"
#include "tokenizer.hpp"
#include "chat_template.hpp"

#include "gguf_writer.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace lm = sluice::lm;
namespace fs = std::filesystem;
using sluice::test::gguf_writer;

namespace {

// One scratch file per call, removed at scope exit.
class temp_file {
public:
    temp_file() {
        static std::atomic<int> n{0};
        path_ = fs::temp_directory_path() /
                ("sluice_lm_format_" + std::to_string(::getpid()) + "_" + std::to_string(n++) + ".gguf");
    }
    ~temp_file() {
        std::error_code ec;
        fs::remove(path_, ec);
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

lm::gguf_file open_bytes(const temp_file& f, std::string_view bytes) {
    gguf_writer::write_bytes(f.path(), bytes);
    return lm::gguf_file::open(f.path());
}

lm::gguf_file open_writer(const temp_file& f, const gguf_writer& w) { return open_bytes(f, w.bytes()); }

// The message of the format_error that opening these bytes throws ("" when it opens).
std::string open_error(std::string_view bytes) {
    temp_file f;
    try {
        (void)open_bytes(f, bytes);
    } catch (const lm::format_error& e) {
        return e.what();
    }
    return "";
}

gguf_writer tiny_model(std::string_view arch = "llama") {
    gguf_writer w;
    sluice::test::add_tiny_model(w, arch, 300);
    return w;
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

} // namespace

// ---- loader -------------------------------------------------------------------------------------

TEST_CASE("the GGUF loader names what is wrong with a bad file", "[lm][gguf]") {
    SECTION("not a GGUF file") {
        CHECK(contains(open_error("hello world, not a model"), "not a GGUF file (magic 0x6c6c6568"));
        CHECK(open_error("") == "not a GGUF file (only 0 bytes)");
        CHECK(open_error("GG") == "not a GGUF file (only 2 bytes)");
    }
    SECTION("version 1 is refused by number") {
        auto w = tiny_model();
        w.version = 1;
        CHECK(open_error(w.bytes()) == "unsupported GGUF version 1");
        w.version = 4;
        CHECK(open_error(w.bytes()) == "unsupported GGUF version 4");
    }
    SECTION("truncated at every part of the file") {
        const auto bytes = tiny_model().bytes();
        // In the header, in the keys, in the tensor infos, in the padding, in the last tensor.
        for (const std::size_t cut : {std::size_t{6}, std::size_t{20}, std::size_t{40}, std::size_t{200},
                                      bytes.size() / 4, bytes.size() / 2, bytes.size() - 1}) {
            INFO("cut at " << cut << " of " << bytes.size());
            const auto msg = open_error(std::string_view(bytes).substr(0, cut));
            CHECK(contains(msg, "truncated"));
        }
        CHECK(open_error(std::string_view(bytes).substr(0, 6)) == "truncated: header needs bytes up to 8, file has 6");
        const auto last = open_error(std::string_view(bytes).substr(0, bytes.size() - 1));
        CHECK(last == "truncated: tensor blk.1.ffn_down.weight needs bytes up to " + std::to_string(bytes.size()) +
                          ", file has " + std::to_string(bytes.size() - 1));
    }
    SECTION("an unsupported tensor type is named") {
        auto w = tiny_model();
        w.add_tensor("extra.weight", 12, {256}, std::string(144, '\0'));
        CHECK(open_error(w.bytes()) == "tensor extra.weight has unsupported type q4_K");
        auto w2 = tiny_model();
        w2.add_tensor("odd.weight", 2, {32}, std::string(18, '\0'));
        CHECK(open_error(w2.bytes()) == "tensor odd.weight has unsupported type q4_0");
        auto w3 = tiny_model();
        w3.add_tensor("alien.weight", 200, {4}, std::string(16, '\0'));
        CHECK(open_error(w3.bytes()) == "tensor alien.weight has unsupported type type 200");
    }
    SECTION("an unsupported architecture is named") {
        gguf_writer w;
        w.add_string("general.architecture", "mamba");
        CHECK(open_error(w.bytes()) == "unsupported architecture 'mamba' (supported: llama, qwen2)");
        gguf_writer none;
        none.add_u32("general.alignment", 32);
        CHECK(open_error(none.bytes()) == "missing key general.architecture");
    }
    SECTION("a missing hyper-parameter or tensor is named") {
        gguf_writer w;
        w.add_string("general.architecture", "llama");
        w.add_u32("llama.embedding_length", 8);
        temp_file f;
        const auto file = open_writer(f, w);
        CHECK_THROWS_WITH(lm::read_hparams(file), "missing key llama.block_count");
        CHECK_THROWS_WITH(file.get_tensor("token_embd.weight"), "missing tensor token_embd.weight");
        CHECK_THROWS_WITH(file.get_string("llama.embedding_length"),
                          "key llama.embedding_length is an unsigned integer, not a string");
    }
    SECTION("hostile lengths fail before anything is allocated") {
        gguf_writer w;
        w.add_string("general.architecture", "llama");
        w.add("tokenizer.ggml.tokens", gguf_writer::t_array,
              gguf_writer::bytes_of(std::uint32_t{gguf_writer::t_string}) + gguf_writer::bytes_of(std::uint64_t{1} << 60));
        CHECK(contains(open_error(w.bytes()), "truncated: key tokenizer.ggml.tokens claims 1152921504606846976 elements"));

        gguf_writer s;
        s.add("general.architecture", gguf_writer::t_string, gguf_writer::bytes_of(std::uint64_t{1} << 62) + "llama");
        CHECK(contains(open_error(s.bytes()), "string length 4611686018427387904 is too large"));

        auto header = std::string("GGUF") + gguf_writer::bytes_of(std::uint32_t{3}) +
                      gguf_writer::bytes_of(std::uint64_t{1} << 61) + gguf_writer::bytes_of(std::uint64_t{0});
        CHECK(contains(open_error(header), "truncated: header claims"));
        header = std::string("GGUF") + gguf_writer::bytes_of(std::uint32_t{3}) + gguf_writer::bytes_of(std::uint64_t{0}) +
                 gguf_writer::bytes_of(~std::uint64_t{0});
        CHECK(contains(open_error(header), "truncated: header claims"));

        gguf_writer big;
        big.add_string("general.architecture", "llama");
        big.add_tensor("huge.weight", 0, {1ull << 40, 1ull << 40}, "");
        CHECK(open_error(big.bytes()) == "tensor huge.weight is too large");
        gguf_writer dims;
        dims.add_string("general.architecture", "llama");
        dims.add_tensor("five.weight", 0, {1, 1, 1, 1, 1}, std::string(4, '\0'));
        CHECK(open_error(dims.bytes()) == "tensor five.weight has 5 dimensions (1 to 4 allowed)");
    }
    SECTION("q8_0 rows must be whole blocks") {
        gguf_writer w;
        w.add_string("general.architecture", "llama");
        w.add_tensor("q.weight", 8, {16, 2}, std::string(34, '\0'));
        CHECK(open_error(w.bytes()) == "tensor q.weight is q8_0 but its first dimension 16 is not a multiple of 32");
    }
    SECTION("the alignment must be a power of two") {
        gguf_writer w;
        w.add_string("general.architecture", "llama").add_u32("general.alignment", 48);
        CHECK(open_error(w.bytes()) == "general.alignment 48 is not a power of two up to 1 MiB");
        gguf_writer s;
        s.add_string("general.architecture", "llama").add_string("general.alignment", "32");
        CHECK(open_error(s.bytes()) == "key general.alignment is a string, not an unsigned integer");
    }
    SECTION("unknown value types and duplicate keys") {
        gguf_writer w;
        w.add_string("general.architecture", "llama");
        w.add("odd", 99, "");
        CHECK(open_error(w.bytes()) == "key odd has unknown value type 99");
        gguf_writer d;
        d.add_string("general.architecture", "llama").add_string("general.architecture", "qwen2");
        CHECK(open_error(d.bytes()) == "duplicate key general.architecture");
    }
}

TEST_CASE("a GGUF file written here reads back the same", "[lm][gguf]") {
    const auto version = GENERATE(2u, 3u);
    const auto alignment = GENERATE(std::uint64_t{32}, std::uint64_t{64});
    gguf_writer w;
    w.version = version;
    w.alignment = alignment;
    w.add_string("general.architecture", "qwen2").add_string("general.name", "round trip");
    w.add_u64("test.u64", 1ull << 40).add_i32("test.i32", -7).add_f32("test.f32", 0.25f).add_bool("test.bool", true);
    w.add_strings("test.strings", {"a", "", "ü"}).add_i32s("test.ints", {1, -2, 3}).add_f32s("test.floats", {0.5f, -1.5f});
    std::string f16(2 * 3 * 2, '\0');
    for (std::size_t i = 0; i < f16.size(); ++i) f16[i] = static_cast<char>(i + 1);
    std::string q8(34 * 2, '\0');
    for (std::size_t i = 0; i < q8.size(); ++i) q8[i] = static_cast<char>(i * 7);
    w.add_tensor("h.weight", 1, {3, 2}, f16).add_tensor("q.weight", 8, {64}, q8).add_f32_tensor("f.weight", {5}, 2.0f);

    temp_file tmp;
    auto file = open_writer(tmp, w);
    CHECK(file.version() == version);
    CHECK(file.architecture() == "qwen2");
    CHECK(file.get_string("general.name") == "round trip");
    CHECK(file.get_uint("test.u64") == (1ull << 40));
    CHECK(file.get_float("test.f32") == 0.25);
    CHECK(file.get_float("test.u64") == static_cast<double>(1ull << 40));
    CHECK(std::get<std::int64_t>(*file.find("test.i32")) == -7);
    CHECK_THROWS_WITH(file.get_uint("test.i32"), "key test.i32 is a signed integer, not an unsigned integer");
    CHECK(file.get_bool("test.bool", false));
    CHECK(file.get_uint("absent", 9) == 9);
    CHECK(file.get_string("absent", "x") == "x");
    CHECK(file.get_float("absent", 1.5) == 1.5);
    CHECK(std::get<std::vector<std::string>>(*file.find("test.strings")) == std::vector<std::string>{"a", "", "ü"});
    CHECK(std::get<std::vector<std::int64_t>>(*file.find("test.ints")) == std::vector<std::int64_t>{1, -2, 3});
    CHECK(std::get<std::vector<double>>(*file.find("test.floats")) == std::vector<double>{0.5, -1.5});
    CHECK(file.find("absent") == nullptr);

    REQUIRE(file.tensors().size() == 3);
    const auto& h = file.get_tensor("h.weight");
    CHECK(h.type == lm::ggml_type::f16);
    CHECK(h.dims == std::vector<std::uint64_t>{3, 2});
    CHECK(h.elements() == 6);
    CHECK(h.bytes == 12);
    CHECK(std::memcmp(h.data, f16.data(), f16.size()) == 0);
    const auto& q = file.get_tensor("q.weight");
    CHECK(q.type == lm::ggml_type::q8_0);
    CHECK(q.bytes == 68);
    CHECK(std::memcmp(q.data, q8.data(), q8.size()) == 0);
    const auto& f = *file.find_tensor("f.weight");
    CHECK(f.bytes == 20);
    float first = 0;
    std::memcpy(&first, f.data, 4);
    CHECK(first == 2.0f);
    for (const auto& t : file.tensors()) CHECK(reinterpret_cast<std::uintptr_t>(t.data) % alignment == 0);
    CHECK(file.find_tensor("nope") == nullptr);
    CHECK(lm::to_string(lm::ggml_type::q8_0) == "q8_0");

    // Moving keeps the tensors' views valid: the map moves with the file.
    const auto* data = q.data;
    auto moved = std::move(file);
    CHECK(moved.get_tensor("q.weight").data == data);
}

TEST_CASE("hyper-parameters are read and checked against the tensors", "[lm][gguf]") {
    SECTION("llama with its defaults") {
        auto w = tiny_model("llama");
        temp_file f;
        const auto file = open_writer(f, w);
        const auto h = lm::read_hparams(file);
        CHECK(h.arch == "llama");
        CHECK(h.vocab == 300);
        CHECK(h.dim == 8);
        CHECK(h.layers == 2);
        CHECK(h.ffn == 16);
        CHECK(h.heads == 2);
        CHECK(h.kv_heads == 1);
        CHECK(h.head_dim == 4);
        CHECK(h.context == 64);
        CHECK(h.rope_dims == 4);
        CHECK(h.rope_base == 10000.0);
        CHECK(h.rms_eps == Approx(1e-5));
        CHECK_FALSE(h.rope_neox);
        CHECK(h.tied_output);
        CHECK_FALSE(h.qkv_bias);
    }
    SECTION("qwen2 with biases and an output matrix") {
        gguf_writer w;
        sluice::test::add_tiny_model(w, "qwen2", 300, true);
        w.add_f32_tensor("output.weight", {8, 300});
        temp_file f;
        const auto h = lm::read_hparams(open_writer(f, w));
        CHECK(h.rope_neox);
        CHECK(h.qkv_bias);
        CHECK_FALSE(h.tied_output);
    }
    SECTION("inconsistent shapes are refused") {
        auto w = tiny_model("llama");
        w.add_u32("llama.attention.head_count", 3);
        temp_file f;
        CHECK_THROWS_WITH(open_writer(f, w), "duplicate key llama.attention.head_count");

        gguf_writer bad;
        sluice::test::add_tiny_model(bad, "llama", 300);
        bad.add_f32_tensor("output.weight", {8, 299});
        temp_file g;
        CHECK_THROWS_WITH(lm::read_hparams(open_writer(g, bad)), "tensor output.weight has shape [8, 299], expected [8, 300]");
    }
}

// ---- tokenizers ---------------------------------------------------------------------------------

namespace {

const std::vector<std::string> round_trip_texts{
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you'll see it's done, isn't it?",
    "   leading and trailing   ",
    "spaces:  two   three    four\ttabs\t\ttwo",
    "line one\nline two\n\nafter blank\r\nwindows\n   indented\n",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c9cole \u65e5\u672c\u8a9e",
    "emoji \U0001F600 and \U0001F680 rocket \U0001F469\u200D\U0001F4BB",
    "invalid \xff\xfe bytes \xc3 cut \xe2\x82 and \x80 stray",
    std::string("nul \0 inside", 12),
    "",
    "x",
    "1234567890 3.14159 a+b=c; x->y",
};

struct bpe_fixture {
    temp_file file;
    lm::gguf_file gguf;
    lm::tokenizer tok;
};

gguf_writer bpe_writer(std::string_view pre) {
    const auto v = sluice::test::make_bpe_vocab({"Hello", " world", " the", "ing", "\n\n", "  "});
    gguf_writer w;
    w.add_string("general.architecture", "llama");
    w.add_string("tokenizer.ggml.model", "gpt2").add_string("tokenizer.ggml.pre", pre);
    w.add_strings("tokenizer.ggml.tokens", v.tokens).add_i32s("tokenizer.ggml.token_type", v.types);
    w.add_strings("tokenizer.ggml.merges", v.merges);
    w.add_u32("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(v.tokens.size() - 3));
    w.add_u32("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(v.tokens.size() - 1));
    w.add_string("tokenizer.chat_template", "{{ '<|im_start|>' }}");
    return w;
}

gguf_writer spm_writer() {
    // Every merge on the way to a word is a piece, as SentencePiece's BPE vocabularies have.
    const auto v = sluice::test::make_spm_vocab({"\u2581", "H", "e", "l", "o", "w", "r", "d", "\u2581H", "\u2581He",
                                                 "\u2581Hel", "\u2581Hell", "\u2581Hello", "\u2581w", "\u2581wo",
                                                 "\u2581wor", "\u2581worl", "\u2581world", "<|user|>", "\u00e9", "\n"});
    gguf_writer w;
    w.add_string("general.architecture", "llama");
    w.add_string("tokenizer.ggml.model", "llama");
    w.add_strings("tokenizer.ggml.tokens", v.tokens).add_f32s("tokenizer.ggml.scores", v.scores);
    auto types = v.types;
    types[types.size() - 3] = 4; // <|user|> is user-defined
    w.add_i32s("tokenizer.ggml.token_type", types);
    w.add_u32("tokenizer.ggml.bos_token_id", 1).add_u32("tokenizer.ggml.eos_token_id", 2);
    return w;
}

std::vector<std::int32_t> ids_of(const lm::tokenizer& t, std::initializer_list<const char*> texts) {
    std::vector<std::int32_t> out;
    for (const char* s : texts) {
        const auto id = t.find(s);
        REQUIRE(id >= 0);
        out.push_back(id);
    }
    return out;
}

} // namespace

TEST_CASE("byte-level BPE tokenizes by merge rank and round-trips any bytes", "[lm][tokenizer]") {
    const auto pre = GENERATE(as<std::string>{}, "gpt2", "sluice", "qwen2", "llama3", "smollm");
    INFO("pre-tokenizer " << pre);
    temp_file f;
    const auto file = open_writer(f, bpe_writer(pre));
    const auto tok = lm::tokenizer::from_gguf(file);
    CHECK(tok.model() == lm::tokenizer::kind::gpt2);
    CHECK(tok.size() > 256 + 3);
    CHECK_FALSE(tok.add_bos());
    CHECK(tok.text(tok.bos()) == "<|endoftext|>");
    CHECK(tok.is_end_of_generation(tok.eos()));
    CHECK(tok.is_end_of_generation(tok.find("<|endoftext|>")));
    CHECK_FALSE(tok.is_end_of_generation(tok.find("<|im_start|>")));

    for (const auto& s : round_trip_texts) {
        INFO("text: " << s);
        const auto ids = tok.encode(s, false);
        CHECK(tok.decode(ids) == s);
        std::string pieces;
        for (const auto id : ids) pieces += tok.piece(id);
        CHECK(pieces == s);
    }
    CHECK(tok.encode("Hello world", false) == ids_of(tok, {"Hello", "\u0120world"}));
    CHECK(tok.encode("Hello", false).size() == 1);
    // Specials are text unless asked for, then one control token each (rendered as nothing).
    const std::string chat = "<|im_start|>user\nHello<|im_end|>";
    const auto plain = tok.encode(chat, false);
    CHECK(tok.decode(plain) == chat);
    const auto special = tok.encode(chat, true);
    REQUIRE(special.size() >= 3);
    CHECK(special.front() == tok.find("<|im_start|>"));
    CHECK(special.back() == tok.find("<|im_end|>"));
    CHECK(tok.decode(special) == "user\nHello");
    CHECK(tok.piece(special.front()).empty());
    CHECK(tok.text(special.front()) == "<|im_start|>");
}

TEST_CASE("the sluice pre-tokenizer splits as GPT-2's pattern over bytes", "[lm][tokenizer]") {
    // With no merges every byte is its own token, so the word boundaries show as the merges'
    // absence; here the merges exist and each expected word is one token.
    const auto v = sluice::test::make_bpe_vocab({"Hello", " world", "'s", " 42", "  ", " ", "\n", " caf\xc3\xa9", "!?"});
    gguf_writer w;
    w.add_string("general.architecture", "llama");
    w.add_string("tokenizer.ggml.model", "gpt2").add_string("tokenizer.ggml.pre", "sluice");
    w.add_strings("tokenizer.ggml.tokens", v.tokens).add_i32s("tokenizer.ggml.token_type", v.types);
    w.add_strings("tokenizer.ggml.merges", v.merges);
    temp_file f;
    const auto file = open_writer(f, w);
    const auto tok = lm::tokenizer::from_gguf(file);
    const auto word = [&](std::string_view s) {
        std::string mapped;
        for (const char c : s) mapped += sluice::test::byte_level_char(static_cast<unsigned char>(c));
        const auto id = tok.find(mapped);
        REQUIRE(id >= 0);
        return id;
    };
    CHECK(tok.encode("Hello's world 42", false) == std::vector<std::int32_t>{word("Hello"), word("'s"), word(" world"), word(" 42")});
    // "   world": two spaces, then " world" (\s+(?!\S) leaves one space to the word).
    CHECK(tok.encode("   world", false) == std::vector<std::int32_t>{word("  "), word(" world")});
    CHECK(tok.encode("Hello \n", false) == std::vector<std::int32_t>{word("Hello"), word(" "), word("\n")});
    CHECK(tok.encode(" caf\xc3\xa9!?", false) == std::vector<std::int32_t>{word(" caf\xc3\xa9"), word("!?")});
}

TEST_CASE("SentencePiece BPE merges by score and falls back to bytes", "[lm][tokenizer]") {
    temp_file f;
    const auto file = open_writer(f, spm_writer());
    const auto tok = lm::tokenizer::from_gguf(file);
    CHECK(tok.model() == lm::tokenizer::kind::llama);
    CHECK(tok.add_bos());
    CHECK(tok.bos() == 1);
    CHECK(tok.eos() == 2);
    CHECK(tok.is_end_of_generation(2));

    CHECK(tok.encode("Hello world", false) == ids_of(tok, {"\u2581Hello", "\u2581world"}));
    // 'x' is not in the vocabulary: its byte token. U+00E9 is a piece, U+00E8 is two byte tokens.
    CHECK(tok.encode("Hex", false) == ids_of(tok, {"\u2581He", "<0x78>"}));
    CHECK(tok.encode("\u00e9\u00e8", false) == ids_of(tok, {"\u2581", "\u00e9", "<0xC3>", "<0xA8>"}));
    CHECK(tok.piece(tok.find("<0x78>")) == "x");
    CHECK(tok.piece(tok.find("\u2581world")) == " world");
    CHECK(tok.piece(1).empty());

    for (const auto& s : round_trip_texts) {
        INFO("text: " << s);
        CHECK(tok.decode(tok.encode(s, false)) == s);
    }
    // BOS in front decodes to nothing; the space prefix still comes off.
    auto ids = tok.encode("Hello", false);
    ids.insert(ids.begin(), tok.bos());
    CHECK(tok.decode(ids) == "Hello");

    // User-defined tokens match whole, control tokens only when parsing specials.
    CHECK(tok.encode("Hello<|user|>", false) == ids_of(tok, {"\u2581Hello", "<|user|>"}));
    CHECK(tok.encode("<s>", true) == std::vector<std::int32_t>{1});
    CHECK(tok.encode("<s>", false).size() > 1);
}

TEST_CASE("tokenizer errors name the key", "[lm][tokenizer]") {
    SECTION("unknown model") {
        gguf_writer w;
        w.add_string("general.architecture", "llama").add_string("tokenizer.ggml.model", "bert");
        temp_file f;
        CHECK_THROWS_WITH(lm::tokenizer::from_gguf(open_writer(f, w)), "unsupported tokenizer model 'bert' (supported: gpt2, llama)");
    }
    SECTION("unknown pre-tokenizer") {
        temp_file f;
        CHECK_THROWS_WITH(lm::tokenizer::from_gguf(open_writer(f, bpe_writer("falcon"))),
                          "unsupported pre-tokenizer 'falcon' (supported: gpt2, sluice, qwen2, llama3, smollm)");
    }
    SECTION("missing tokens and mismatched arrays") {
        gguf_writer w;
        w.add_string("general.architecture", "llama").add_string("tokenizer.ggml.model", "llama");
        temp_file f;
        CHECK_THROWS_WITH(lm::tokenizer::from_gguf(open_writer(f, w)), "missing key tokenizer.ggml.tokens");
        w.add_strings("tokenizer.ggml.tokens", {"a", "b"}).add_f32s("tokenizer.ggml.scores", {1.0f});
        temp_file g;
        CHECK_THROWS_WITH(lm::tokenizer::from_gguf(open_writer(g, w)), "tokenizer.ggml.scores must be 2 floats");
    }
    SECTION("an out-of-range special id") {
        auto w = bpe_writer("gpt2");
        w.add_u32("tokenizer.ggml.eot_token_id", 100000);
        temp_file f;
        CHECK_THROWS_WITH(lm::tokenizer::from_gguf(open_writer(f, w)),
                          "key tokenizer.ggml.eot_token_id is 100000, not a token id");
    }
}

// ---- the tiny model's golden file -----------------------------------------------------------------

TEST_CASE("the tiny model's tokenizer gives the golden ids", "[lm][tokenizer][golden]") {
    const fs::path models = SLUICE_MODELS_DIR;
    const auto golden_path = models / "sluice-tiny.golden.json";
    const auto model_path = models / "sluice-tiny.gguf";
    if (!fs::exists(golden_path)) {
        WARN("models/sluice-tiny.golden.json is missing (tools/train_tiny_llama.py makes it with the model)");
        return;
    }
    REQUIRE(fs::exists(model_path)); // the golden file is only ever committed with its model
    std::ifstream in(golden_path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    const auto golden = boost::json::parse(text.str()).as_object();
    const auto file = lm::gguf_file::open(model_path);
    const auto tok = lm::tokenizer::from_gguf(file);
    const auto ids_of_json = [](const boost::json::value& v) {
        std::vector<std::int32_t> ids;
        for (const auto& x : v.as_array()) ids.push_back(static_cast<std::int32_t>(x.to_number<std::int64_t>()));
        return ids;
    };

    const auto& cases = golden.at("tokenizer_cases").as_array();
    REQUIRE_FALSE(cases.empty());
    for (const auto& c : cases) {
        const std::string s(c.at("text").as_string());
        INFO("text: " << s);
        const auto expected = ids_of_json(c.at("tokens"));
        CHECK(tok.encode(s, true) == expected);
        // The golden tool renders specials as text; this decode renders control tokens as nothing.
        std::string pieces;
        for (const auto id : expected) pieces += tok.piece(id).empty() ? tok.text(id) : tok.piece(id);
        CHECK(pieces == s);
    }

    // The chat prompt renders as the tool's template did and encodes to the golden ids.
    std::vector<lm::chat_message> messages;
    for (const auto& m : golden.at("messages").as_array()) {
        messages.push_back({std::string(m.at("role").as_string()), std::string(m.at("content").as_string())});
    }
    const auto prompt = lm::render_chat(file, messages, true);
    CHECK(prompt == std::string(golden.at("prompt").as_string()));
    CHECK(tok.encode(prompt, true) == ids_of_json(golden.at("tokens")));
    CHECK(tok.add_bos() == golden.at("add_bos").as_bool());
    CHECK(tok.is_end_of_generation(tok.find("<|im_end|>")));
    const auto h = lm::read_hparams(file);
    CHECK(h.vocab == tok.size());
}

// ---- chat templates -----------------------------------------------------------------------------

TEST_CASE("chat templates render each family by its markers", "[lm][chat]") {
    const std::vector<lm::chat_message> chat{{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", " Why? "}};
    SECTION("detection") {
        CHECK(lm::detect_chat_family("{{'<|im_start|>' + role}}") == lm::chat_family::chatml);
        CHECK(lm::detect_chat_family("{{ bos_token + '[INST] ' }}") == lm::chat_family::llama2);
        CHECK(lm::detect_chat_family("<|start_header_id|>{{ role }}<|end_header_id|>") == lm::chat_family::llama3);
        CHECK(lm::detect_chat_family("<|user|>\n{{ content }}") == lm::chat_family::zephyr);
        CHECK(lm::detect_chat_family("<start_of_turn>user") == lm::chat_family::gemma);
        CHECK(lm::detect_chat_family("{{ something else }}") == lm::chat_family::chatml);
        CHECK(lm::detect_chat_family("") == lm::chat_family::chatml);
    }
    SECTION("chatml") {
        CHECK(lm::render_chat(lm::chat_family::chatml, chat, true) ==
              "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
              "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n Why? <|im_end|>\n<|im_start|>assistant\n");
        CHECK(lm::render_chat(lm::chat_family::chatml, std::span(chat).first(2), false) ==
              "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
    }
    SECTION("llama2") {
        CHECK(lm::render_chat(lm::chat_family::llama2, chat, true) ==
              "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Why? [/INST]");
    }
    SECTION("llama3") {
        CHECK(lm::render_chat(lm::chat_family::llama3, chat, true) ==
              "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nWhy?<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
    }
    SECTION("zephyr") {
        CHECK(lm::render_chat(lm::chat_family::zephyr, chat, true) ==
              "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello!</s>\n<|user|>\n Why? </s>\n<|assistant|>\n");
    }
    SECTION("gemma") {
        CHECK(lm::render_chat(lm::chat_family::gemma, chat, true) ==
              "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
              "<start_of_turn>user\nWhy?<end_of_turn>\n<start_of_turn>model\n");
    }
    SECTION("from the file's template, with its own end token") {
        auto w = spm_writer();
        w.add_string("tokenizer.chat_template", "{% for m in messages %}<|user|>{% endfor %}");
        temp_file f;
        const auto file = open_writer(f, w);
        CHECK(lm::render_chat(file, std::span(chat).subspan(1, 1), true) == "<|user|>\nHi</s>\n<|assistant|>\n");
        temp_file g;
        const auto none = open_writer(g, tiny_model());
        CHECK(lm::render_chat(none, std::span(chat).subspan(1, 1), true) ==
              "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    }
}

// ---- utf8_streamer ------------------------------------------------------------------------------

namespace {

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += n;
    }
    return true;
}

} // namespace

TEST_CASE("utf8_streamer never emits a partial sequence", "[lm][utf8]") {
    const std::string text = "a\u00e9\u65e5\U0001F600z\u00e9\U0001F680";
    SECTION("every two-way and byte-by-byte cut gives the text back") {
        for (std::size_t cut = 0; cut <= text.size(); ++cut) {
            lm::utf8_streamer s;
            const auto a = s.push(std::string_view(text).substr(0, cut));
            const auto b = s.push(std::string_view(text).substr(cut));
            CHECK(valid_utf8(a));
            CHECK(valid_utf8(b));
            CHECK(a + b + s.flush() == text);
        }
        lm::utf8_streamer s;
        std::string all;
        for (const char c : text) {
            const auto out = s.push(std::string_view(&c, 1));
            CHECK(valid_utf8(out));
            all += out;
        }
        CHECK(s.flush().empty());
        CHECK(all == text);
    }
    SECTION("bytes that are never a character become U+FFFD") {
        lm::utf8_streamer s;
        CHECK(s.push("a\xff" "b") == "a\uFFFD" "b");
        CHECK(s.push("\xe6\x97") == "");
        CHECK(s.push("x") == "\uFFFD\uFFFDx");
        CHECK(s.push("\xc0\xaf") == "\uFFFD\uFFFD");
        CHECK(s.push("\xed\xa0\x80") == "\uFFFD\uFFFD\uFFFD"); // a surrogate
        CHECK(s.push("\xf0\x9f") == "");
        CHECK(s.flush() == "\uFFFD");
        CHECK(s.flush().empty());
    }
    SECTION("byte tokens stream through the tokenizer's pieces") {
        temp_file f;
        const auto file = open_writer(f, spm_writer());
        const auto tok = lm::tokenizer::from_gguf(file);
        lm::utf8_streamer s;
        std::string all;
        for (const auto id : tok.encode("\u00e8\U0001F600!", false)) {
            const auto out = s.push(tok.piece(id));
            CHECK(valid_utf8(out));
            all += out;
        }
        all += s.flush();
        CHECK(all == " \u00e8\U0001F600!");
    }
}

#include <sluice/kernels/embed.hpp>

#include "embed_reference.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

// The same file is built against sluice::embed_cpu and, where a GPU is visible, sluice::embed_cuda:
// one parity test for every backend present.

namespace embed = sluice::kernels::embed;
namespace ref = sluice::test::embed_reference;

namespace {

std::vector<float> encode(const std::vector<std::string>& texts, std::size_t dim = embed::default_dim) {
    const std::vector<std::string_view> views(texts.begin(), texts.end());
    return embed::encode(views, dim);
}

std::vector<float> row(const std::vector<float>& m, std::size_t r, std::size_t dim) {
    return {m.begin() + static_cast<std::ptrdiff_t>(r * dim), m.begin() + static_cast<std::ptrdiff_t>((r + 1) * dim)};
}

double norm(const std::vector<float>& v) {
    double s = 0;
    for (const float x : v) s += static_cast<double>(x) * x;
    return std::sqrt(s);
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    float d = 0;
    for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
    return d;
}

const std::vector<std::string> sample_texts{
    "Why was I charged twice?",
    "I was billed two times for my invoice",
    "",
    "  ...  !!! ",
    "a",
    "How do I fix this segfault in my C++ code? The pointer is null after std::move.",
    "Ünïcödé tëxt, 日本語のテキスト, emoji 🙂🚀 and Ελληνικά",
    "UPPER lower MiXeD 12345 numbers-and_punctuation",
    "repeat repeat repeat repeat repeat repeat repeat repeat repeat repeat",
    std::string(3000, 'x') + " tail",
};

} // namespace

TEST_CASE("encode matches the plain-loop reference within 1e-6", "[kernels][embed]") {
    const std::size_t dim = GENERATE(std::size_t{256}, std::size_t{64}, std::size_t{1000}, std::size_t{1});
    CAPTURE(dim);
    const auto got = encode(sample_texts, dim);
    const auto want = ref::encode(sample_texts, dim);
    REQUIRE(got.size() == sample_texts.size() * dim);
    CHECK(max_abs_diff(got, want) <= 1e-6f);
}

TEST_CASE("encode is deterministic: the same texts give the same bytes", "[kernels][embed]") {
    const auto a = encode(sample_texts);
    const auto b = encode(sample_texts);
    REQUIRE(a.size() == b.size());
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

TEST_CASE("every row has norm 1, and a text with no word bytes is all zeros", "[kernels][embed]") {
    const auto m = encode(sample_texts);
    for (std::size_t r = 0; r < sample_texts.size(); ++r) {
        CAPTURE(sample_texts[r]);
        const auto v = row(m, r, embed::default_dim);
        if (ref::normalise(sample_texts[r]).empty()) {
            for (const float x : v) CHECK(x == 0.0f);
        } else {
            CHECK(norm(v) == Approx(1.0).margin(1e-6));
        }
    }
    // Empty and punctuation-only texts above are the documented zero rows.
    CHECK(norm(row(m, 2, embed::default_dim)) == 0.0);
    CHECK(norm(row(m, 3, embed::default_dim)) == 0.0);
}

TEST_CASE("case, punctuation and spacing do not change a text's vector", "[kernels][embed]") {
    const auto m = encode({"Hello, World!", "hello world", "  HELLO\t\tworld...  ", "hello worlds"});
    const auto a = row(m, 0, embed::default_dim);
    CHECK(a == row(m, 1, embed::default_dim));
    CHECK(a == row(m, 2, embed::default_dim));
    CHECK(a != row(m, 3, embed::default_dim));
}

TEST_CASE("a batch of N texts equals N single encodes", "[kernels][embed]") {
    // Over 1 MiB the CPU build runs the batch on its OMP team; each single runs on the caller.
    std::vector<std::string> texts = sample_texts;
    for (int i = 0; i < 9000; ++i)
        texts.push_back("request " + std::to_string(i * 7919) + ": " + sample_texts[static_cast<std::size_t>(i) % 10] +
                        " / " + sample_texts[static_cast<std::size_t>(i * 3) % 10].substr(0, 40));
    const auto batch = encode(texts);
    CHECK(max_abs_diff(batch, ref::encode(texts, embed::default_dim)) <= 1e-6f);
    std::size_t differing = 0;
    for (std::size_t r = 0; r < texts.size(); ++r) differing += encode({texts[r]}) != row(batch, r, embed::default_dim);
    CHECK(differing == 0);
    CHECK(encode({}).empty());
}

TEST_CASE("a batch larger than one chunk of work equals its texts one by one", "[kernels][embed]") {
    // Over the library's 4 MiB chunk: the batch runs in pieces that must join seamlessly.
    std::vector<std::string> big;
    std::mt19937 rng(7);
    const std::array<std::string_view, 6> words{"invoice", "refund", "pointer", "compiler", "charge", "bug"};
    for (int t = 0; t < 3; ++t) {
        std::string text;
        while (text.size() < 1'600'000) {
            text += words[rng() % words.size()];
            text += ' ';
        }
        big.push_back(std::move(text));
    }
    big.insert(big.begin() + 1, "");
    const auto batch = encode(big, 128);
    const auto want = ref::encode(big, 128);
    CHECK(max_abs_diff(batch, want) <= 1e-6f);
    for (std::size_t r = 0; r < big.size(); ++r) CHECK(encode({big[r]}, 128) == row(batch, r, 128));
}

TEST_CASE("arbitrary bytes and broken UTF-8 neither crash nor give anything but a unit or zero row", "[kernels][embed]") {
    std::mt19937 rng(42);
    std::vector<std::string> texts;
    for (int t = 0; t < 200; ++t) {
        std::string s(rng() % 300, '\0');
        for (auto& c : s) c = static_cast<char>(rng() & 0xff);
        texts.push_back(std::move(s));
    }
    static constexpr char broken[] = "\xff\xfe\xc3\x28\xe2\x82\x00\x80 embedded\0nul";
    texts.emplace_back(broken, sizeof broken - 1);
    const auto m = encode(texts);
    CHECK(max_abs_diff(m, ref::encode(texts, embed::default_dim)) <= 1e-6f);
    for (std::size_t r = 0; r < texts.size(); ++r) {
        const double n = norm(row(m, r, embed::default_dim));
        CHECK((n == 0.0 || std::abs(n - 1.0) < 1e-6));
    }
}

TEST_CASE("similar texts score higher against their own topic than against another", "[kernels][embed]") {
    const std::vector<std::string> topics{
        "billing: invoices, payments, charges and refunds",
        "programming questions: code, compilers, bugs and debugging",
    };
    const auto tasks = encode(topics);
    auto scores = [&](const std::string& q) { return embed::similarities(tasks, topics.size(), encode({q})); };

    for (const std::string q : {"Why was I charged twice?", "I was billed two times for my invoice"}) {
        CAPTURE(q);
        const auto s = scores(q);
        CHECK(s[0] > s[1]);
    }
    for (const std::string q : {"How do I fix this compiler error in my code?", "How do I debug a segfault in my C++ program?"}) {
        CAPTURE(q);
        const auto s = scores(q);
        CHECK(s[1] > s[0]);
    }
    // The two billing questions are closer to each other than to a code question.
    const auto q = encode({"Why was I charged twice?", "I was billed two times for my invoice",
                           "How do I debug a segfault in my C++ program?"});
    const auto s = embed::similarities(q, 3, row(q, 0, embed::default_dim));
    CHECK(s[0] == Approx(1.0).margin(1e-6));
    CHECK(s[1] > s[2]);
}

TEST_CASE("similarities is the cosine of the query with each row", "[kernels][embed]") {
    const auto m = encode(sample_texts);
    const auto rows = sample_texts.size();
    for (std::size_t r : {std::size_t{0}, std::size_t{2}, std::size_t{5}}) {
        const auto q = row(m, r, embed::default_dim);
        const auto got = embed::similarities(m, rows, q);
        REQUIRE(got.size() == rows);
        CHECK(max_abs_diff(got, ref::similarities(m, rows, q)) <= 1e-6f);
        if (r != 2) CHECK(got[r] == Approx(1.0).margin(1e-6));
        CHECK(got[2] == 0.0f); // the empty text's zero row
    }
    SECTION("a matrix of over 2^20 values (the CPU build's OMP path) gives the same scores") {
        const std::size_t many = 4100;
        std::mt19937 rng(3);
        std::uniform_real_distribution<float> value(-1.0f, 1.0f);
        std::vector<float> big(many * embed::default_dim);
        for (auto& x : big) x = value(rng);
        const auto q = row(m, 0, embed::default_dim);
        const auto got = embed::similarities(big, many, q);
        CHECK(max_abs_diff(got, ref::similarities(big, many, q)) <= 1e-6f);
        CHECK(got[10] == embed::similarities(row(big, 10, embed::default_dim), 1, q)[0]);
    }
    SECTION("rows need not be unit length, and the result stays in [-1, 1]") {
        const std::vector<float> a{3, 4, 0, 0, -3, -4, 0, 0, 1, 0};
        const std::vector<float> q{6, 8};
        const auto got = embed::similarities(a, 5, q);
        REQUIRE(got.size() == 5);
        CHECK(got[0] == Approx(1.0));
        CHECK(got[2] == Approx(-1.0));
        CHECK(got[3] == 0.0f);
        CHECK(max_abs_diff(got, ref::similarities(a, 5, q)) <= 1e-6f);
    }
}

TEST_CASE("bad shapes are refused with std::invalid_argument", "[kernels][embed]") {
    const std::vector<std::string_view> texts{"hello"};
    CHECK_THROWS_AS(embed::encode(texts, 0), std::invalid_argument);
    CHECK_THROWS_AS(embed::encode(texts, (std::size_t{1} << 20) + 1), std::invalid_argument);
    const std::string huge((std::size_t{1} << 26) + 1, 'a');
    const std::vector<std::string_view> too_long{"fine", huge};
    CHECK_THROWS_AS(embed::encode(too_long), std::invalid_argument);
    const std::vector<float> m(10, 0.5f);
    const std::vector<float> q(4, 0.5f);
    CHECK_THROWS_AS(embed::similarities(m, 3, q), std::invalid_argument);
    CHECK_THROWS_AS(embed::similarities(m, 2, std::span<const float>{}), std::invalid_argument);
    CHECK(embed::similarities(std::span<const float>{}, 0, q).empty());
}

TEST_CASE("backend names the library that was linked", "[kernels][embed]") {
    CHECK(std::string_view(embed::backend()) == SLUICE_EMBED_EXPECTED_BACKEND);
}

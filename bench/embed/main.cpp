// sluice-embed-bench: how long the router's classification takes on the CPU. A typical prompt
// (~60 words) is embedded and compared with 10 tasks x 4 texts (description and examples);
// the time per classification (median of many runs) is printed for the embed kernel
// (sluice::embed_cpu) beside a plain-loop implementation of the same recipe, in the same run.
//
//   sluice-embed-bench [--runs N] [--dim D]
//
// Exits 1 when the two disagree on the task or on a score: a timing of wrong answers is no timing.

#include <sluice/kernels/embed.hpp>

#include "embed_reference.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace embed = sluice::kernels::embed;
namespace ref = sluice::test::embed_reference;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t texts_per_task = 4;

struct task {
    std::string_view name;
    std::array<std::string_view, texts_per_task> texts; // description, then examples
};

constexpr std::array<task, 10> tasks{{
    {"billing", {"billing: invoices, payments, charges, refunds and subscriptions", "Why was I charged twice?",
                 "Can I get a refund for last month's payment?", "How do I download an invoice for my company?"}},
    {"code", {"programming questions: code, compilers, bugs, debugging and libraries",
              "How do I fix this compiler error in my code?", "Why does my Python script throw a TypeError?",
              "Write a function that reverses a linked list in C++"}},
    {"translation", {"translate text between languages", "Translate this paragraph into French",
                     "What is the German word for umbrella?", "Please translate the following email to Spanish"}},
    {"summarise", {"summarise long documents, articles, meetings and reports", "Summarise this article in three bullets",
                   "Give me a short summary of the meeting notes", "TL;DR of the following report please"}},
    {"account", {"account access: login, password reset, two-factor authentication", "I cannot log in to my account",
                 "How do I reset my password?", "My two-factor codes stopped working"}},
    {"shipping", {"orders, shipping, delivery and tracking of parcels", "Where is my order?",
                  "My parcel has not arrived yet and tracking shows nothing", "Can you ship to Canada?"}},
    {"legal", {"legal questions about contracts, terms of service and privacy", "Is this clause in my contract enforceable?",
               "What does your privacy policy say about data retention?", "Can I terminate the agreement early?"}},
    {"math", {"mathematics: algebra, calculus, statistics and proofs", "Solve x^2 - 5x + 6 = 0",
              "What is the derivative of sin(x) * x?", "Explain the central limit theorem"}},
    {"writing", {"creative writing: stories, poems, slogans and marketing copy", "Write a short poem about the sea",
                 "Give me five slogans for a coffee shop", "Draft a product description for running shoes"}},
    {"sql", {"databases and SQL queries, schemas, indexes and performance", "Write a SQL query joining orders and customers",
             "Why is my Postgres query slow?", "Should I add an index on this column?"}},
}};

constexpr std::string_view prompt =
    "Hi, I looked at my credit card statement this morning and noticed that your service charged me twice "
    "for the same monthly subscription. The two payments happened on the same day, a few minutes apart. "
    "Could you please check what happened, refund the duplicate charge, and send me a corrected invoice "
    "for my records? Thanks a lot for your help.";

struct choice {
    std::size_t task = 0;
    float score = 0;
};

choice best(const std::vector<float>& scores) {
    choice c{0, -2.0f};
    for (std::size_t r = 0; r < scores.size(); ++r)
        if (scores[r] > c.score) c = {r / texts_per_task, scores[r]};
    return c;
}

struct timing {
    double median_us = 0;
    double p90_us = 0;
};

template <class F>
timing time_runs(int runs, F&& classify) {
    for (int i = 0; i < std::max(10, runs / 10); ++i) classify(); // warm caches, threads and allocator
    std::vector<double> us(static_cast<std::size_t>(runs));
    for (auto& u : us) {
        const auto t0 = clock_type::now();
        classify();
        u = std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
    }
    std::sort(us.begin(), us.end());
    return {us[us.size() / 2], us[us.size() * 9 / 10]};
}

} // namespace

int main(int argc, char** argv) {
    int runs = 2000;
    std::size_t dim = embed::default_dim;
    for (int i = 1; i < argc; ++i) {
        // --name value or --name=value
        std::string_view name = argv[i], value;
        if (const auto eq = name.find('='); eq != std::string_view::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        } else if (i + 1 < argc) {
            value = argv[++i];
        }
        if (name != "--runs" && name != "--dim") {
            std::fprintf(stderr, "usage: sluice-embed-bench [--runs N] [--dim D]\n");
            return 2;
        }
        const long n = std::strtol(std::string(value).c_str(), nullptr, 10);
        if (n <= 0) {
            std::fprintf(stderr, "sluice-embed-bench: %.*s needs a positive number\n", int(name.size()), name.data());
            return 2;
        }
        if (name == "--runs")
            runs = static_cast<int>(n);
        else
            dim = static_cast<std::size_t>(n);
    }

    std::vector<std::string_view> task_texts;
    for (const auto& t : tasks) task_texts.insert(task_texts.end(), t.texts.begin(), t.texts.end());
    const std::size_t rows = task_texts.size();
    const auto matrix = embed::encode(task_texts, dim);
    const auto ref_matrix = ref::encode(task_texts, dim);

    // The router's work per request: embed the prompt, score it against every task text, keep the best.
    const std::array<std::string_view, 1> query{prompt};
    std::vector<float> kernel_scores, ref_scores;
    auto kernel_classify = [&] { kernel_scores = embed::similarities(matrix, rows, embed::encode(query, dim)); };
    auto ref_classify = [&] { ref_scores = ref::similarities(ref_matrix, rows, ref::encode_one(prompt, dim)); };

    kernel_classify();
    ref_classify();
    const choice k = best(kernel_scores), r = best(ref_scores);
    float worst = 0;
    for (std::size_t i = 0; i < rows; ++i) worst = std::max(worst, std::abs(kernel_scores[i] - ref_scores[i]));
    if (k.task != r.task || worst > 1e-5f) {
        std::fprintf(stderr, "sluice-embed-bench: kernel and reference disagree (task %s vs %s, score diff %g)\n",
                     tasks[k.task].name.data(), tasks[r.task].name.data(), double(worst));
        return 1;
    }

    const timing kt = time_runs(runs, kernel_classify);
    const timing rt = time_runs(runs, ref_classify);

    std::size_t words = 0;
    for (std::size_t i = 0; i < prompt.size(); ++i)
        words += prompt[i] != ' ' && (i == 0 || prompt[i - 1] == ' ');
    std::printf("sluice-embed-bench: dim %zu, %zu tasks x %zu texts, prompt of %zu words (%zu bytes), %d runs each\n",
                dim, tasks.size(), texts_per_task, words, prompt.size(), runs);
    std::printf("  task chosen: %.*s (cosine %.3f), kernel and reference agree\n", int(tasks[k.task].name.size()),
                tasks[k.task].name.data(), double(k.score));
    std::printf("  %-22s median %9.1f us per classification   p90 %9.1f us\n",
                (std::string("kernel (") + embed::backend() + ")").c_str(), kt.median_us, kt.p90_us);
    std::printf("  %-22s median %9.1f us per classification   p90 %9.1f us\n", "reference (plain loops)",
                rt.median_us, rt.p90_us);
    std::printf("  kernel / reference time ratio: %.2f\n", kt.median_us / rt.median_us);
    return 0;
}

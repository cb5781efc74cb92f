// The lm engine over a random in-memory model: block pool and prefix cache, sampler, and the
// scheduler's paging, eviction, prefix hits in usage, seeded determinism, cancellation,
// continuous batching, stop sequences and limits.

#include "engine.hpp"

#include "lm_reference.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <numeric>

using namespace sluice;
using namespace std::chrono_literals;
namespace ref = lm_reference;

namespace {

/// Token i reads "<i>"; no token ends generation unless told.
class test_vocabulary final : public lm::vocabulary {
public:
    explicit test_vocabulary(std::int32_t eog = -1) : eog_(eog) {}
    std::string piece(std::int32_t id) const override { return "<" + std::to_string(id) + ">"; }
    bool is_end_of_generation(std::int32_t id) const override { return id == eog_; }

private:
    std::int32_t eog_;
};

/// One request's events, collected from the scheduler thread.
class answer {
public:
    lm::engine::event_sink sink() {
        return [this](core::event&& e) {
            std::lock_guard lock(mutex_);
            const bool last = core::is_terminal(e);
            events_.push_back(std::move(e));
            if (last) done_.notify_all();
            else if (std::holds_alternative<core::block_delta>(events_.back())) done_.notify_all();
        };
    }
    bool wait() {
        std::unique_lock lock(mutex_);
        return done_.wait_for(lock, 60s, [this] { return !events_.empty() && core::is_terminal(events_.back()); });
    }
    bool wait_for_text() {
        std::unique_lock lock(mutex_);
        return done_.wait_for(lock, 60s, [this] {
            for (const auto& e : events_)
                if (std::holds_alternative<core::block_delta>(e)) return true;
            return !events_.empty() && core::is_terminal(events_.back());
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
    const core::message_stop* stop() {
        std::lock_guard lock(mutex_);
        return events_.empty() ? nullptr : std::get_if<core::message_stop>(&events_.back());
    }
    const core::error* error() {
        std::lock_guard lock(mutex_);
        return events_.empty() ? nullptr : std::get_if<core::error>(&events_.back());
    }

private:
    std::mutex mutex_;
    std::condition_variable done_;
    std::vector<core::event> events_;
};

struct fixture {
    std::unique_ptr<ref::random_model> weights;
    std::unique_ptr<lm::engine> engine;

    explicit fixture(std::uint32_t kv_blocks = 64, std::uint32_t block_size = 4, std::uint32_t max_batch = 16,
                     std::uint32_t queue_limit = 64, std::int32_t eog = -1, std::uint32_t prefill_chunk = 64) {
        weights = ref::make_random_model(lm::weight_type::f16, 21); // exact: greedy ties cannot flip
        auto m = std::make_unique<lm::model>(weights->weights, kv_blocks, block_size, 2);
        lm::engine_options o;
        o.model_name = "random";
        o.max_batch = max_batch;
        o.queue_limit = queue_limit;
        o.prefill_chunk = prefill_chunk;
        engine = std::make_unique<lm::engine>(std::move(m), std::make_shared<test_vocabulary>(eog), o);
    }
};

std::vector<std::int32_t> prompt_of(std::uint32_t n, std::int32_t start = 1) {
    std::vector<std::int32_t> p(n);
    for (std::uint32_t i = 0; i < n; ++i) p[i] = (start + std::int32_t(i) * 7) % 96;
    return p;
}

lm::generation_request greedy(std::vector<std::int32_t> prompt, std::uint32_t max_tokens) {
    lm::generation_request r;
    r.prompt = std::move(prompt);
    r.sampling.temperature = 0;
    r.max_tokens = max_tokens;
    return r;
}

/// The ids in a "<a><b>..." text.
std::vector<std::int32_t> ids_of(const std::string& text) {
    std::vector<std::int32_t> out;
    std::size_t at = 0;
    while ((at = text.find('<', at)) != std::string::npos) {
        const auto end = text.find('>', at);
        out.push_back(std::stoi(text.substr(at + 1, end - at - 1)));
        at = end;
    }
    return out;
}

/// Greedy continuation by the reference forward: what the engine must produce at temperature 0.
std::vector<std::int32_t> reference_greedy(const ref::random_model& m, std::vector<std::int32_t> tokens, std::uint32_t n) {
    std::vector<std::int32_t> out;
    const std::uint32_t vocab = m.weights.config.vocab;
    for (std::uint32_t i = 0; i < n; ++i) {
        const auto logits = ref::reference_forward(m, tokens);
        const std::span<const float> last(logits.data() + logits.size() - vocab, vocab);
        const auto next = lm::sampler::argmax(last);
        out.push_back(next);
        tokens.push_back(next);
    }
    return out;
}

} // namespace

// ---------------------------------------------------------------- block pool

TEST_CASE("lm block pool reuses published prefixes and evicts the least recently freed", "[lm][kv]") {
    lm::block_pool pool(4, 2);
    const std::vector<std::int32_t> a{1, 2, 3, 4, 5};
    const std::vector<std::int32_t> b{9, 9, 9, 9, 9};
    CHECK(pool.acquire_prefix(a).empty());

    const auto publish_all = [&](const std::vector<std::int32_t>& p) {
        std::vector<std::uint32_t> blocks;
        std::uint64_t h = 0;
        for (std::size_t i = 0; i + 2 <= p.size(); i += 2) {
            blocks.push_back(*pool.allocate());
            const std::span<const std::int32_t> toks(p.data() + i, 2);
            h = lm::block_pool::chain_hash(h, toks);
            pool.publish(blocks.back(), h, toks);
        }
        return blocks;
    };
    auto ba = publish_all(a); // 2 full blocks
    CHECK(pool.used() == 2);
    for (auto x : ba) pool.release(x);
    CHECK(pool.used() == 0);
    CHECK(pool.cached_free() == 2);

    auto hit = pool.acquire_prefix(a);
    CHECK(hit == ba);
    CHECK(pool.used() == 2);
    CHECK(pool.cached_free() == 0);
    // A prompt that differs in its second block shares only the first.
    const std::vector<std::int32_t> a2{1, 2, 7, 7, 5};
    auto hit2 = pool.acquire_prefix(a2);
    REQUIRE(hit2.size() == 1);
    CHECK(hit2[0] == ba[0]);
    pool.release(hit2[0]);
    for (auto x : hit) pool.release(x);

    // b's blocks are freed after a's: a's are evicted first when fresh blocks run out.
    auto bb = publish_all(b);
    for (auto x : bb) pool.release(x);
    CHECK(pool.cached_free() == 4);
    CHECK(pool.available() == 4);
    REQUIRE(pool.allocate());
    CHECK(pool.evictions() == 1);
    CHECK(pool.acquire_prefix(a).empty()); // its first block went, so the chain is broken
    CHECK(pool.acquire_prefix(b).size() == 2);
}

// ---------------------------------------------------------------- sampler

TEST_CASE("lm sampler is greedy at temperature 0 and repeats under a seed", "[lm][sampler]") {
    std::vector<float> logits{0.1f, 2.5f, -1.f, 2.5f, 0.f, 1.f};
    lm::sampler g(lm::sampling_params{0.0, 1.0, 0, 5});
    CHECK(g.sample(logits) == 1); // the lowest index of the tie

    lm::sampling_params p{0.9, 0.95, 4, 1234};
    lm::sampler s1(p), s2(p);
    std::vector<std::int32_t> a, b;
    for (int i = 0; i < 50; ++i) {
        a.push_back(s1.sample(logits));
        b.push_back(s2.sample(logits));
    }
    CHECK(a == b);
    // top_k 4 never picks the two smallest logits; over 50 draws more than one token comes up.
    for (auto t : a) CHECK((t != 2 && t != 4));
    CHECK(std::count(a.begin(), a.end(), a.front()) < 50);

    lm::sampler tiny_p(lm::sampling_params{1.0, 0.01, 0, 9});
    for (int i = 0; i < 10; ++i) CHECK(tiny_p.sample(logits) == 1);
    lm::sampler k1(lm::sampling_params{1.5, 1.0, 1, std::nullopt});
    CHECK(k1.sample(logits) == 1);
}

// ---------------------------------------------------------------- the engine

TEST_CASE("lm engine streams the greedy continuation the reference forward gives", "[lm][engine]") {
    fixture f;
    answer a;
    const auto prompt = prompt_of(9);
    REQUIRE(f.engine->submit(greedy(prompt, 6), a.sink()));
    REQUIRE(a.wait());
    const auto events = a.events();
    REQUIRE(events.size() >= 5);
    CHECK(std::holds_alternative<core::message_start>(events[0]));
    CHECK(std::get<core::message_start>(events[0]).model == "random");
    CHECK(std::holds_alternative<core::block_start>(events[1]));
    REQUIRE(a.stop());
    CHECK(a.stop()->finish == core::finish_reason::length);
    CHECK(ids_of(a.text()) == reference_greedy(*f.weights, prompt, 6));
    CHECK(a.usage() == core::usage{9, 6, 0, 0, 0});
}

TEST_CASE("lm engine pages long sequences and shares a small pool between many", "[lm][engine][kv]") {
    // 16 blocks of 4 tokens: each request needs up to 8 blocks, so six cannot all be resident.
    fixture f(16, 4, 8);
    const std::uint32_t n = 6;
    std::vector<answer> answers(n);
    std::vector<std::vector<std::int32_t>> prompts;
    for (std::uint32_t i = 0; i < n; ++i) {
        prompts.push_back(prompt_of(13 + i, std::int32_t(i * 5)));
        REQUIRE(f.engine->submit(greedy(prompts.back(), 12), answers[i].sink()));
    }
    for (std::uint32_t i = 0; i < n; ++i) {
        REQUIRE(answers[i].wait());
        REQUIRE(answers[i].stop());
        INFO("request " << i);
        CHECK(ids_of(answers[i].text()) == reference_greedy(*f.weights, prompts[i], 12));
    }
    CHECK(f.engine->load().kv_blocks_used == 0);
    CHECK(f.engine->stats().max_batch_seen > 1);
    CHECK(f.engine->stats().preemptions > 0); // the pool ran out mid-decode and recomputed
}

TEST_CASE("lm engine reports a repeated prefix as cached input tokens", "[lm][engine][prefix]") {
    fixture f(64, 4);
    const auto prompt = prompt_of(23);
    answer first, second;
    REQUIRE(f.engine->submit(greedy(prompt, 4), first.sink()));
    REQUIRE(first.wait());
    CHECK(first.usage().cache_read == 0);
    CHECK(first.usage().input == 23);

    auto longer = prompt;
    longer.push_back(5);
    longer.push_back(6);
    REQUIRE(f.engine->submit(greedy(longer, 4), second.sink()));
    REQUIRE(second.wait());
    // 23 prompt tokens make five full blocks of four; all five are reused.
    CHECK(second.usage().cache_read == 20);
    CHECK(second.usage().input == 5);
    CHECK(ids_of(second.text()) == reference_greedy(*f.weights, longer, 4));
    CHECK(f.engine->load().prefix_cache_hit_rate == Approx(20.0 / 48.0));

    SECTION("an identical prompt reuses every full block but the one holding its last token") {
        answer third;
        REQUIRE(f.engine->submit(greedy(prompt, 4), third.sink()));
        REQUIRE(third.wait());
        CHECK(third.usage().cache_read == 20);
        CHECK(third.text() == first.text());
    }
}

TEST_CASE("lm engine evicts the least recently freed cached blocks when the pool is full", "[lm][engine][kv]") {
    fixture f(8, 4);
    const auto p1 = prompt_of(17, 1); // 4 full blocks
    const auto p2 = prompt_of(17, 50);
    answer a1, a2, a3;
    REQUIRE(f.engine->submit(greedy(p1, 2), a1.sink()));
    REQUIRE(a1.wait());
    REQUIRE(f.engine->submit(greedy(p2, 2), a2.sink()));
    REQUIRE(a2.wait());
    CHECK(f.engine->stats().evictions > 0); // p2 needed blocks p1 left cached

    // p2 was freed last, so its prefix is still there.
    REQUIRE(f.engine->submit(greedy(p2, 2), a3.sink()));
    REQUIRE(a3.wait());
    CHECK(a3.usage().cache_read == 16);
    CHECK(a3.text() == a2.text());
    answer a4;
    REQUIRE(f.engine->submit(greedy(p1, 2), a4.sink()));
    REQUIRE(a4.wait());
    CHECK(a4.usage().cache_read < 16);
    CHECK(a4.text() == a1.text());
}

TEST_CASE("lm engine repeats sampled tokens under a seed whatever the batch", "[lm][engine][sampler]") {
    fixture f;
    const auto prompt = prompt_of(11, 3);
    auto seeded = [&](std::uint64_t seed) {
        lm::generation_request r;
        r.prompt = prompt;
        r.sampling.temperature = 1.2;
        r.sampling.top_p = 0.95;
        r.sampling.seed = seed;
        r.max_tokens = 16;
        return r;
    };
    answer alone;
    REQUIRE(f.engine->submit(seeded(77), alone.sink()));
    REQUIRE(alone.wait());

    // The same request again, now in a batch with three others of different lengths.
    f.engine->pause(true);
    std::vector<answer> others(3);
    answer again;
    REQUIRE(f.engine->submit(seeded(5), others[0].sink()));
    REQUIRE(f.engine->submit(greedy(prompt_of(30, 9), 20), others[1].sink()));
    REQUIRE(f.engine->submit(seeded(77), again.sink()));
    REQUIRE(f.engine->submit(greedy(prompt_of(3, 2), 25), others[2].sink()));
    f.engine->pause(false);
    REQUIRE(again.wait());
    for (auto& o : others) REQUIRE(o.wait());
    CHECK(again.text() == alone.text());
    CHECK(f.engine->stats().max_batch_seen >= 4);
}

TEST_CASE("lm engine cancellation frees blocks at once and ends with the reason", "[lm][engine][cancel]") {
    fixture f(64, 4);
    answer a;
    auto r = greedy(prompt_of(20), 400);
    const auto id = f.engine->submit(std::move(r), a.sink());
    REQUIRE(id);
    REQUIRE(a.wait_for_text());
    f.engine->pause(true); // no step ends it while we look
    CHECK(f.engine->load().kv_blocks_used > 0);
    CHECK(f.engine->load().running == 1);
    REQUIRE(f.engine->cancel(*id, core::error{core::error_kind::timeout, "client went away", {}, {}}));
    const auto load = f.engine->load();
    CHECK(load.kv_blocks_used == 0);
    CHECK(load.running == 0);
    REQUIRE(a.error());
    CHECK(a.error()->message == "client went away");
    CHECK_FALSE(f.engine->cancel(*id, core::error{}));
    f.engine->pause(false);

    SECTION("a queued request cancels too") {
        f.engine->pause(true);
        answer q;
        const auto qid = f.engine->submit(greedy(prompt_of(5), 5), q.sink());
        REQUIRE(qid);
        CHECK(f.engine->load().queue_depth == 1);
        REQUIRE(f.engine->cancel(*qid, core::error{core::error_kind::timeout, "deadline", {}, {}}));
        REQUIRE(q.error());
        CHECK(q.events().size() == 1);
        f.engine->pause(false);
    }
}

TEST_CASE("lm engine batches requests that arrive while one runs", "[lm][engine][batching]") {
    fixture f;
    answer first, second, third;
    REQUIRE(f.engine->submit(greedy(prompt_of(8), 400), first.sink()));
    REQUIRE(first.wait_for_text());
    REQUIRE(f.engine->submit(greedy(prompt_of(6, 4), 10), second.sink()));
    REQUIRE(f.engine->submit(greedy(prompt_of(10, 8), 10), third.sink()));
    REQUIRE(first.wait());
    REQUIRE(second.wait());
    REQUIRE(third.wait());
    CHECK(first.stop());
    CHECK(second.stop());
    CHECK(third.stop());
    CHECK(f.engine->stats().max_batch_seen > 1);
    CHECK(ids_of(second.text()) == reference_greedy(*f.weights, prompt_of(6, 4), 10));
}

TEST_CASE("lm engine stops at stop sequences and end-of-generation tokens", "[lm][engine][stop]") {
    const auto prompt = prompt_of(7, 2);
    std::string full;
    std::vector<std::int32_t> ids;
    {
        fixture f;
        answer a;
        REQUIRE(f.engine->submit(greedy(prompt, 12), a.sink()));
        REQUIRE(a.wait());
        full = a.text();
        ids = ids_of(full);
    }
    REQUIRE(ids.size() == 12);

    SECTION("the text before a stop sequence is sent, the stop itself is not") {
        // A stop spanning the end of token 4 and the start of token 5.
        const std::string piece4 = "<" + std::to_string(ids[4]) + ">";
        const auto at = full.find(piece4 + "<" + std::to_string(ids[5]));
        const std::string stop = full.substr(at + 1, piece4.size() + 1);
        const auto cut = full.find(stop); // maybe earlier than token 4
        fixture f;
        answer a;
        auto r = greedy(prompt, 12);
        r.stop = {"never there", stop};
        REQUIRE(f.engine->submit(std::move(r), a.sink()));
        REQUIRE(a.wait());
        REQUIRE(a.stop());
        CHECK(a.stop()->finish == core::finish_reason::stop);
        CHECK(a.stop()->stop_sequence == stop);
        CHECK(a.text() == full.substr(0, cut));
    }
    SECTION("an end-of-generation token finishes with stop and is not sent") {
        fixture f(64, 4, 16, 64, ids[3]);
        answer a;
        REQUIRE(f.engine->submit(greedy(prompt, 12), a.sink()));
        REQUIRE(a.wait());
        REQUIRE(a.stop());
        CHECK(a.stop()->finish == core::finish_reason::stop);
        const auto first = std::find(ids.begin(), ids.end(), ids[3]) - ids.begin();
        CHECK(ids_of(a.text()) == std::vector<std::int32_t>(ids.begin(), ids.begin() + first));
        CHECK(a.usage().output == std::uint64_t(first + 1));
    }
}

TEST_CASE("lm engine refuses prompts over the context and requests over the queue limit", "[lm][engine]") {
    fixture f(64, 4, 16, 2);
    answer a;
    auto too_long = f.engine->submit(greedy(prompt_of(600), 4), a.sink());
    REQUIRE_FALSE(too_long);
    CHECK(too_long.error().kind == core::error_kind::invalid_request);
    auto empty = f.engine->submit(greedy({}, 4), a.sink());
    REQUIRE_FALSE(empty);
    CHECK(empty.error().kind == core::error_kind::invalid_request);

    f.engine->pause(true);
    answer q1, q2, q3;
    REQUIRE(f.engine->submit(greedy(prompt_of(4), 2), q1.sink()));
    REQUIRE(f.engine->submit(greedy(prompt_of(4), 2), q2.sink()));
    auto refused = f.engine->submit(greedy(prompt_of(4), 2), q3.sink());
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == core::error_kind::overloaded);
    CHECK(q3.events().empty());
    f.engine->pause(false);
    REQUIRE(q1.wait());
    REQUIRE(q2.wait());
}

TEST_CASE("lm engine ends queued requests with an error when destroyed", "[lm][engine]") {
    answer a;
    {
        fixture f;
        f.engine->pause(true);
        REQUIRE(f.engine->submit(greedy(prompt_of(4), 2), a.sink()));
    }
    REQUIRE(a.error());
    CHECK(a.error()->kind == core::error_kind::overloaded);
}

#include "engine.hpp"

#include "tokenizer.hpp"

#include <algorithm>
#include <exception>
#include <span>

namespace sluice::lm {
namespace {

core::error make_error(core::error_kind kind, std::string message, std::string param = {}) {
    return core::error{kind, std::move(message), std::move(param), {}};
}

} // namespace

struct engine::sequence {
    std::uint64_t id = 0;
    event_sink sink;
    std::mutex emit_mutex;
    bool ended = false; // under emit_mutex: the terminal event went out

    bool done = false;  // under the engine's mutex: finished or cancelled, blocks freed
    bool started = false;
    std::vector<std::int32_t> tokens; // prompt, then generated
    std::uint32_t prompt_len = 0;
    std::uint32_t computed = 0; // tokens whose K and V are in the cache
    std::vector<block_pool::block_id> blocks;
    std::vector<block_pool::hash_type> prompt_hashes; // per full prompt block
    std::uint32_t published = 0;
    std::uint32_t cached = 0; // prompt tokens served from the prefix cache (first admission)

    lm::sampler sampler{sampling_params{}};
    std::uint32_t max_tokens = 0;
    std::uint32_t generated = 0;
    std::vector<std::string> stop;
    utf8_streamer utf8;  // holds back an incomplete UTF-8 sequence
    std::string pending; // text that may be the start of a stop sequence
};

engine::engine(std::unique_ptr<lm::model> model, std::shared_ptr<const vocabulary> vocab, engine_options options)
    : model_(std::move(model)), vocab_(std::move(vocab)), options_(std::move(options)),
      pool_(model_->kv_blocks(), model_->block_size()), worker_([this] { run(); }) {}

engine::~engine() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    worker_.join();
    std::vector<sequence_ptr> left(waiting_.begin(), waiting_.end());
    left.insert(left.end(), running_.begin(), running_.end());
    for (auto& s : left) emit(s, make_error(core::error_kind::overloaded, "lm: the kernel is shutting down"));
}

core::result<std::uint64_t> engine::submit(generation_request request, event_sink sink) {
    const auto& c = model_->config();
    const std::size_t n = request.prompt.size();
    if (n == 0) return make_error(core::error_kind::invalid_request, "lm: the prompt is empty", "messages");
    if (n >= c.context)
        return make_error(core::error_kind::invalid_request,
                          "lm: the prompt has " + std::to_string(n) + " tokens; the context window is " +
                              std::to_string(c.context),
                          "messages");
    const std::uint32_t bs = pool_.block_size();
    if ((n + 1 + bs - 1) / bs > pool_.total())
        return make_error(core::error_kind::invalid_request,
                          "lm: the prompt has " + std::to_string(n) + " tokens; the KV cache holds " +
                              std::to_string(std::uint64_t(pool_.total()) * bs),
                          "messages");
    for (auto tok : request.prompt)
        if (tok < 0 || std::uint32_t(tok) >= c.vocab)
            return make_error(core::error_kind::invalid_request, "lm: a prompt token is outside the vocabulary");

    auto s = std::make_shared<sequence>();
    s->sink = std::move(sink);
    s->prompt_len = std::uint32_t(n);
    s->tokens = std::move(request.prompt);
    s->tokens.reserve(c.context);
    block_pool::hash_type h = 0;
    for (std::size_t b = 0; (b + 1) * bs <= n; ++b) {
        h = block_pool::chain_hash(h, std::span<const std::int32_t>(s->tokens).subspan(b * bs, bs));
        s->prompt_hashes.push_back(h);
    }
    s->sampler = lm::sampler(request.sampling);
    const std::uint32_t room = c.context - std::uint32_t(n);
    s->max_tokens = request.max_tokens ? std::min(request.max_tokens, room) : room;
    for (auto& st : request.stop)
        if (!st.empty()) s->stop.push_back(std::move(st));

    std::lock_guard lock(mutex_);
    if (stopping_) return make_error(core::error_kind::overloaded, "lm: the kernel is shutting down");
    if (waiting_.size() >= options_.queue_limit)
        return make_error(core::error_kind::overloaded,
                          "lm: " + std::to_string(waiting_.size()) + " requests are waiting (queue_limit)");
    s->id = ++last_id_;
    waiting_.push_back(s);
    wake_.notify_all();
    return s->id;
}

bool engine::cancel(std::uint64_t id, core::error reason) {
    sequence_ptr s;
    {
        std::lock_guard lock(mutex_);
        const auto match = [id](const sequence_ptr& p) { return p->id == id; };
        if (auto it = std::find_if(waiting_.begin(), waiting_.end(), match); it != waiting_.end()) {
            s = *it;
            waiting_.erase(it);
        } else if (auto r = std::find_if(running_.begin(), running_.end(), match); r != running_.end()) {
            s = *r;
            running_.erase(r);
        } else {
            return false;
        }
        // Safe while a forward runs: blocks are only handed out by the scheduler between steps,
        // and the step's results for this sequence are dropped (done).
        s->done = true;
        release_blocks(*s);
    }
    wake_.notify_all();
    emit(s, std::move(reason));
    return true;
}

engine_load engine::load() const {
    std::lock_guard lock(mutex_);
    engine_load l;
    l.queue_depth = std::uint32_t(waiting_.size());
    l.running = std::uint32_t(running_.size());
    l.kv_blocks_used = pool_.used();
    l.kv_blocks_total = pool_.total();
    l.prefix_cache_hit_rate = stats_.prompt_tokens ? double(stats_.cached_tokens) / double(stats_.prompt_tokens) : 0;
    return l;
}

engine_stats engine::stats() const {
    std::lock_guard lock(mutex_);
    auto s = stats_;
    s.evictions = pool_.evictions();
    return s;
}

void engine::pause(bool paused) {
    {
        std::lock_guard lock(mutex_);
        paused_ = paused;
    }
    wake_.notify_all();
}

void engine::emit(const sequence_ptr& s, core::event&& e) {
    std::lock_guard lock(s->emit_mutex);
    if (s->ended) return;
    const bool last = core::is_terminal(e);
    if (last) s->ended = true;
    s->sink(std::move(e));
    if (last) s->sink = nullptr;
}

void engine::release_blocks(sequence& s) {
    for (auto b : s.blocks) pool_.release(b);
    s.blocks.clear();
    s.computed = 0;
    s.published = 0;
}

void engine::admit() {
    const std::uint32_t bs = pool_.block_size();
    while (!waiting_.empty() && running_.size() < options_.max_batch) {
        auto s = waiting_.front();
        auto prefix = pool_.acquire_prefix(std::span<const std::int32_t>(s->tokens.data(), s->prompt_len));
        const std::uint32_t need = std::uint32_t((s->tokens.size() + bs - 1) / bs - prefix.size());
        if (need > pool_.available()) {
            for (auto b : prefix) pool_.release(b);
            break;
        }
        s->blocks = std::move(prefix);
        s->computed = std::uint32_t(s->blocks.size()) * bs;
        s->published = std::uint32_t(s->blocks.size());
        if (!s->started) {
            s->started = true;
            s->cached = s->computed;
            stats_.prompt_tokens += s->prompt_len;
            stats_.cached_tokens += s->cached;
            outbox_.push_back({s, core::message_start{"lm-" + std::to_string(s->id), options_.model_name}});
            outbox_.push_back({s, core::text_start(0)});
        }
        waiting_.pop_front();
        running_.push_back(std::move(s));
    }
}

bool engine::grow(sequence& s, std::uint32_t tokens) {
    const std::uint32_t bs = pool_.block_size();
    const std::size_t need = (std::size_t(tokens) + bs - 1) / bs;
    while (s.blocks.size() < need) {
        auto b = pool_.allocate();
        if (!b) return false;
        s.blocks.push_back(*b);
    }
    return true;
}

void engine::preempt(sequence_ptr s) { // by value: it may be running_.back() itself
    // Recompute later: its blocks go now (its prompt blocks likely stay cached for the return).
    release_blocks(*s);
    running_.erase(std::find(running_.begin(), running_.end(), s));
    waiting_.push_front(s);
    ++stats_.preemptions;
}

void engine::finish(const sequence_ptr& s, core::event last) {
    if (s->done) return;
    s->pending += s->utf8.flush();
    if (!s->pending.empty()) outbox_.push_back({s, core::text_delta(0, std::move(s->pending))});
    s->pending.clear();
    outbox_.push_back({s, core::block_stop{0}});
    outbox_.push_back({s, core::usage{s->prompt_len - s->cached, s->generated, s->cached, 0, 0}});
    outbox_.push_back({s, std::move(last)});
    s->done = true;
    release_blocks(*s);
    if (auto it = std::find(running_.begin(), running_.end(), s); it != running_.end()) running_.erase(it);
}

bool engine::plan(std::vector<planned>& plan, forward_batch& batch) {
    std::uint32_t budget = options_.prefill_chunk;
    for (std::size_t i = 0; i < running_.size(); ++i) {
        const auto s = running_[i];
        const std::uint32_t remaining = std::uint32_t(s->tokens.size()) - s->computed;
        if (remaining == 0) continue;
        const std::uint32_t count = remaining == 1 ? 1 : std::min(remaining, budget);
        if (count == 0) continue; // prefill waits for the next step's budget
        bool placed = grow(*s, s->computed + count);
        while (!placed && running_.back() != s) {
            preempt(running_.back());
            placed = grow(*s, s->computed + count);
        }
        if (!placed) {
            if (running_.size() == 1) {
                finish(s, core::message_stop{core::finish_reason::length, {}}); // the pool holds no more
            } else {
                preempt(s);
            }
            break; // s was the last running sequence
        }
        if (remaining > 1) budget -= count;
        const auto offset = std::uint32_t(batch.tables.size());
        batch.tables.insert(batch.tables.end(), s->blocks.begin(), s->blocks.end());
        for (std::uint32_t j = 0; j < count; ++j) {
            batch.tokens.push_back(s->tokens[s->computed + j]);
            batch.positions.push_back(s->computed + j);
            batch.table_offset.push_back(offset);
        }
        const bool sample = s->computed + count == s->tokens.size();
        if (sample) batch.logit_rows.push_back(std::uint32_t(batch.tokens.size() - 1));
        plan.push_back({s, count, sample});
    }
    return !plan.empty();
}

void engine::publish_blocks(sequence& s) {
    const std::uint32_t bs = pool_.block_size();
    while (s.published < s.prompt_hashes.size() && (s.published + 1) * bs <= s.computed) {
        pool_.publish(s.blocks[s.published], s.prompt_hashes[s.published],
                      std::span<const std::int32_t>(s.tokens).subspan(std::size_t(s.published) * bs, bs));
        ++s.published;
    }
}

void engine::after_step(const std::vector<planned>& plan, const std::vector<float>& logits) {
    const std::uint32_t vocab = model_->config().vocab;
    const std::uint32_t context = model_->config().context;
    ++stats_.steps;
    stats_.max_batch_seen = std::max(stats_.max_batch_seen, std::uint32_t(plan.size()));
    std::size_t row = 0;
    for (const auto& p : plan) {
        const auto& s = p.seq;
        const std::span<const float> lrow =
            p.sample ? std::span<const float>(logits).subspan(row++ * vocab, vocab) : std::span<const float>();
        if (s->done) continue; // cancelled while the step ran
        s->computed += p.count;
        publish_blocks(*s);
        if (!p.sample) continue;

        const std::int32_t tok = s->sampler.sample(lrow);
        ++s->generated;
        ++stats_.generated_tokens;
        if (vocab_->is_end_of_generation(tok)) {
            finish(s, core::message_stop{core::finish_reason::stop, {}});
            continue;
        }
        s->tokens.push_back(tok);

        // Text: whole UTF-8 characters only, and never the start of a stop sequence too early.
        s->pending += s->utf8.push(vocab_->piece(tok));
        std::size_t at = std::string::npos;
        const std::string* matched = nullptr;
        for (const auto& st : s->stop)
            if (const auto pos = s->pending.find(st); pos < at) {
                at = pos;
                matched = &st;
            }
        if (matched) {
            if (at > 0) outbox_.push_back({s, core::text_delta(0, s->pending.substr(0, at))});
            s->pending.clear();
            s->utf8 = {}; // what follows the stop sequence is not sent
            finish(s, core::message_stop{core::finish_reason::stop, *matched});
            continue;
        }
        std::size_t keep = 0;
        for (const auto& st : s->stop)
            for (std::size_t k = std::min(st.size() - 1, s->pending.size()); k > keep; --k)
                if (s->pending.compare(s->pending.size() - k, k, st, 0, k) == 0) {
                    keep = k;
                    break;
                }
        if (s->pending.size() > keep) {
            outbox_.push_back({s, core::text_delta(0, s->pending.substr(0, s->pending.size() - keep))});
            s->pending.erase(0, s->pending.size() - keep);
        }
        if (s->generated >= s->max_tokens || s->tokens.size() >= context)
            finish(s, core::message_stop{core::finish_reason::length, {}});
    }
}

void engine::run() {
    std::vector<planned> steps;
    forward_batch batch;
    std::vector<float> logits;
    std::vector<outgoing> out;
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || (!paused_ && (!waiting_.empty() || !running_.empty())); });
        if (stopping_) return;
        admit();
        steps.clear();
        batch.clear();
        const bool any = plan(steps, batch);
        if (any) {
            lock.unlock();
            std::string failure;
            try {
                model_->forward(batch, logits);
            } catch (const std::exception& e) {
                failure = e.what();
            }
            lock.lock();
            if (failure.empty()) {
                after_step(steps, logits);
            } else {
                for (const auto& p : steps)
                    if (!p.seq->done) {
                        p.seq->done = true;
                        release_blocks(*p.seq);
                        running_.erase(std::find(running_.begin(), running_.end(), p.seq));
                        outbox_.push_back({p.seq, make_error(core::error_kind::internal, "lm: forward failed: " + failure)});
                    }
            }
        }
        out.swap(outbox_);
        if (!out.empty()) {
            lock.unlock();
            for (auto& o : out) emit(o.seq, std::move(o.event));
            out.clear();
            lock.lock();
        }
        if (!any && !stopping_) wake_.wait(lock); // nothing could run: wait for a submit or cancel
    }
}

} // namespace sluice::lm

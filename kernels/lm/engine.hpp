#ifndef SLUICE_KERNELS_LM_ENGINE_HPP
#define SLUICE_KERNELS_LM_ENGINE_HPP

// The lm scheduler: one thread runs continuous batching over a model. Each step it admits
// waiting requests while KV blocks allow (reusing cached prefix blocks), runs one batched forward
// of prefill chunks and one decode token per running sequence, samples, streams canonical
// events, and frees the blocks of sequences that finished. Works in token ids: the plugin renders
// and tokenizes; `vocabulary` turns ids back into text.

#include "block_pool.hpp"
#include "model.hpp"
#include "sampler.hpp"

#include <sluice/core/error.hpp>
#include <sluice/core/event.hpp>
#include <sluice/core/result.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::lm {

/// The text side of the token ids the engine generates.
class vocabulary {
public:
    virtual ~vocabulary() = default;
    /// The bytes of one token (maybe part of a UTF-8 sequence).
    virtual std::string piece(std::int32_t id) const = 0;
    virtual bool is_end_of_generation(std::int32_t id) const = 0;
};

struct engine_options {
    std::string model_name;
    std::uint32_t max_batch = 16;       // sequences running at once
    std::uint32_t queue_limit = 256;    // waiting requests before submit answers overloaded
    std::uint32_t prefill_chunk = 256;  // prompt tokens per step, over all sequences
};

struct generation_request {
    std::vector<std::int32_t> prompt;
    sampling_params sampling;
    std::uint32_t max_tokens = 0; // 0: up to the context window
    std::vector<std::string> stop;
};

struct engine_load {
    std::uint32_t queue_depth = 0;
    std::uint32_t running = 0;
    std::uint64_t kv_blocks_used = 0;
    std::uint64_t kv_blocks_total = 0;
    double prefix_cache_hit_rate = 0;
};

/// Counters since start, for tests and logs.
struct engine_stats {
    std::uint64_t steps = 0;
    std::uint32_t max_batch_seen = 0; // most sequences in one forward
    std::uint64_t prompt_tokens = 0;
    std::uint64_t cached_tokens = 0;
    std::uint64_t generated_tokens = 0;
    std::uint64_t preemptions = 0;
    std::uint64_t evictions = 0;
};

class engine {
public:
    using event_sink = std::function<void(core::event&&)>;

    engine(std::unique_ptr<lm::model> model, std::shared_ptr<const vocabulary> vocab, engine_options options);
    /// Ends every accepted request with an error, then joins the scheduler.
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    /// Queues a request; refuses at once (invalid_request, overloaded) without calling the sink.
    core::result<std::uint64_t> submit(generation_request request, event_sink sink);
    /// Frees the request's blocks now and sends `reason` as its last event; false when unknown or done.
    bool cancel(std::uint64_t id, core::error reason);

    engine_load load() const;
    engine_stats stats() const;
    const model_config& config() const noexcept { return model_->config(); }
    /// While held, no step starts (tests use it to queue requests that must meet in one batch).
    void pause(bool paused);

private:
    struct sequence;
    using sequence_ptr = std::shared_ptr<sequence>;
    struct planned {
        sequence_ptr seq;
        std::uint32_t count;  // tokens computed this step
        bool sample;          // its last token's logits pick the next token
    };
    struct outgoing {
        sequence_ptr seq;
        core::event event;
    };

    void run();
    void admit();
    bool plan(std::vector<planned>& plan, forward_batch& batch);
    bool grow(sequence& s, std::uint32_t tokens);
    void preempt(sequence_ptr s);
    void finish(const sequence_ptr& s, core::event last);
    void release_blocks(sequence& s);
    void after_step(const std::vector<planned>& plan, const std::vector<float>& logits);
    void publish_blocks(sequence& s);
    static void emit(const sequence_ptr& s, core::event&& e);

    std::unique_ptr<lm::model> model_;
    std::shared_ptr<const vocabulary> vocab_;
    engine_options options_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    block_pool pool_;
    std::deque<sequence_ptr> waiting_;
    std::vector<sequence_ptr> running_;
    std::vector<outgoing> outbox_; // events of this step, sent once the lock is let go
    engine_stats stats_;
    std::uint64_t last_id_ = 0;
    bool stopping_ = false;
    bool paused_ = false;
    std::thread worker_; // last: starts once every member it reads is built
};

} // namespace sluice::lm

#endif

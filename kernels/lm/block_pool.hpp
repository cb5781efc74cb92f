#ifndef SLUICE_KERNELS_LM_BLOCK_POOL_HPP
#define SLUICE_KERNELS_LM_BLOCK_POOL_HPP

// The KV cache's bookkeeping (the memory itself lives in the model): a pool of fixed-size blocks
// with reference counts, and an automatic prefix cache over them. A full block of prompt tokens
// is published under hash(parent block's hash, its tokens), so a hash names a whole prefix. A
// published block whose last reference goes stays cached, on an LRU list of free cached blocks;
// allocation takes never-cached free blocks first and evicts the least recently freed cached
// block only when none is left. Not thread-safe: the engine's scheduler owns it.

#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace sluice::lm {

class block_pool {
public:
    using block_id = std::uint32_t;
    using hash_type = std::uint64_t;

    block_pool(std::uint32_t blocks, std::uint32_t block_size);

    std::uint32_t block_size() const noexcept { return block_size_; }
    std::uint32_t total() const noexcept { return std::uint32_t(blocks_.size()); }
    /// Blocks referenced by a sequence.
    std::uint32_t used() const noexcept { return used_; }
    /// Blocks an allocation may take: never-cached free ones and evictable cached ones.
    std::uint32_t available() const noexcept { return total() - used_; }
    /// Free blocks that still hold a cached prefix.
    std::uint32_t cached_free() const noexcept { return std::uint32_t(lru_.size()); }

    static hash_type chain_hash(hash_type parent, std::span<const std::int32_t> tokens) noexcept;

    /// The longest chain of cached full blocks that starts `prompt`, referenced for the caller.
    /// At most (prompt.size() - 1) / block_size blocks: the last prompt token is always computed,
    /// since its logits choose the first output token.
    std::vector<block_id> acquire_prefix(std::span<const std::int32_t> prompt);

    /// A block for new tokens, or nothing when every block is in use.
    std::optional<block_id> allocate();

    /// Drops one reference; a block with none left becomes free (cached when published).
    void release(block_id b);

    /// Publishes a full block of prompt tokens whose KV is computed, under `hash` (chain_hash of
    /// the previous block's hash and `tokens`). A hash already published by another block is left.
    void publish(block_id b, hash_type hash, std::span<const std::int32_t> tokens);

    std::uint64_t evictions() const noexcept { return evictions_; }

private:
    struct block {
        std::uint32_t refs = 0;
        bool published = false;
        hash_type hash = 0;
        std::vector<std::int32_t> tokens; // kept to rule out hash collisions
        std::list<block_id>::iterator lru;
    };

    void unpublish(block_id b);

    std::uint32_t block_size_;
    std::vector<block> blocks_;
    std::vector<block_id> free_;     // never cached (or evicted), ready
    std::list<block_id> lru_;        // free and cached: front is the least recently freed
    std::unordered_map<hash_type, block_id> cache_;
    std::uint32_t used_ = 0;
    std::uint64_t evictions_ = 0;
};

} // namespace sluice::lm

#endif

#include "block_pool.hpp"

#include <algorithm>
#include <stdexcept>

namespace sluice::lm {

block_pool::block_pool(std::uint32_t blocks, std::uint32_t block_size) : block_size_(block_size), blocks_(blocks) {
    if (blocks == 0 || block_size == 0) throw std::invalid_argument("lm: the block pool needs blocks of some size");
    free_.reserve(blocks);
    for (std::uint32_t b = blocks; b-- > 0;) free_.push_back(b); // pops 0 first
}

block_pool::hash_type block_pool::chain_hash(hash_type parent, std::span<const std::int32_t> tokens) noexcept {
    // FNV-1a over the parent hash and the token ids, then a 64-bit finaliser (splitmix64).
    hash_type h = 0xcbf29ce484222325ull ^ parent;
    for (const auto t : tokens) {
        auto v = static_cast<std::uint32_t>(t);
        for (int i = 0; i < 4; ++i) {
            h ^= v & 0xffu;
            h *= 0x100000001b3ull;
            v >>= 8;
        }
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

std::vector<block_pool::block_id> block_pool::acquire_prefix(std::span<const std::int32_t> prompt) {
    std::vector<block_id> chain;
    if (prompt.empty()) return chain;
    const std::size_t usable = (prompt.size() - 1) / block_size_;
    hash_type h = 0;
    for (std::size_t i = 0; i < usable; ++i) {
        const auto tokens = prompt.subspan(i * block_size_, block_size_);
        h = chain_hash(h, tokens);
        const auto it = cache_.find(h);
        if (it == cache_.end()) break;
        auto& blk = blocks_[it->second];
        if (!std::equal(tokens.begin(), tokens.end(), blk.tokens.begin(), blk.tokens.end())) break;
        if (blk.refs++ == 0) {
            lru_.erase(blk.lru);
            ++used_;
        }
        chain.push_back(it->second);
    }
    return chain;
}

std::optional<block_pool::block_id> block_pool::allocate() {
    block_id b;
    if (!free_.empty()) {
        b = free_.back();
        free_.pop_back();
    } else if (!lru_.empty()) {
        b = lru_.front();
        lru_.pop_front();
        unpublish(b);
        ++evictions_;
    } else {
        return std::nullopt;
    }
    blocks_[b].refs = 1;
    ++used_;
    return b;
}

void block_pool::release(block_id b) {
    auto& blk = blocks_.at(b);
    if (blk.refs == 0) throw std::logic_error("lm: block released twice");
    if (--blk.refs > 0) return;
    --used_;
    if (blk.published) {
        lru_.push_back(b);
        blk.lru = std::prev(lru_.end());
    } else {
        free_.push_back(b);
    }
}

void block_pool::publish(block_id b, hash_type hash, std::span<const std::int32_t> tokens) {
    auto& blk = blocks_.at(b);
    if (blk.published || cache_.contains(hash)) return;
    blk.published = true;
    blk.hash = hash;
    blk.tokens.assign(tokens.begin(), tokens.end());
    cache_.emplace(hash, b);
}

void block_pool::unpublish(block_id b) {
    auto& blk = blocks_[b];
    if (!blk.published) return;
    cache_.erase(blk.hash);
    blk.published = false;
    blk.tokens.clear();
}

} // namespace sluice::lm

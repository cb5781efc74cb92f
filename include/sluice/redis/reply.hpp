#ifndef SLUICE_REDIS_REPLY_HPP
#define SLUICE_REDIS_REPLY_HPP

// A Redis reply as a plain value, and the RESP framing both ways. hiredis does the protocol
// (redisFormatCommandArgv frames a command, its redisReader parses replies); this header turns
// them into value types so that no hiredis object outlives the call that made it.

#include <sluice/core/error.hpp>
#include <sluice/core/result.hpp>

#include <hiredis/hiredis.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::redis {

enum class reply_type { nil, status, error, integer, string, array };

/// One reply. `text` holds a status, an error or a bulk string; `elements` an array.
/// A Redis error reply ("ERR ...", "NOSCRIPT ...") is a reply, not a core::error: the command
/// reached the server and was answered.
struct reply {
    reply_type type = reply_type::nil;
    std::int64_t integer = 0;
    std::string text;
    std::vector<reply> elements;

    static reply nil() { return {}; }
    static reply status(std::string s) { return {reply_type::status, 0, std::move(s), {}}; }
    static reply error(std::string s) { return {reply_type::error, 0, std::move(s), {}}; }
    static reply string(std::string s) { return {reply_type::string, 0, std::move(s), {}}; }
    static reply number(std::int64_t n) { return {reply_type::integer, n, {}, {}}; }
    static reply array(std::vector<reply> e) { return {reply_type::array, 0, {}, std::move(e)}; }

    bool is_nil() const noexcept { return type == reply_type::nil; }
    bool is_error() const noexcept { return type == reply_type::error; }
    bool is_array() const noexcept { return type == reply_type::array; }

    /// An integer reply, or a string that holds one (scripts and INCRBYFLOAT answer in strings).
    std::optional<std::int64_t> as_integer() const noexcept {
        if (type == reply_type::integer) return integer;
        if (type != reply_type::string && type != reply_type::status) return std::nullopt;
        std::int64_t v = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
        return v;
    }

    /// An integer reply or a string holding a number ("1.5", "3").
    std::optional<double> as_double() const {
        if (type == reply_type::integer) return double(integer);
        if (type != reply_type::string && type != reply_type::status) return std::nullopt;
        if (text.empty()) return std::nullopt;
        std::string s = text; // strtod wants a terminator
        char* end = nullptr;
        double v = std::strtod(s.c_str(), &end);
        if (end != s.c_str() + s.size()) return std::nullopt;
        return v;
    }

    friend bool operator==(const reply&, const reply&) = default;
};

/// Copies a hiredis reply tree into a value.
inline reply from_hiredis(const redisReply* r) {
    if (!r) return reply::nil();
    switch (r->type) {
    case REDIS_REPLY_STATUS: return reply::status(std::string(r->str, r->len));
    case REDIS_REPLY_ERROR: return reply::error(std::string(r->str, r->len));
    case REDIS_REPLY_STRING: return reply::string(std::string(r->str, r->len));
    case REDIS_REPLY_INTEGER: return reply::number(r->integer);
    case REDIS_REPLY_ARRAY: {
        std::vector<reply> elements;
        elements.reserve(r->elements);
        for (std::size_t i = 0; i < r->elements; ++i) elements.push_back(from_hiredis(r->element[i]));
        return reply::array(std::move(elements));
    }
    default: return reply::nil();
    }
}

/// The RESP bytes of one command, as redis-cli would send it.
inline std::string format_command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    char* out = nullptr;
    int n = redisFormatCommandArgv(&out, int(args.size()), argv.data(), lens.data());
    if (n < 0 || !out) return {};
    std::string bytes(out, std::size_t(n));
    redisFreeCommand(out);
    return bytes;
}

/// Replies out of a byte stream that arrives in pieces of any size.
class reply_parser {
public:
    reply_parser() : reader_(redisReaderCreate()) {}

    /// Adds bytes read from the socket. False when the parser is broken (out of memory).
    bool feed(std::string_view bytes) {
        return reader_ && redisReaderFeed(reader_.get(), bytes.data(), bytes.size()) == REDIS_OK;
    }

    /// The next complete reply; nullopt when more bytes are needed; an error on a protocol
    /// violation, after which the connection is unusable.
    std::optional<core::result<reply>> next() {
        if (!reader_) return core::result<reply>(protocol_error("no reader"));
        void* raw = nullptr;
        if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK)
            return core::result<reply>(protocol_error(reader_->errstr));
        if (!raw) return std::nullopt;
        std::unique_ptr<redisReply, void (*)(redisReply*)> owned(
            static_cast<redisReply*>(raw), [](redisReply* p) { freeReplyObject(p); });
        return core::result<reply>(from_hiredis(owned.get()));
    }

private:
    static core::error protocol_error(std::string_view what) {
        return core::error{core::error_kind::upstream, "redis protocol error: " + std::string(what), "",
                           "redis_protocol_error"};
    }

    struct reader_free {
        void operator()(redisReader* r) const noexcept { redisReaderFree(r); }
    };
    std::unique_ptr<redisReader, reader_free> reader_;
};

} // namespace sluice::redis

#endif

#ifndef SLUICE_CORE_SSE_PARSER_HPP
#define SLUICE_CORE_SSE_PARSER_HPP

// Server-sent events from upstream bytes (a provider stream). No Beast here: plugins use it.
// Events from bytes that arrive in any split: a line, a "\r\n" or a UTF-8
// character may be cut between two feeds. The WHATWG rules: a line ends in \n, \r\n or \r;
// `data:` lines of one event join with \n; a blank line dispatches the event; a line that starts
// with ':' is a comment; one space after the colon is not part of the value.

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace sluice::core {

class sse_parser {
public:
    /// The most one event (or one unfinished line) may hold before the stream is refused: a
    /// chunk is a few hundred bytes, so this only stops an upstream that never ends a line.
    static constexpr std::size_t max_event_bytes = 8 * 1024 * 1024;
    static_assert(max_event_bytes >= 64 * 1024, "a long tool-call fragment must fit");

    /// Calls on_event(name, data) for each event these bytes complete. False once an event
    /// grew past max_event_bytes; the parser is then spent.
    template <class OnEvent>
    bool feed(std::string_view bytes, OnEvent&& on_event) {
        if (overflowed_) return false;
        buffer_.append(bytes);
        std::size_t start = 0, i = scanned_;
        // memchr finds line ends many bytes at a time; each kind is searched again only once
        // the scan has passed the last one found, so a buffer is searched once whatever its lines.
        std::size_t next_lf = find(buffer_, '\n', i), next_cr = find(buffer_, '\r', i);
        while (i < buffer_.size()) {
            if (next_lf < i) next_lf = find(buffer_, '\n', i);
            if (next_cr < i) next_cr = find(buffer_, '\r', i);
            i = std::min(next_lf, next_cr);
            if (i == std::string::npos) {
                i = buffer_.size();
                break;
            }
            const char c = buffer_[i];
            std::size_t next = i + 1;
            if (c == '\r') {
                if (next == buffer_.size()) break; // a "\r\n" cut in two: wait for the next byte
                if (buffer_[next] == '\n') ++next;
            }
            on_line(std::string_view(buffer_).substr(start, i - start), on_event);
            start = i = next;
        }
        buffer_.erase(0, start);
        scanned_ = i - start;
        overflowed_ = buffer_.size() > max_event_bytes || data_.size() > max_event_bytes;
        return !overflowed_;
    }

    /// The stream ended: a last line without its line break, and an event without its blank
    /// line, still count (a lenient reader; the caller decides whether the end was natural).
    template <class OnEvent>
    void finish(OnEvent&& on_event) {
        if (overflowed_) return;
        if (!buffer_.empty()) {
            std::string_view line(buffer_);
            if (line.back() == '\r') line.remove_suffix(1);
            on_line(line, on_event);
            buffer_.clear();
            scanned_ = 0;
        }
        dispatch(on_event);
    }

private:
    static std::size_t find(const std::string& s, char c, std::size_t from) noexcept {
        if (from >= s.size()) return std::string::npos;
        const void* p = std::memchr(s.data() + from, c, s.size() - from);
        return p ? std::size_t(static_cast<const char*>(p) - s.data()) : std::string::npos;
    }

    template <class OnEvent>
    void on_line(std::string_view line, OnEvent& on_event) {
        if (first_line_) { // a byte-order mark may open the stream
            first_line_ = false;
            if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
        }
        if (line.empty()) return dispatch(on_event);
        if (line.front() == ':') return; // a comment, such as a keep-alive ping
        const auto colon = line.find(':');
        const std::string_view field = line.substr(0, colon);
        std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (field == "data") {
            if (has_data_) data_ += '\n';
            data_ += value;
            has_data_ = true;
        } else if (field == "event") {
            event_.assign(value);
        } // id and retry mean nothing to a one-shot response stream
    }

    template <class OnEvent>
    void dispatch(OnEvent& on_event) {
        if (has_data_) on_event(std::string_view(event_), std::string_view(data_));
        event_.clear();
        data_.clear();
        has_data_ = false;
    }

    std::string buffer_;       // bytes after the last complete line
    std::size_t scanned_ = 0;  // of buffer_, the bytes already searched for a line end
    std::string event_;        // the `event:` name of the event being read
    std::string data_;         // its `data:` lines, joined
    bool has_data_ = false;
    bool first_line_ = true;
    bool overflowed_ = false;
};

} // namespace sluice::core

#endif

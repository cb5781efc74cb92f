#ifndef SLUICE_TESTS_TRANSPORT_RAW_CLIENT_HPP
#define SLUICE_TESTS_TRANSPORT_RAW_CLIENT_HPP

// A blocking loopback client that writes exact bytes and reads what comes back, so tests can
// send what no well-behaved library would. Every read has a deadline: a test never hangs.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice::test {

class raw_client {
public:
    explicit raw_client(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw std::runtime_error("connect failed");
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    raw_client(const raw_client&) = delete;
    ~raw_client() { close(); }

    void send(std::string_view bytes) {
        while (!bytes.empty()) {
            auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) throw std::runtime_error("send failed");
            bytes.remove_prefix(std::size_t(n));
        }
    }

    /// Reads until `marker` has arrived (returns everything read so far), EOF, or the deadline.
    std::string read_until(std::string_view marker, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
        auto until = std::chrono::steady_clock::now() + deadline;
        while (received_.find(marker) == std::string::npos && !eof_) {
            if (!read_some(until)) break;
        }
        return received_;
    }

    /// Reads one whole HTTP response (Content-Length or chunked) and removes it from the buffer.
    std::string read_response(std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
        auto until = std::chrono::steady_clock::now() + deadline;
        for (;;) {
            auto end = complete_response_length();
            if (end) {
                std::string r = received_.substr(0, end);
                received_.erase(0, end);
                return r;
            }
            if (eof_ || !read_some(until)) {
                std::string r = std::move(received_);
                received_.clear();
                return r;
            }
        }
    }

    /// True when the server closed the connection before the deadline.
    bool closed_by_peer(std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
        auto until = std::chrono::steady_clock::now() + deadline;
        while (!eof_ && read_some(until)) {}
        return eof_;
    }

    std::string& received() noexcept { return received_; }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    /// Hard close: RST instead of FIN.
    void reset() {
        linger l{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        close();
    }

private:
    bool read_some(std::chrono::steady_clock::time_point until) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, int(left.count())) <= 0) return false;
        char buf[16384];
        auto n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        received_.append(buf, std::size_t(n));
        return true;
    }

    std::size_t complete_response_length() const {
        auto head_end = received_.find("\r\n\r\n");
        if (head_end == std::string::npos) return 0;
        std::string head = received_.substr(0, head_end);
        for (auto& c : head) c = char(std::tolower(static_cast<unsigned char>(c)));
        auto body_start = head_end + 4;
        if (head.starts_with("http/1.1 100")) return body_start;
        if (auto cl = head.find("content-length:"); cl != std::string::npos) {
            auto len = std::stoul(head.substr(cl + 15));
            return received_.size() >= body_start + len ? body_start + len : 0;
        }
        if (head.find("transfer-encoding: chunked") != std::string::npos) {
            auto end = received_.find("\r\n0\r\n\r\n", head_end);
            return end == std::string::npos ? 0 : end + 7;
        }
        return 0;
    }

    int fd_ = -1;
    bool eof_ = false;
    std::string received_;
};

/// The body of a response read whole.
inline std::string body_of(const std::string& response) {
    auto p = response.find("\r\n\r\n");
    return p == std::string::npos ? std::string() : response.substr(p + 4);
}

} // namespace sluice::test

#endif

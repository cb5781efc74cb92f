// Fuzz target: the lm kernel's GGUF loader (kernels/lm/gguf.hpp) and what reads the file after it:
// hyper-parameters, the tokenizer, the chat template; and utf8_streamer on the raw bytes.
//
// Invariants: any bytes open as a gguf_file or throw format_error with a message; every tensor
// view lies inside the file and has the size its type and shape give. A tokenizer that loads
// encodes to ids below its size and decodes without failing. The streamer's output is valid
// UTF-8 however the input is cut, and is the input itself when that was valid UTF-8.

#include "gguf.hpp"
#include "tokenizer.hpp"
#include "chat_template.hpp"

#include "check.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <exception>
#include <string>
#include <typeinfo>

namespace {

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k) {
            const auto x = static_cast<unsigned char>(s[i + k]);
            unsigned char lo = 0x80, hi = 0xBF;
            if (k == 1 && c == 0xE0) lo = 0xA0;
            if (k == 1 && c == 0xED) hi = 0x9F;
            if (k == 1 && c == 0xF0) lo = 0x90;
            if (k == 1 && c == 0xF4) hi = 0x8F;
            if (x < lo || x > hi) return false;
        }
        i += n;
    }
    return true;
}

std::uint64_t expected_bytes(const sluice::lm::tensor& t) {
    const auto n = t.elements();
    switch (t.type) {
    case sluice::lm::ggml_type::f32: return 4 * n;
    case sluice::lm::ggml_type::f16: return 2 * n;
    case sluice::lm::ggml_type::q8_0: return n / 32 * 34;
    }
    return 0;
}

void check_file(const std::string& path, std::string_view input) {
    namespace lm = sluice::lm;
    const auto file = lm::gguf_file::open(path);
    for (const auto& t : file.tensors()) {
        FUZZ_CHECK(t.bytes == expected_bytes(t), "tensor " + t.name + " has the wrong byte size");
        FUZZ_CHECK(t.bytes <= input.size(), "tensor " + t.name + " is larger than the file");
        // A view past the map faults here (mmap'd bytes are not ASan-instrumented).
        volatile std::byte first = t.data[0], last = t.data[t.bytes - 1];
        (void)first;
        (void)last;
    }
    try {
        (void)lm::read_hparams(file);
    } catch (const lm::format_error& e) {
        FUZZ_CHECK(*e.what() != '\0', "a format_error without a message");
    }
    try {
        const auto tok = lm::tokenizer::from_gguf(file);
        const std::string text = "Hello world! <|im_start|>user\n caf\xc3\xa9 \xff 42\t\n";
        for (const bool special : {false, true}) {
            const auto ids = tok.encode(text, special);
            for (const auto id : ids) FUZZ_CHECK(id >= 0 && static_cast<std::size_t>(id) < tok.size(), "an id out of range");
            (void)tok.decode(ids);
        }
    } catch (const lm::format_error& e) {
        FUZZ_CHECK(*e.what() != '\0', "a format_error without a message");
    }
    const lm::chat_message messages[] = {{"system", "s"}, {"user", "u"}, {"assistant", "a"}};
    (void)lm::render_chat(file, messages, true);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace lm = sluice::lm;
    std::string_view input = sluice_fuzz::bytes_of(data, size);

    // The loader reads a path: an in-memory file keeps the fuzzer off the disk.
    const int fd = ::memfd_create("gguf", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0, "memfd_create failed");
    FUZZ_CHECK(::write(fd, input.data(), input.size()) == static_cast<ssize_t>(input.size()), "short write");
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    try {
        check_file(path, input);
    } catch (const lm::format_error& e) {
        FUZZ_CHECK(*e.what() != '\0', "a format_error without a message");
    } catch (const std::exception& e) {
        FUZZ_CHECK(false, std::string("threw ") + typeid(e).name() + ", not format_error: " + e.what());
    }
    ::close(fd);

    const auto split = sluice_fuzz::take_split(input);
    lm::utf8_streamer streamer;
    const auto a = streamer.push(input.substr(0, split));
    const auto b = streamer.push(input.substr(split));
    const auto c = streamer.flush();
    FUZZ_CHECK(valid_utf8(a) && valid_utf8(b) && valid_utf8(c), "the streamer let out invalid UTF-8");
    if (valid_utf8(input)) FUZZ_CHECK(a + b + c == input, "the streamer changed valid UTF-8");
    return 0;
}

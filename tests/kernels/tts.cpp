// The tts kernel plugin through the host: every format decoded and measured by ffprobe, ffmpeg
// and sox (container, codec, rate, channels, duration, loudness), speed, streaming, cancel,
// concurrency and the characters reported.

#include "resample.hpp" // kernels/tts: header-only, tested here directly

#include <sluice/plugin/host.hpp>
#include <sluice/plugin/kernel.hpp>

#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace sluice;
using namespace std::chrono_literals;

namespace {

const std::string sentence = "The quick brown fox jumps over the lazy dog, and then it takes a nap.";

std::shared_ptr<plugin::kernel> make_tts(const char* options = "{}") {
    plugin::host host;
    auto made = host.create_kernel(SLUICE_TTS_PLUGIN);
    REQUIRE(made);
    auto k = std::move(made).value();
    auto loaded = k->load({"tts-espeak", "", boost::json::parse(options).as_object()});
    REQUIRE(loaded);
    return k;
}

plugin::speech_request speech(std::string format, std::string input = sentence, double speed = 1.0,
                              std::string voice = "alloy") {
    plugin::speech_request r;
    r.input = std::move(input);
    r.format = std::move(format);
    r.speed = speed;
    r.voice = std::move(voice);
    return r;
}

/// One request's chunks, gathered from the kernel's thread.
class collected_speech {
public:
    plugin::speech_sink sink() {
        return [this](plugin::speech_chunk&& c) {
            std::lock_guard lock(mutex_);
            ++chunks_;
            if (!c.bytes.empty() && !c.last) ++data_chunks_before_last_;
            bytes_ += c.bytes;
            if (c.last) {
                done_ = true;
                error_ = c.error;
                characters_ = c.input_characters;
                ended_.notify_all();
            }
        };
    }
    bool wait() {
        std::unique_lock lock(mutex_);
        return ended_.wait_for(lock, 60s, [this] { return done_; });
    }
    std::string bytes() { std::lock_guard l(mutex_); return bytes_; }
    int chunks() { std::lock_guard l(mutex_); return chunks_; }
    int data_chunks_before_last() { std::lock_guard l(mutex_); return data_chunks_before_last_; }
    std::optional<core::error> error() { std::lock_guard l(mutex_); return error_; }
    std::uint64_t characters() { std::lock_guard l(mutex_); return characters_; }

private:
    std::mutex mutex_;
    std::condition_variable ended_;
    std::string bytes_;
    int chunks_ = 0;
    int data_chunks_before_last_ = 0;
    bool done_ = false;
    std::optional<core::error> error_;
    std::uint64_t characters_ = 0;
};

/// Synthesises `r` to the end and answers the bytes (the answer must not be an error).
std::string synthesise(plugin::kernel& k, plugin::speech_request r) {
    collected_speech got;
    auto id = k.speak(std::move(r), got.sink());
    REQUIRE(id);
    REQUIRE(got.wait());
    auto error = got.error();
    INFO((error ? error->message : std::string()));
    REQUIRE_FALSE(error);
    return got.bytes();
}

/// A file under the temp folder holding `bytes`, removed when it dies.
class temp_file {
public:
    temp_file(const std::string& bytes, const std::string& ext) {
        static int n = 0;
        path_ = std::filesystem::temp_directory_path() /
                ("sluice-tts-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + "." + ext);
        std::ofstream(path_, std::ios::binary) << bytes;
    }
    ~temp_file() {
        std::error_code ec;
        std::filesystem::remove(path_, ec);
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    std::string path() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

/// Runs `command` (stderr joined to stdout) and answers its output and exit status.
std::pair<std::string, int> run(const std::string& command) {
    std::string out;
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    REQUIRE(p);
    char buf[65536];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    const int status = ::pclose(p);
    return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

struct probed {
    std::string format_name, codec_name;
    int sample_rate = 0, channels = 0;
    std::string bit_rate; // the stream's, where the codec states one
};

probed ffprobe(const temp_file& f, const std::string& input_options = "") {
    auto [out, rc] = run(std::string(SLUICE_FFPROBE) + " -v error -show_streams -show_format -of json " +
                         input_options + " " + quoted(f.path()));
    INFO(out);
    REQUIRE(rc == 0);
    auto doc = boost::json::parse(out).as_object();
    REQUIRE(doc.at("streams").as_array().size() == 1);
    const auto& s = doc.at("streams").as_array()[0].as_object();
    probed p;
    p.format_name = std::string(doc.at("format").at("format_name").as_string());
    p.codec_name = std::string(s.at("codec_name").as_string());
    p.sample_rate = std::stoi(std::string(s.at("sample_rate").as_string()));
    p.channels = int(s.at("channels").as_int64());
    if (auto* b = s.if_contains("bit_rate")) p.bit_rate = std::string(b->as_string());
    return p;
}

/// What ffmpeg decodes, as 24 kHz mono: duration and RMS (0..1 of full scale).
struct measured {
    double seconds = 0, rms = 0;
};

measured decode(const temp_file& f, const std::string& input_options = "") {
    auto [out, rc] = run(std::string(SLUICE_FFMPEG) + " -nostdin -v error " + input_options + " -i " +
                         quoted(f.path()) + " -f s16le -ac 1 -ar 24000 - 2>/dev/null");
    REQUIRE(rc == 0);
    REQUIRE(out.size() % 2 == 0);
    const std::size_t n = out.size() / 2;
    REQUIRE(n > 0);
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto s = std::int16_t(std::uint8_t(out[2 * i]) | (std::uint8_t(out[2 * i + 1]) << 8));
        sum += double(s) * s;
    }
    return {double(n) / 24000, std::sqrt(sum / double(n)) / 32768};
}

/// sox's own reading of the file: `sox f -n stat` (its numbers go to stderr).
measured sox_stat(const temp_file& f) {
    auto [out, rc] = run(std::string(SLUICE_SOX) + " " + quoted(f.path()) + " -n stat");
    INFO(out);
    REQUIRE(rc == 0);
    std::smatch m;
    measured r;
    REQUIRE(std::regex_search(out, m, std::regex(R"(Length \(seconds\):\s+([0-9.]+))")));
    r.seconds = std::stod(m[1]);
    REQUIRE(std::regex_search(out, m, std::regex(R"(RMS\s+amplitude:\s+([0-9.]+))")));
    r.rms = std::stod(m[1]);
    return r;
}

void check_plausible(const measured& m) {
    INFO("seconds " << m.seconds << " rms " << m.rms);
    CHECK(m.seconds > 1.5); // the sentence is ~4 s at 175 words a minute
    CHECK(m.seconds < 10);
    CHECK(m.rms > 0.02);    // speech, not silence
}

/// The reference: raw 24 kHz PCM, measured by ffmpeg.
measured pcm_reference(plugin::kernel& k) {
    temp_file f(synthesise(k, speech("pcm")), "pcm");
    return decode(f, "-f s16le -ar 24000 -ac 1");
}

} // namespace

TEST_CASE("the tts plugin describes a speech model and refuses text generation", "[tts]") {
    auto k = make_tts();
    auto info = k->describe();
    CHECK(info.name == "tts");
    CHECK(info.model == "tts-espeak");
    CHECK(info.endpoints.contains(core::endpoint::speech));
    CHECK_FALSE(info.endpoints.contains(core::endpoint::chat));

    bool called = false;
    auto refused = k->submit(core::envelope{}, [&](core::event&&) { called = true; });
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == core::error_kind::invalid_request);
    CHECK(refused.error().message == "this model serves speech only");
    CHECK_FALSE(called);
    CHECK_FALSE(k->embed(plugin::embedding_request{{"x"}, {}, 0}));
    CHECK(k->current_load().queue_depth == 0);
    CHECK(k->current_load().running == 0);
}

TEST_CASE("the tts plugin refuses a bad format or empty input without calling the sink", "[tts]") {
    auto k = make_tts();
    bool called = false;
    auto sink = [&](plugin::speech_chunk&&) { called = true; };
    auto bad_format = k->speak(speech("ogg"), sink);
    REQUIRE_FALSE(bad_format);
    CHECK(bad_format.error().kind == core::error_kind::invalid_request);
    CHECK(bad_format.error().param == "response_format");
    auto empty = k->speak(speech("wav", ""), sink);
    REQUIRE_FALSE(empty);
    CHECK(empty.error().param == "input");
    CHECK_FALSE(called);
}

TEST_CASE("the tts plugin refuses bad options at load", "[tts]") {
    plugin::host host;
    auto k = std::move(host.create_kernel(SLUICE_TTS_PLUGIN)).value();
    auto loaded = k->load({"tts", "", boost::json::parse(R"({"mp3_kbps": 500})").as_object()});
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().message.find("mp3_kbps") != std::string::npos);
    bool called = false;
    CHECK_FALSE(k->speak(speech("wav"), [&](plugin::speech_chunk&&) { called = true; }));
    CHECK_FALSE(called);
}

TEST_CASE("tts pcm is raw 24 kHz 16-bit mono speech", "[tts][format]") {
    auto k = make_tts();
    const std::string bytes = synthesise(*k, speech("pcm"));
    CHECK(bytes.size() % 2 == 0);
    temp_file f(bytes, "pcm");
    auto m = decode(f, "-f s16le -ar 24000 -ac 1");
    check_plausible(m);
    CHECK(m.seconds == Approx(double(bytes.size()) / 2 / 24000));
}

TEST_CASE("tts wav is a streaming RIFF file that ffprobe and sox read", "[tts][format]") {
    auto k = make_tts();
    const auto reference = pcm_reference(*k);
    const std::string bytes = synthesise(*k, speech("wav"));
    REQUIRE(bytes.size() > 44);
    CHECK(bytes.substr(0, 4) == "RIFF");
    CHECK(bytes.substr(8, 8) == "WAVEfmt ");
    CHECK(bytes.substr(36, 4) == "data");
    temp_file f(bytes, "wav");
    auto p = ffprobe(f);
    CHECK(p.format_name == "wav");
    CHECK(p.codec_name == "pcm_s16le");
    CHECK(p.sample_rate == 24000);
    CHECK(p.channels == 1);
    auto m = decode(f);
    check_plausible(m);
    CHECK(m.seconds == Approx(reference.seconds).margin(0.001));
    auto s = sox_stat(f);
    CHECK(s.seconds == Approx(reference.seconds).margin(0.001));
    CHECK(s.rms > 0.02);
}

TEST_CASE("tts mp3 is 24 kHz mono MPEG audio at a constant bit rate", "[tts][format]") {
    auto k = make_tts();
    const auto reference = pcm_reference(*k);
    temp_file f(synthesise(*k, speech("mp3")), "mp3");
    auto p = ffprobe(f);
    CHECK(p.format_name == "mp3");
    CHECK(p.codec_name == "mp3");
    CHECK(p.sample_rate == 24000);
    CHECK(p.channels == 1);
    CHECK(p.bit_rate == "64000");
    auto m = decode(f);
    check_plausible(m);
    // The encoder's delay and the last frame's padding: at most a few frames of 576 samples.
    CHECK(m.seconds == Approx(reference.seconds).margin(0.15));
}

TEST_CASE("tts opus is Ogg Opus at 48 kHz that decodes to the same length", "[tts][format]") {
    auto k = make_tts();
    const auto reference = pcm_reference(*k);
    const std::string bytes = synthesise(*k, speech("opus"));
    CHECK(bytes.substr(0, 4) == "OggS");
    CHECK(bytes.find("OpusHead") != std::string::npos);
    CHECK(bytes.find("OpusTags") != std::string::npos);
    temp_file f(bytes, "opus");
    auto p = ffprobe(f);
    CHECK(p.format_name == "ogg");
    CHECK(p.codec_name == "opus");
    CHECK(p.sample_rate == 48000);
    CHECK(p.channels == 1);
    auto m = decode(f);
    check_plausible(m);
    // Pre-skip and the last page's granule position trim the codec's delay and padding.
    CHECK(m.seconds == Approx(reference.seconds).margin(0.01));
}

TEST_CASE("tts flac is 24 kHz 16-bit mono FLAC that ffprobe and sox read", "[tts][format]") {
    auto k = make_tts();
    const auto reference = pcm_reference(*k);
    const std::string bytes = synthesise(*k, speech("flac"));
    CHECK(bytes.substr(0, 4) == "fLaC");
    temp_file f(bytes, "flac");
    auto p = ffprobe(f);
    CHECK(p.format_name == "flac");
    CHECK(p.codec_name == "flac");
    CHECK(p.sample_rate == 24000);
    CHECK(p.channels == 1);
    auto m = decode(f);
    check_plausible(m);
    CHECK(m.seconds == Approx(reference.seconds).margin(0.001));
    auto s = sox_stat(f);
    CHECK(s.seconds == Approx(reference.seconds).margin(0.001));
    CHECK(s.rms > 0.02);
}

TEST_CASE("tts speed 2 speaks in clearly less time than speed 1", "[tts]") {
    auto k = make_tts();
    temp_file normal(synthesise(*k, speech("wav", sentence, 1.0)), "wav");
    temp_file fast(synthesise(*k, speech("wav", sentence, 2.0)), "wav");
    temp_file slow(synthesise(*k, speech("wav", sentence, 0.5)), "wav");
    const double t1 = decode(normal).seconds, t2 = decode(fast).seconds, t05 = decode(slow).seconds;
    INFO("speed 0.5: " << t05 << " s, 1: " << t1 << " s, 2: " << t2 << " s");
    CHECK(t2 < 0.75 * t1);
    CHECK(t05 > 1.4 * t1);
}

TEST_CASE("tts every OpenAI voice speaks and an unknown one falls back to the default", "[tts]") {
    auto k = make_tts();
    for (const char* voice : {"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer",
                              "verse"}) {
        INFO(voice);
        temp_file f(synthesise(*k, speech("pcm", "Hello there.", 1.0, voice)), "pcm");
        auto m = decode(f, "-f s16le -ar 24000 -ac 1");
        CHECK(m.rms > 0.02);
    }
    // Voices with breath in their variant add random noise, so lengths are compared, not bytes.
    const auto alloy = synthesise(*k, speech("pcm", "Hello there.", 1.0, "alloy")).size();
    const auto onyx = synthesise(*k, speech("pcm", "Hello there.", 1.0, "onyx")).size();
    const auto unknown = synthesise(*k, speech("pcm", "Hello there.", 1.0, "no-such-voice")).size();
    CHECK(alloy != onyx);
    CHECK(unknown == alloy);
}

TEST_CASE("tts streams a long text in many chunks as it is synthesised", "[tts]") {
    auto k = make_tts();
    std::string text;
    for (int i = 0; i < 6; ++i) text += sentence + " ";
    for (const char* format : {"wav", "pcm", "mp3", "opus", "flac"}) {
        INFO(format);
        collected_speech got;
        REQUIRE(k->speak(speech(format, text), got.sink()));
        REQUIRE(got.wait());
        CHECK_FALSE(got.error());
        CHECK(got.data_chunks_before_last() >= 5);
    }
}

TEST_CASE("tts reports the input characters on the last chunk", "[tts]") {
    auto k = make_tts();
    collected_speech got;
    REQUIRE(k->speak(speech("wav", "Héllo wörld, ça va?"), got.sink()));
    REQUIRE(got.wait());
    CHECK_FALSE(got.error());
    CHECK(got.characters() == 19); // code points, not bytes
}

TEST_CASE("tts cancel stops a running synthesis and its last chunk carries the reason", "[tts]") {
    auto k = make_tts();
    std::string text;
    for (int i = 0; i < 10; ++i) text += sentence + " ";
    std::promise<plugin::request_id> id_promise;
    auto id_future = id_promise.get_future().share();
    std::mutex mutex;
    std::condition_variable ended;
    int chunks = 0;
    bool cancelled = false, done = false;
    std::optional<core::error> error;
    std::uint64_t characters = 0;
    auto sink = [&](plugin::speech_chunk&& c) {
        std::unique_lock lock(mutex);
        ++chunks;
        if (c.last) {
            done = true;
            error = c.error;
            characters = c.input_characters;
            ended.notify_all();
            return;
        }
        if (chunks == 3 && !cancelled) { // mid-way: from the kernel's thread, as a client going away would
            cancelled = true;
            lock.unlock();
            CHECK(k->cancel(id_future.get(), core::error{core::error_kind::timeout, "deadline passed", {}, {}}));
        }
    };
    auto id = k->speak(speech("mp3", text), sink);
    REQUIRE(id);
    id_promise.set_value(id.value());
    std::unique_lock lock(mutex);
    REQUIRE(ended.wait_for(lock, 60s, [&] { return done; }));
    REQUIRE(error);
    CHECK(error->kind == core::error_kind::timeout);
    CHECK(error->message == "deadline passed");
    CHECK(chunks <= 5);                      // it stopped at the next block
    CHECK(characters < text.size() / 2);     // only the start was spoken
    lock.unlock();
    CHECK_FALSE(k->cancel(id.value(), core::error{})); // done: nothing to cancel
    CHECK_FALSE(k->cancel(9999, core::error{}));
    CHECK(k->current_load().running == 0);
}

TEST_CASE("tts queues concurrent requests and finishes all of them", "[tts]") {
    auto k = make_tts();
    // The first request's sink holds the synthesis thread until the others are queued.
    std::promise<void> release;
    auto released = release.get_future().share();
    collected_speech first;
    auto first_sink = [&, inner = first.sink()](plugin::speech_chunk&& c) mutable {
        released.wait();
        inner(std::move(c));
    };
    REQUIRE(k->speak(speech("wav"), first_sink));

    const char* formats[] = {"pcm", "mp3", "opus", "flac", "wav", "mp3"};
    const char* voices[] = {"echo", "nova", "onyx", "sage", "fable", "verse"};
    std::vector<std::unique_ptr<collected_speech>> others;
    std::vector<plugin::request_id> ids;
    std::vector<std::thread> callers;
    std::mutex ids_mutex;
    for (int i = 0; i < 6; ++i) others.push_back(std::make_unique<collected_speech>());
    for (int i = 0; i < 6; ++i)
        callers.emplace_back([&, i] {
            auto id = k->speak(speech(formats[i], "Request number " + std::to_string(i) + ".", 1.0, voices[i]),
                               others[i]->sink());
            std::lock_guard lock(ids_mutex);
            if (id) ids.push_back(id.value());
        });
    for (auto& t : callers) t.join();
    REQUIRE(ids.size() == 6);
    while (k->current_load().running == 0) std::this_thread::sleep_for(1ms); // the first has begun
    CHECK(k->current_load().queue_depth == 6);
    CHECK(k->current_load().running == 1);

    // A queued request cancelled before it runs ends at once with the reason and no audio.
    collected_speech cancelled;
    auto queued = k->speak(speech("wav", "Never spoken."), cancelled.sink());
    REQUIRE(queued);
    CHECK(k->cancel(queued.value(), core::error{core::error_kind::invalid_request, "client went away", {}, {}}));
    REQUIRE(cancelled.wait());
    CHECK(cancelled.error()->message == "client went away");
    CHECK(cancelled.bytes().empty());

    release.set_value();
    REQUIRE(first.wait());
    CHECK_FALSE(first.error());
    for (int i = 0; i < 6; ++i) {
        INFO(formats[i]);
        REQUIRE(others[i]->wait());
        CHECK_FALSE(others[i]->error());
        CHECK(others[i]->bytes().size() > 100);
        CHECK(others[i]->characters() == std::string("Request number 0.").size());
    }
    CHECK(k->current_load().queue_depth == 0);
}

TEST_CASE("two tts kernels in one process share the engine", "[tts]") {
    auto a = make_tts();
    auto b = make_tts();
    collected_speech from_a, from_b;
    REQUIRE(a->speak(speech("pcm", "First kernel."), from_a.sink()));
    REQUIRE(b->speak(speech("pcm", "Second kernel."), from_b.sink()));
    REQUIRE(from_a.wait());
    REQUIRE(from_b.wait());
    CHECK_FALSE(from_a.error());
    CHECK_FALSE(from_b.error());
    CHECK(from_a.bytes().size() > 24000); // over half a second each
    CHECK(from_b.bytes().size() > 24000);
}

TEST_CASE("destroying the tts kernel ends queued requests with an error", "[tts]") {
    collected_speech held, queued;
    std::promise<void> release;
    auto released = release.get_future().share();
    {
        auto k = make_tts();
        auto slow = [&, inner = held.sink()](plugin::speech_chunk&& c) mutable {
            released.wait();
            inner(std::move(c));
        };
        REQUIRE(k->speak(speech("wav"), slow));
        REQUIRE(k->speak(speech("wav"), queued.sink()));
        while (k->current_load().running == 0) std::this_thread::sleep_for(1ms);
        std::thread later([&] {
            std::this_thread::sleep_for(50ms);
            release.set_value();
        });
        k.reset(); // the held one is cancelled at its next block, the queued one ends unspoken
        later.join();
    }
    REQUIRE(held.wait());
    REQUIRE(queued.wait());
    REQUIRE(queued.error());
    CHECK(queued.error()->kind == core::error_kind::overloaded);
    // The held one ended too: cut with "kernel shutting down", or whole if it was released first.
    if (held.error()) CHECK(held.error()->message == "kernel shutting down");
}

TEST_CASE("the tts resampler keeps a tone's pitch and level and streams in any block size", "[tts][resample]") {
    namespace tts = sluice::kernels::tts;
    for (unsigned to : {24000u, 48000u}) {
        INFO("22050 -> " << to);
        // 1 kHz at half scale for one second.
        std::vector<std::int16_t> tone(22050);
        for (std::size_t i = 0; i < tone.size(); ++i) tone[i] = std::int16_t(std::lround(16384 * std::sin(2 * M_PI * 1000 * double(i) / 22050)));

        tts::resampler whole(22050, to);
        std::vector<std::int16_t> a;
        whole.push(tone, a);
        whole.finish(a);
        CHECK(a.size() == to); // one second in, one second out

        tts::resampler blocks(22050, to);
        std::vector<std::int16_t> b;
        for (std::size_t at = 0; at < tone.size();) {
            const std::size_t n = std::min<std::size_t>(1 + (at * 7919) % 2205, tone.size() - at); // uneven blocks
            blocks.push(std::span<const std::int16_t>(tone).subspan(at, n), b);
            at += n;
        }
        blocks.finish(b);
        CHECK(a == b);

        // Away from the edges every output sample sits on the ideal sine: error under -60 dB of full scale.
        double worst = 0;
        for (std::size_t i = to / 10; i < to - to / 10; ++i)
            worst = std::max(worst, std::abs(a[i] - 16384 * std::sin(2 * M_PI * 1000 * double(i) / to)));
        CHECK(worst < 32768 * 0.001);
    }
}

// The tts kernel: speech synthesis on libespeak-ng, streamed as wav, pcm, mp3, opus or flac.
//
// espeak-ng keeps its state in globals and is not thread-safe, so one process-wide engine is
// initialised once (espeak_Terminate() deadlocks in synchronous mode in 1.51, so it is never
// called; the plugin stays mapped once the engine runs) and every synthesis holds the engine's
// mutex. Each kernel has one synthesis thread; requests queue.
// espeak calls back with ~100 ms sample blocks; each block is resampled, encoded and handed to
// the request's sink at once.
//
// options: {"mp3_kbps": 64, "opus_bitrate": 32000, "flac_level": 5, "max_queue": 64,
//           "data_path": "<folder holding espeak-ng-data>"}; model_path is not used.

#include "encoders.hpp"
#include "resample.hpp"
#include "voices.hpp"

#include <sluice/plugin/kernel.hpp>

#include <espeak-ng/speak_lib.h>

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace {

using namespace sluice;
namespace tts = sluice::kernels::tts;

constexpr unsigned output_rate = 24000; // OpenAI's rate for every format but opus (48 kHz)
constexpr int block_ms = 100;           // espeak's callback block

// ---------------------------------------------------------------- the process-wide engine

struct synthesis; // the request espeak is calling back for

struct engine {
    std::mutex mutex;      // held for every use of espeak
    bool ready = false;
    int sample_rate = 0;
    std::string failure;
};

engine& the_engine() {
    static engine e;
    return e;
}

// Set by the thread inside espeak_Synth, which calls back on that same thread.
thread_local synthesis* current = nullptr;

int on_samples(short* wav, int count, espeak_EVENT* events);

/// Initialises espeak once per process; later calls answer the first one's outcome.
plugin::result<int> start_engine(const std::string& data_path) {
    auto& e = the_engine();
    std::lock_guard lock(e.mutex);
    if (!e.ready && e.failure.empty()) {
        const int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, block_ms,
                                           data_path.empty() ? nullptr : data_path.c_str(), 0);
        if (rate <= 0) {
            e.failure = "espeak-ng could not start (no espeak-ng-data" +
                        (data_path.empty() ? std::string(" in its default place") : " under " + data_path) +
                        "; Debian: espeak-ng-data)";
        } else {
            e.sample_rate = rate;
            espeak_SetSynthCallback(on_samples);
            e.ready = true;
            // espeak now holds a callback into this library and runs a thread of its own that
            // nothing can stop: keep both libraries mapped until the process ends, so a host that
            // unloads and reloads the plugin finds this engine again instead of a second one.
            Dl_info self{};
            if (::dladdr(reinterpret_cast<void*>(&on_samples), &self) && self.dli_fname)
                ::dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
        }
    }
    if (!e.ready) return core::error{core::error_kind::not_found, e.failure, {}, {}};
    return e.sample_rate;
}

// ---------------------------------------------------------------- one request

std::uint64_t count_characters(std::string_view utf8) {
    return std::uint64_t(std::count_if(utf8.begin(), utf8.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

struct job {
    plugin::request_id id = 0;
    plugin::speech_request request;
    plugin::speech_sink sink;
    std::atomic<bool> cancelled{false};
    std::optional<core::error> reason; // under the kernel's mutex
};

struct settings {
    int mp3_kbps = 64;
    int opus_bitrate = 32000;
    unsigned flac_level = 5;
    std::size_t max_queue = 64;
};

std::unique_ptr<tts::encoder> make_encoder(std::string_view format, const settings& s, int source_rate, int serial) {
    if (format == "wav") return std::make_unique<tts::wav_encoder>(output_rate);
    if (format == "pcm") return std::make_unique<tts::pcm_encoder>(output_rate);
    if (format == "mp3") return std::make_unique<tts::mp3_encoder>(output_rate, s.mp3_kbps);
    if (format == "opus") return std::make_unique<tts::opus_encoder>(s.opus_bitrate, std::uint32_t(source_rate), serial);
    if (format == "flac") return std::make_unique<tts::flac_encoder>(output_rate, s.flac_level);
    throw std::runtime_error("no encoder for '" + std::string(format) + "'"); // speak() refused it already
}

/// What espeak's callback works on while one request is synthesised.
struct synthesis {
    job* work;
    tts::encoder* encoder;
    tts::resampler resample;
    std::vector<std::int16_t> samples;
    std::string bytes;
    std::uint64_t characters_reached = 0; // before the word being spoken
    std::optional<std::string> failure;   // an encoder threw

    void encode(std::span<const std::int16_t> block) {
        samples.clear();
        resample.push(block, samples);
        encoder->write(samples, bytes);
    }
};

int on_samples(short* wav, int count, espeak_EVENT* events) {
    synthesis* s = current;
    if (!s) return 1;
    for (auto* ev = events; ev && ev->type != espeakEVENT_LIST_TERMINATED; ++ev)
        if (ev->type == espeakEVENT_WORD && ev->text_position > 0)
            s->characters_reached = std::uint64_t(ev->text_position - 1);
    if (s->work->cancelled.load(std::memory_order_relaxed)) return 1;
    if (!wav || count <= 0) return 0;
    try {
        s->encode(std::span<const std::int16_t>(reinterpret_cast<const std::int16_t*>(wav), std::size_t(count)));
    } catch (const std::exception& e) {
        s->failure = e.what();
        return 1;
    }
    if (!s->bytes.empty()) {
        plugin::speech_chunk chunk;
        chunk.bytes = std::move(s->bytes);
        s->bytes.clear();
        s->work->sink(std::move(chunk));
    }
    return 0;
}

core::error shutting_down() { return core::error{core::error_kind::overloaded, "kernel shutting down", {}, {}}; }

// ---------------------------------------------------------------- the kernel

class tts_kernel final : public plugin::kernel {
public:
    tts_kernel() : worker_([this] { run(); }) {}

    ~tts_kernel() override {
        std::deque<std::shared_ptr<job>> queued;
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            if (running_ && !running_->cancelled) {
                running_->reason = shutting_down();
                running_->cancelled = true;
            }
            queued.swap(queue_);
        }
        wake_.notify_all();
        worker_.join();
        for (auto& j : queued) end_with(*j, shutting_down(), 0);
    }

    plugin::result<void> load(const plugin::kernel_config& config) override {
        settings s;
        const auto& o = config.options;
        if (auto* v = o.if_contains("mp3_kbps")) s.mp3_kbps = int(v->to_number<double>());
        if (auto* v = o.if_contains("opus_bitrate")) s.opus_bitrate = int(v->to_number<double>());
        if (auto* v = o.if_contains("flac_level")) s.flac_level = unsigned(v->to_number<double>());
        if (auto* v = o.if_contains("max_queue")) s.max_queue = std::size_t(v->to_number<double>());
        std::string data_path;
        if (auto* v = o.if_contains("data_path")) data_path = std::string(v->as_string());
        if (s.flac_level > 8) return bad_option("flac_level must be 0..8");
        if (s.opus_bitrate < 6000 || s.opus_bitrate > 256000) return bad_option("opus_bitrate must be 6000..256000");
        if (s.max_queue == 0) return bad_option("max_queue must be at least 1");
        // MPEG-2 Layer III's bit rates (24 kHz is an MPEG-2 rate); lame would round anything else.
        static constexpr int mp3_rates[] = {8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160};
        if (std::find(std::begin(mp3_rates), std::end(mp3_rates), s.mp3_kbps) == std::end(mp3_rates))
            return bad_option("mp3_kbps must be one of 8 16 24 32 40 48 56 64 80 96 112 128 144 160");
        auto rate = start_engine(data_path);
        if (!rate) return rate.error();
        std::lock_guard lock(mutex_);
        settings_ = s;
        source_rate_ = rate.value();
        model_ = config.name;
        return {};
    }

    plugin::kernel_info describe() const override {
        std::lock_guard lock(mutex_);
        return {"tts", "0.1.0", model_, {core::endpoint::speech}, 0};
    }

    plugin::result<plugin::request_id> submit(core::envelope, plugin::event_sink) override {
        return core::error{core::error_kind::invalid_request, "this model serves speech only", "model",
                           "unsupported_endpoint"};
    }

    plugin::result<plugin::request_id> speak(plugin::speech_request request, plugin::speech_sink sink) override {
        static constexpr std::string_view formats[] = {"wav", "pcm", "mp3", "opus", "flac"};
        if (std::find(std::begin(formats), std::end(formats), request.format) == std::end(formats))
            return core::error{core::error_kind::invalid_request,
                               "response_format must be one of wav, pcm, mp3, opus, flac; got '" + request.format + "'",
                               "response_format", {}};
        if (request.input.empty())
            return core::error{core::error_kind::invalid_request, "input must not be empty", "input", {}};
        if (!(request.speed >= 0.25 && request.speed <= 4.0))
            return core::error{core::error_kind::invalid_request, "speed must be between 0.25 and 4.0", "speed", {}};
        std::lock_guard lock(mutex_);
        if (model_.empty()) return core::error{core::error_kind::overloaded, "no model loaded", {}, {}};
        if (queue_.size() >= settings_.max_queue)
            return core::error{core::error_kind::overloaded, "speech queue is full", {}, {}};
        auto j = std::make_shared<job>();
        j->id = ++last_id_;
        j->request = std::move(request);
        j->sink = std::move(sink);
        queue_.push_back(std::move(j));
        wake_.notify_all();
        return last_id_;
    }

    bool cancel(plugin::request_id id, core::error reason) override {
        std::shared_ptr<job> queued;
        {
            std::lock_guard lock(mutex_);
            if (running_ && running_->id == id) {
                if (running_->cancelled) return false; // already stopping
                running_->reason = std::move(reason);
                running_->cancelled = true;
                return true;
            }
            auto it = std::find_if(queue_.begin(), queue_.end(), [id](const auto& j) { return j->id == id; });
            if (it == queue_.end()) return false;
            queued = std::move(*it);
            queue_.erase(it);
        }
        end_with(*queued, std::move(reason), 0);
        return true;
    }

    plugin::kernel_load current_load() const override {
        std::lock_guard lock(mutex_);
        plugin::kernel_load l;
        l.queue_depth = std::uint32_t(queue_.size());
        l.running = running_ ? 1 : 0;
        return l;
    }

private:
    static core::error bad_option(std::string what) {
        return core::error{core::error_kind::invalid_request, "tts options: " + std::move(what), {}, {}};
    }

    static void end_with(job& j, core::error e, std::uint64_t characters, std::string bytes = {}) {
        plugin::speech_chunk last;
        last.bytes = std::move(bytes);
        last.last = true;
        last.error = std::move(e);
        last.input_characters = characters;
        j.sink(std::move(last));
    }

    void run() {
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            running_ = std::move(queue_.front());
            queue_.pop_front();
            auto j = running_;
            const settings s = settings_;
            const int source_rate = source_rate_;
            lock.unlock();
            synthesise(*j, s, source_rate);
            lock.lock();
        }
    }

    void synthesise(job& j, const settings& s, int source_rate) {
        const auto& r = j.request;
        std::unique_ptr<tts::encoder> enc;
        std::optional<core::error> failed;
        synthesis state{&j, nullptr, tts::resampler(unsigned(source_rate), output_rate), {}, {}, 0, {}};
        try {
            enc = make_encoder(r.format, s, source_rate, int(j.id & 0x7fffffff));
            state.encoder = enc.get();
            state.resample = tts::resampler(unsigned(source_rate), enc->sample_rate());
        } catch (const std::exception& e) {
            failed = core::error{core::error_kind::internal, std::string("tts encoder: ") + e.what(), {}, {}};
        }
        if (!failed) {
            auto& e = the_engine();
            std::lock_guard engine_lock(e.mutex);
            const std::string voice(tts::espeak_voice(r.voice));
            // A variant or accent missing from this espeak-ng-data: plain American English, then English.
            if (espeak_SetVoiceByName(voice.c_str()) != EE_OK && espeak_SetVoiceByName("en-us") != EE_OK)
                espeak_SetVoiceByName("en");
            const int wpm = int(std::lround(espeakRATE_NORMAL * r.speed));
            espeak_SetParameter(espeakRATE, std::clamp(wpm, espeakRATE_MINIMUM, espeakRATE_MAXIMUM), 0);
            current = &state;
            const espeak_ERROR status = espeak_Synth(r.input.c_str(), r.input.size() + 1, 0, POS_CHARACTER, 0,
                                                     espeakCHARS_UTF8, nullptr, nullptr);
            current = nullptr;
            if (state.failure)
                failed = core::error{core::error_kind::internal, "tts encoder: " + *state.failure, {}, {}};
            else if (status != EE_OK && !j.cancelled)
                failed = core::error{core::error_kind::internal,
                                     "espeak_Synth failed (" + std::to_string(int(status)) + ")", {}, {}};
        }
        // The tail, unless the request stops here.
        std::string tail;
        if (!failed && !j.cancelled) {
            try {
                std::vector<std::int16_t> rest;
                state.resample.finish(rest);
                enc->write(rest, tail);
                enc->finish(tail);
            } catch (const std::exception& e) {
                failed = core::error{core::error_kind::internal, std::string("tts encoder: ") + e.what(), {}, {}};
            }
        }
        std::optional<core::error> reason;
        {
            std::lock_guard lock(mutex_);
            if (j.cancelled) reason = j.reason;
            running_.reset(); // from here cancel() answers false
        }
        if (reason) return end_with(j, std::move(*reason), state.characters_reached);
        if (failed) return end_with(j, std::move(*failed), state.characters_reached);
        plugin::speech_chunk last;
        last.bytes = std::move(tail);
        last.last = true;
        last.input_characters = count_characters(r.input);
        j.sink(std::move(last));
    }

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::shared_ptr<job>> queue_;
    std::shared_ptr<job> running_;
    settings settings_;
    int source_rate_ = 0;
    std::string model_;
    bool stopping_ = false;
    plugin::request_id last_id_ = 0;
    std::thread worker_; // last: starts after every member it reads is built
};

} // namespace

SLUICE_KERNEL_PLUGIN(tts_kernel, "tts", "0.1.0")

#ifndef SLUICE_KERNELS_TTS_ENCODERS_HPP
#define SLUICE_KERNELS_TTS_ENCODERS_HPP

// Streaming encoders for the speech formats: 16-bit mono PCM blocks in, the file's bytes out as
// soon as the codec gives them. Nothing is back-patched (the bytes may already be on the wire),
// so lengths the header would carry are "unknown" where the format has a way to say so.

#include <FLAC/stream_encoder.h>
#include <lame/lame.h>
#include <ogg/ogg.h>
#include <opus.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::kernels::tts {

class encoder {
public:
    virtual ~encoder() = default;
    /// The rate the encoder takes its samples at.
    virtual unsigned sample_rate() const = 0;
    /// Encodes `pcm`, appending whatever bytes are ready to `out` (the header on the first call).
    virtual void write(std::span<const std::int16_t> pcm, std::string& out) = 0;
    /// Flushes the codec and appends the file's last bytes.
    virtual void finish(std::string& out) = 0;
};

namespace detail {

inline void put_le(std::string& out, std::uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(char((v >> (8 * i)) & 0xff));
}

inline void put_samples(std::string& out, std::span<const std::int16_t> pcm) {
    for (std::int16_t s : pcm) put_le(out, std::uint16_t(s), 2);
}

} // namespace detail

/// Raw signed 16-bit little-endian mono, no header.
class pcm_encoder final : public encoder {
public:
    explicit pcm_encoder(unsigned rate) : rate_(rate) {}
    unsigned sample_rate() const override { return rate_; }
    void write(std::span<const std::int16_t> pcm, std::string& out) override { detail::put_samples(out, pcm); }
    void finish(std::string&) override {}

private:
    unsigned rate_;
};

/// RIFF/WAVE, PCM 16-bit mono. The RIFF and data sizes are 0xFFFFFFFF, as streaming WAV writers
/// do: readers take the data to run to the end of the file.
class wav_encoder final : public encoder {
public:
    explicit wav_encoder(unsigned rate) : rate_(rate) {}
    unsigned sample_rate() const override { return rate_; }
    void write(std::span<const std::int16_t> pcm, std::string& out) override {
        header(out);
        detail::put_samples(out, pcm);
    }
    void finish(std::string& out) override { header(out); }

private:
    void header(std::string& out) {
        if (started_) return;
        started_ = true;
        using detail::put_le;
        out += "RIFF";
        put_le(out, 0xFFFFFFFFu, 4);
        out += "WAVEfmt ";
        put_le(out, 16, 4);
        put_le(out, 1, 2);         // PCM
        put_le(out, 1, 2);         // mono
        put_le(out, rate_, 4);
        put_le(out, rate_ * 2, 4); // bytes per second
        put_le(out, 2, 2);         // block align
        put_le(out, 16, 2);        // bits per sample
        out += "data";
        put_le(out, 0xFFFFFFFFu, 4);
    }

    unsigned rate_;
    bool started_ = false;
};

/// MPEG Layer III through libmp3lame: constant bit rate, mono, no Xing/LAME tag (it would have
/// to be rewritten at the end).
class mp3_encoder final : public encoder {
public:
    mp3_encoder(unsigned rate, int kbps) : rate_(rate), lame_(lame_init()) {
        if (!lame_) throw std::runtime_error("lame_init failed");
        lame_set_in_samplerate(lame_, int(rate));
        lame_set_out_samplerate(lame_, int(rate));
        lame_set_num_channels(lame_, 1);
        lame_set_mode(lame_, MONO);
        lame_set_VBR(lame_, vbr_off);
        lame_set_brate(lame_, kbps);
        lame_set_bWriteVbrTag(lame_, 0);
        lame_set_quality(lame_, 5);
        if (lame_init_params(lame_) < 0) {
            lame_close(lame_);
            throw std::runtime_error("lame_init_params refused " + std::to_string(kbps) + " kbps at " +
                                     std::to_string(rate) + " Hz");
        }
    }
    ~mp3_encoder() override { lame_close(lame_); }
    mp3_encoder(const mp3_encoder&) = delete;
    mp3_encoder& operator=(const mp3_encoder&) = delete;

    unsigned sample_rate() const override { return rate_; }
    void write(std::span<const std::int16_t> pcm, std::string& out) override {
        if (pcm.empty()) return;
        buffer_.resize(pcm.size() * 5 / 4 + 7200); // lame's documented worst case
        // lame takes non-const buffers but only reads them.
        auto* samples = const_cast<short*>(reinterpret_cast<const short*>(pcm.data()));
        const int n = lame_encode_buffer(lame_, samples, samples, int(pcm.size()), buffer_.data(), int(buffer_.size()));
        if (n < 0) throw std::runtime_error("lame_encode_buffer failed: " + std::to_string(n));
        out.append(reinterpret_cast<const char*>(buffer_.data()), std::size_t(n));
    }
    void finish(std::string& out) override {
        buffer_.resize(7200);
        const int n = lame_encode_flush(lame_, buffer_.data(), int(buffer_.size()));
        if (n < 0) throw std::runtime_error("lame_encode_flush failed: " + std::to_string(n));
        out.append(reinterpret_cast<const char*>(buffer_.data()), std::size_t(n));
    }

private:
    unsigned rate_;
    lame_global_flags* lame_;
    std::vector<unsigned char> buffer_;
};

/// Opus in Ogg (RFC 7845): OpusHead and OpusTags pages, then 20 ms packets at 48 kHz, a page per
/// write() call. Granule positions count 48 kHz samples including the pre-skip; the last page's
/// position trims the final frame's padding.
class opus_encoder final : public encoder {
public:
    static constexpr unsigned rate = 48000;
    static constexpr unsigned frame = 960; // 20 ms

    opus_encoder(int bitrate, std::uint32_t input_rate, int serial) {
        int err = 0;
        enc_ = opus_encoder_create(rate, 1, OPUS_APPLICATION_VOIP, &err);
        if (err != OPUS_OK || !enc_) throw std::runtime_error(std::string("opus_encoder_create: ") + opus_strerror(err));
        opus_encoder_ctl(enc_, OPUS_SET_BITRATE(bitrate));
        opus_encoder_ctl(enc_, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
        opus_int32 lookahead = 0;
        opus_encoder_ctl(enc_, OPUS_GET_LOOKAHEAD(&lookahead));
        preskip_ = unsigned(lookahead);
        ogg_stream_init(&stream_, serial);
        input_rate_ = input_rate;
    }
    ~opus_encoder() override {
        ogg_stream_clear(&stream_);
        opus_encoder_destroy(enc_);
    }
    opus_encoder(const opus_encoder&) = delete;
    opus_encoder& operator=(const opus_encoder&) = delete;

    unsigned sample_rate() const override { return rate; }

    void write(std::span<const std::int16_t> pcm, std::string& out) override {
        headers(out);
        pending_.insert(pending_.end(), pcm.begin(), pcm.end());
        samples_ += pcm.size();
        // One frame always waits: the last packet must carry end-of-stream.
        std::size_t used = 0;
        while (pending_.size() - used > frame) {
            encode(pending_.data() + used, false);
            used += frame;
        }
        pending_.erase(pending_.begin(), pending_.begin() + std::ptrdiff_t(used));
        flush(out);
    }

    void finish(std::string& out) override {
        headers(out);
        // The decoder's output lags by the pre-skip: feed that much silence so every sample comes out.
        pending_.insert(pending_.end(), preskip_, 0);
        std::size_t used = 0;
        do {
            std::int16_t block[frame] = {};
            const std::size_t n = std::min<std::size_t>(frame, pending_.size() - used);
            std::copy_n(pending_.data() + used, n, block);
            used += n;
            encode(block, used >= pending_.size());
        } while (used < pending_.size());
        pending_.clear();
        flush(out);
    }

private:
    void headers(std::string& out) {
        if (started_) return;
        started_ = true;
        std::string head = "OpusHead";
        head.push_back(1); // version
        head.push_back(1); // channels
        detail::put_le(head, preskip_, 2);
        detail::put_le(head, input_rate_, 4);
        detail::put_le(head, 0, 2); // output gain
        head.push_back(0);          // mapping family: mono/stereo
        packet(head, true, false, 0);
        flush(out);
        std::string tags = "OpusTags";
        const std::string_view vendor = opus_get_version_string();
        detail::put_le(tags, std::uint32_t(vendor.size()), 4);
        tags += vendor;
        const std::string_view comment = "ENCODER=sluice tts";
        detail::put_le(tags, 1, 4);
        detail::put_le(tags, std::uint32_t(comment.size()), 4);
        tags += comment;
        packet(tags, false, false, 0);
        flush(out);
    }

    void encode(const std::int16_t* pcm, bool last) {
        unsigned char data[1500];
        const opus_int32 n = opus_encode(enc_, pcm, frame, data, sizeof data);
        if (n < 0) throw std::runtime_error(std::string("opus_encode: ") + opus_strerror(n));
        encoded_ += frame;
        std::uint64_t granule = encoded_;
        if (last) granule = std::min<std::uint64_t>(encoded_, preskip_ + samples_);
        packet(std::string_view(reinterpret_cast<const char*>(data), std::size_t(n)), false, last, granule);
    }

    void packet(std::string_view bytes, bool bos, bool eos, std::uint64_t granule) {
        ogg_packet p{};
        p.packet = reinterpret_cast<unsigned char*>(const_cast<char*>(bytes.data()));
        p.bytes = long(bytes.size());
        p.b_o_s = bos;
        p.e_o_s = eos;
        p.granulepos = ogg_int64_t(granule);
        p.packetno = packetno_++;
        ogg_stream_packetin(&stream_, &p);
    }

    void flush(std::string& out) {
        ogg_page page;
        while (ogg_stream_flush(&stream_, &page)) {
            out.append(reinterpret_cast<const char*>(page.header), std::size_t(page.header_len));
            out.append(reinterpret_cast<const char*>(page.body), std::size_t(page.body_len));
        }
    }

    OpusEncoder* enc_ = nullptr;
    ogg_stream_state stream_{};
    unsigned preskip_ = 0;
    std::uint32_t input_rate_ = 0;
    bool started_ = false;
    std::vector<std::int16_t> pending_;
    std::uint64_t samples_ = 0;  // real input samples so far
    std::uint64_t encoded_ = 0;  // samples in the packets so far, padding included
    ogg_int64_t packetno_ = 0;
};

/// FLAC through libFLAC's stream encoder with a write callback only: STREAMINFO says the total
/// sample count and the MD5 are unknown (0), as the format allows for streams.
class flac_encoder final : public encoder {
public:
    flac_encoder(unsigned rate, unsigned level) : rate_(rate), enc_(FLAC__stream_encoder_new()) {
        if (!enc_) throw std::runtime_error("FLAC__stream_encoder_new failed");
        FLAC__stream_encoder_set_channels(enc_, 1);
        FLAC__stream_encoder_set_bits_per_sample(enc_, 16);
        FLAC__stream_encoder_set_sample_rate(enc_, rate);
        FLAC__stream_encoder_set_compression_level(enc_, level);
        FLAC__stream_encoder_set_streamable_subset(enc_, true);
        FLAC__stream_encoder_set_total_samples_estimate(enc_, 0);
    }
    ~flac_encoder() override { FLAC__stream_encoder_delete(enc_); }
    flac_encoder(const flac_encoder&) = delete;
    flac_encoder& operator=(const flac_encoder&) = delete;

    unsigned sample_rate() const override { return rate_; }

    void write(std::span<const std::int16_t> pcm, std::string& out) override {
        start();
        wide_.assign(pcm.begin(), pcm.end());
        if (!wide_.empty() && !FLAC__stream_encoder_process_interleaved(enc_, wide_.data(), unsigned(wide_.size())))
            fail("FLAC__stream_encoder_process_interleaved");
        take(out);
    }
    void finish(std::string& out) override {
        start();
        if (!FLAC__stream_encoder_finish(enc_)) fail("FLAC__stream_encoder_finish");
        take(out);
    }

private:
    void start() {
        if (started_) return;
        started_ = true;
        const auto status = FLAC__stream_encoder_init_stream(enc_, &on_write, nullptr, nullptr, nullptr, this);
        if (status != FLAC__STREAM_ENCODER_INIT_STATUS_OK)
            throw std::runtime_error(std::string("FLAC__stream_encoder_init_stream: ") +
                                     FLAC__StreamEncoderInitStatusString[status]);
    }
    [[noreturn]] void fail(const char* call) {
        throw std::runtime_error(std::string(call) + ": " +
                                 FLAC__StreamEncoderStateString[FLAC__stream_encoder_get_state(enc_)]);
    }
    void take(std::string& out) {
        out += written_;
        written_.clear();
    }
    static FLAC__StreamEncoderWriteStatus on_write(const FLAC__StreamEncoder*, const FLAC__byte buffer[], size_t bytes,
                                                   uint32_t, uint32_t, void* self) {
        static_cast<flac_encoder*>(self)->written_.append(reinterpret_cast<const char*>(buffer), bytes);
        return FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
    }

    unsigned rate_;
    FLAC__StreamEncoder* enc_;
    bool started_ = false;
    std::vector<FLAC__int32> wide_;
    std::string written_;
};

} // namespace sluice::kernels::tts

#endif

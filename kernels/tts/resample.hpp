#ifndef SLUICE_KERNELS_TTS_RESAMPLE_HPP
#define SLUICE_KERNELS_TTS_RESAMPLE_HPP

// A streaming rational resampler: Kaiser-windowed sinc, one precomputed filter per output phase
// (22050 -> 24000 Hz is 160/147 phases of 32 taps). Blocks go in as espeak makes them; what can
// be computed goes out at once, the last half filter's worth waits for the next block or finish().

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

namespace sluice::kernels::tts {

class resampler {
public:
    /// `half_taps` input samples on each side of an output instant; `beta` the Kaiser shape.
    resampler(unsigned in_rate, unsigned out_rate, unsigned half_taps = 16, double beta = 8.0)
        : half_(half_taps) {
        const unsigned g = std::gcd(in_rate, out_rate);
        up_ = out_rate / g;
        down_ = in_rate / g;
        if (up_ == down_) return; // same rate: samples pass through
        // Cut below the lower Nyquist frequency, in units of the input's Nyquist frequency.
        const double cutoff = 0.92 * std::min(1.0, double(up_) / down_);
        const unsigned taps = 2 * half_;
        coef_.resize(std::size_t(up_) * taps);
        for (unsigned p = 0; p < up_; ++p) {
            double sum = 0;
            for (unsigned t = 0; t < taps; ++t) {
                const double d = (double(t) - double(half_) + 1.0) - double(p) / up_; // input samples
                const double x = d / half_;
                double w = 0;
                if (std::abs(x) < 1) w = bessel_i0(beta * std::sqrt(1 - x * x)) / bessel_i0(beta);
                const double s = d == 0 ? 1.0 : std::sin(M_PI * cutoff * d) / (M_PI * cutoff * d);
                coef_[std::size_t(p) * taps + t] = float(cutoff * s * w);
                sum += cutoff * s * w;
            }
            for (unsigned t = 0; t < taps; ++t) coef_[std::size_t(p) * taps + t] /= float(sum); // unit DC gain
        }
    }

    void push(std::span<const std::int16_t> in, std::vector<std::int16_t>& out) {
        if (up_ == down_) {
            out.insert(out.end(), in.begin(), in.end());
            return;
        }
        history_.insert(history_.end(), in.begin(), in.end());
        received_ += in.size();
        produce(out, false);
    }

    /// The rest, as if silence followed: as many samples as the input's duration makes.
    void finish(std::vector<std::int16_t>& out) {
        if (up_ == down_) return;
        produce(out, true);
    }

private:
    static double bessel_i0(double x) {
        double sum = 1, term = 1;
        for (int k = 1; k < 40; ++k) {
            term *= (x / (2 * k)) * (x / (2 * k));
            sum += term;
        }
        return sum;
    }

    // Output n sits at input position n * down / up; its taps reach from -half+1 to +half around it.
    void produce(std::vector<std::int16_t>& out, bool last) {
        const unsigned taps = 2 * half_;
        for (;;) {
            const std::uint64_t pos = next_ * down_;
            const std::uint64_t i = pos / up_;
            const unsigned phase = unsigned(pos % up_);
            if (last ? next_ * down_ >= received_ * up_ : i + half_ >= received_) break;
            const float* c = &coef_[std::size_t(phase) * taps];
            double acc = 0;
            for (unsigned t = 0; t < taps; ++t) {
                const std::int64_t at = std::int64_t(i) + std::int64_t(t) - std::int64_t(half_) + 1;
                if (at < std::int64_t(base_) || at >= std::int64_t(received_)) continue; // silence
                acc += c[t] * history_[std::size_t(at - std::int64_t(base_))];
            }
            out.push_back(std::int16_t(std::clamp(std::lround(acc), -32768L, 32767L)));
            ++next_;
        }
        // Keep what the next output's taps still reach.
        const std::uint64_t first = (next_ * down_) / up_;
        const std::uint64_t keep_from = first + 1 > half_ ? first + 1 - half_ : 0;
        if (keep_from > base_) {
            const auto drop = std::min<std::uint64_t>(keep_from - base_, history_.size());
            history_.erase(history_.begin(), history_.begin() + std::ptrdiff_t(drop));
            base_ += drop;
        }
    }

    unsigned half_;
    unsigned up_ = 1, down_ = 1;
    std::vector<float> coef_;          // [phase][tap]
    std::vector<std::int16_t> history_; // input samples from index base_
    std::uint64_t base_ = 0;
    std::uint64_t received_ = 0;       // input samples so far
    std::uint64_t next_ = 0;           // the next output sample's index
};

} // namespace sluice::kernels::tts

#endif

#ifndef SLUICE_KERNELS_TTS_VOICES_HPP
#define SLUICE_KERNELS_TTS_VOICES_HPP

// OpenAI's voice names on espeak-ng voices: a language voice plus a variant ("+f3": female 3).
// The one table; docs/speech.md shows it.

#include <algorithm>
#include <array>
#include <string_view>

namespace sluice::kernels::tts {

struct voice_mapping {
    std::string_view openai; // the name a request carries
    std::string_view espeak; // espeak_SetVoiceByName()'s argument
};

inline constexpr std::array<voice_mapping, 11> voices{{
    {"alloy", "en-us+f3"},
    {"ash", "en-us+m3"},
    {"ballad", "en-gb-x-rp+m2"},
    {"coral", "en-us+f4"},
    {"echo", "en-us+m1"},
    {"fable", "en-gb-x-rp+m3"},
    {"onyx", "en-us+m7"},
    {"nova", "en-us+f2"},
    {"sage", "en-gb-x-rp+f3"},
    {"shimmer", "en-us+f5"},
    {"verse", "en-gb-scotland+m4"},
}};

inline constexpr std::string_view default_voice = "alloy";

/// The espeak voice for an OpenAI name; the default's for a name the table does not know.
constexpr std::string_view espeak_voice(std::string_view openai) {
    for (const auto& v : voices)
        if (v.openai == openai) return v.espeak;
    return voices[0].espeak;
}

} // namespace sluice::kernels::tts

#endif

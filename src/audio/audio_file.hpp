#pragma once

#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace dvd::audio {

/// Reads a whole audio file with libsndfile (WAV PCM 8/16/24/32-bit and float, mu-law, A-law,
/// FLAC, Ogg/Vorbis, Ogg/Opus and whatever else the installed libsndfile reads), downmixes to
/// mono (mean of the channels) and resamples to `target_rate_hz` with dsp::Resampler (VHQ) when
/// the file's rate differs. Samples are floats at full scale +-1.0 (int16 / 32768).
/// Errors (the message names the file): `NotFound` (missing), `InvalidArgument` (bad target
/// rate, a directory), `Corrupt` (not audio / unreadable header / read failure, zero channels,
/// "no audio samples" for zero frames), `Io` (open failed for another reason).
/// Blocking file I/O: never call it on a worker thread. Thread-safe (no shared state).
[[nodiscard]] base::Result<std::vector<float>> read_audio_file(const std::string& path,
                                                               int target_rate_hz = 8000);

/// A file read by `read_audio`: its samples as read_audio_file gives them, and what the reader
/// noticed that a user should know although the file could be read.
struct AudioRead {
    std::vector<float> samples;
    /// Empty, or one sentence: the header declares more audio data than the file holds (a file
    /// cut short, or one whose writer never finished its header), an Ogg file (Vorbis, Opus)
    /// does not end with a whole end-of-stream page, or a FLAC file holds fewer samples than its
    /// STREAMINFO declares (both cut short); the samples are what is there.
    std::string warning;
};

/// read_audio_file, with the warning. The same errors.
[[nodiscard]] base::Result<AudioRead> read_audio(const std::string& path,
                                                 int target_rate_hz = 8000);

/// Writes mono 16-bit PCM WAV. Samples are scaled by 32768, rounded to nearest and clipped to
/// [-32768, 32767], so reading the file back returns samples on the int16 grid exactly.
/// Errors: `InvalidArgument` (rate <= 0), `Io` (cannot create or write the file).
[[nodiscard]] base::Result<void> write_wav_pcm16(const std::string& path,
                                                 std::span<const float> samples, int rate_hz);

}  // namespace dvd::audio

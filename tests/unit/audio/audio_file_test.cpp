#include "audio/audio_file.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sndfile.h>
#include <unistd.h>

#include "dsp/g711.hpp"

namespace dvd::audio {
namespace {

namespace fs = std::filesystem;

// A fresh temporary directory per test, removed afterwards.
class AudioFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::temp_directory_path()
               / ("dvd_audio_test_" + std::to_string(::getpid()) + "_" + info->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }

    void TearDown() override { fs::remove_all(dir_); }

    std::string path(const std::string& name) const { return (dir_ / name).string(); }

    std::string bytes_of(const std::string& name) const {
        std::ifstream in(path(name), std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

    fs::path dir_;
};

// int16 test signal: a tone plus a little deterministic noise, `channels` interleaved; channel c
// has its own frequency.
std::vector<short> make_pcm16(std::size_t frames, int channels, double rate_hz,
                              double amplitude = 0.4) {
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> jitter(-200, 200);
    std::vector<short> pcm(frames * static_cast<std::size_t>(channels));
    for (std::size_t i = 0; i < frames; ++i) {
        for (int c = 0; c < channels; ++c) {
            const double f = 440.0 * (c + 1);
            const double v =
                    amplitude * 32767.0
                    * std::sin(2.0 * std::numbers::pi * f * static_cast<double>(i) / rate_hz);
            pcm[i * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c)] =
                    static_cast<short>(std::lrint(v) + jitter(rng));
        }
    }
    return pcm;
}

void write_with_sndfile(const std::string& path, int format, int rate_hz, int channels,
                        const std::vector<short>& pcm) {
    SF_INFO info{};
    info.samplerate = rate_hz;
    info.channels = channels;
    info.format = format;
    ASSERT_TRUE(sf_format_check(&info)) << "format " << std::hex << format;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
    const auto frames = static_cast<sf_count_t>(pcm.size() / static_cast<std::size_t>(channels));
    EXPECT_EQ(sf_writef_short(f, pcm.data(), frames), frames);
    ASSERT_EQ(sf_close(f), 0);
}

std::vector<float> to_float(const std::vector<short>& pcm);

// Float files are written as floats: libsndfile's own short -> float write scaling is not 1/32768.
void write_float_with_sndfile(const std::string& path, int format, int rate_hz,
                              const std::vector<float>& x) {
    SF_INFO info{};
    info.samplerate = rate_hz;
    info.channels = 1;
    info.format = format;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
    EXPECT_EQ(sf_writef_float(f, x.data(), static_cast<sf_count_t>(x.size())),
              static_cast<sf_count_t>(x.size()));
    ASSERT_EQ(sf_close(f), 0);
}

std::vector<float> to_float(const std::vector<short>& pcm) {
    std::vector<float> x(pcm.size());
    for (std::size_t i = 0; i < pcm.size(); ++i) {
        x[i] = static_cast<float>(pcm[i]) / 32768.0f;
    }
    return x;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double worst = 0.0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        worst = std::max(worst, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    }
    return worst;
}

double tone_amplitude(const std::vector<float>& x, double freq_hz, double rate_hz) {
    const std::size_t skip = x.size() / 5;  // away from resampler edges
    double s = 0.0;
    double c = 0.0;
    for (std::size_t i = skip; i < x.size() - skip; ++i) {
        const double ph = 2.0 * std::numbers::pi * freq_hz * static_cast<double>(i) / rate_hz;
        s += static_cast<double>(x[i]) * std::sin(ph);
        c += static_cast<double>(x[i]) * std::cos(ph);
    }
    return 2.0 * std::hypot(s, c) / static_cast<double>(x.size() - 2 * skip);
}

void expect_error(const base::Result<std::vector<float>>& r, base::Errc code,
                  const std::string& path, const std::string& words) {
    ASSERT_FALSE(r) << "expected an error for " << path;
    EXPECT_EQ(r.error().code, base::make_error_code(code)) << r.error().message;
    EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
}

TEST_F(AudioFileTest, Pcm16At8kIsReadExactly) {
    const auto pcm = make_pcm16(8000, 1, 8000.0);
    write_with_sndfile(path("a.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, pcm);
    const auto x = read_audio_file(path("a.wav"));
    ASSERT_TRUE(x) << x.error().message;
    EXPECT_EQ(*x, to_float(pcm));
}

TEST_F(AudioFileTest, Pcm8BitWavIsReadWithinOneStep) {
    const auto pcm = make_pcm16(4000, 1, 8000.0);
    write_with_sndfile(path("u8.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 8000, 1, pcm);
    const auto x = read_audio_file(path("u8.wav"));
    ASSERT_TRUE(x) << x.error().message;
    ASSERT_EQ(x->size(), pcm.size());
    EXPECT_LE(max_abs_diff(*x, to_float(pcm)), 1.0 / 128.0 + 1e-6);
}

TEST_F(AudioFileTest, Pcm24And32AndFloatWavAreExact) {
    const auto pcm = make_pcm16(4000, 1, 8000.0);
    for (int sub : {SF_FORMAT_PCM_24, SF_FORMAT_PCM_32, SF_FORMAT_FLOAT}) {
        const std::string p = path("w" + std::to_string(sub) + ".wav");
        if (sub == SF_FORMAT_FLOAT) {
            write_float_with_sndfile(p, SF_FORMAT_WAV | sub, 8000, to_float(pcm));
        } else {
            write_with_sndfile(p, SF_FORMAT_WAV | sub, 8000, 1, pcm);
        }
        const auto x = read_audio_file(p);
        ASSERT_TRUE(x) << x.error().message;
        EXPECT_EQ(*x, to_float(pcm)) << "subtype " << sub;
    }
}

TEST_F(AudioFileTest, MulawAndAlawWavMatchG711) {
    const auto pcm = make_pcm16(4000, 1, 8000.0);
    write_with_sndfile(path("mu.wav"), SF_FORMAT_WAV | SF_FORMAT_ULAW, 8000, 1, pcm);
    write_with_sndfile(path("a.wav"), SF_FORMAT_WAV | SF_FORMAT_ALAW, 8000, 1, pcm);
    const auto mu = read_audio_file(path("mu.wav"));
    const auto a = read_audio_file(path("a.wav"));
    ASSERT_TRUE(mu) << mu.error().message;
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_EQ(mu->size(), pcm.size());
    ASSERT_EQ(a->size(), pcm.size());
    // libsndfile's encoder is not the Sun reference (it sometimes picks the neighbouring code),
    // but every decoded value must be one of the 256 G.711 levels and within a step of the input.
    std::vector<float> mu_levels;
    std::vector<float> a_levels;
    for (int c = 0; c < 256; ++c) {
        mu_levels.push_back(dsp::mulaw_to_linear(static_cast<uint8_t>(c)) / 32768.0f);
        a_levels.push_back(dsp::alaw_to_linear(static_cast<uint8_t>(c)) / 32768.0f);
    }
    for (std::size_t i = 0; i < pcm.size(); ++i) {
        EXPECT_NE(std::find(mu_levels.begin(), mu_levels.end(), (*mu)[i]), mu_levels.end()) << i;
        EXPECT_NE(std::find(a_levels.begin(), a_levels.end(), (*a)[i]), a_levels.end()) << i;
    }
    // The top segments' step is 1024 (16-bit units).
    EXPECT_LE(max_abs_diff(*mu, to_float(pcm)), 1024.0 / 32768.0);
    EXPECT_LE(max_abs_diff(*a, to_float(pcm)), 1024.0 / 32768.0);
}

TEST_F(AudioFileTest, Pcm16At16kIsResampledTo8k) {
    const auto pcm = make_pcm16(16000, 1, 16000.0);
    write_with_sndfile(path("w16.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, pcm);
    const auto x = read_audio_file(path("w16.wav"));
    ASSERT_TRUE(x) << x.error().message;
    EXPECT_NEAR(static_cast<double>(x->size()), 8000.0, 1.0);
    EXPECT_NEAR(tone_amplitude(*x, 440.0, 8000.0), 0.4, 0.01);
    const auto native = read_audio_file(path("w16.wav"), 16000);
    ASSERT_TRUE(native);
    EXPECT_EQ(*native, to_float(pcm));
}

TEST_F(AudioFileTest, Stereo44100IsDownmixedToTheMeanAndResampled) {
    const auto pcm = make_pcm16(44100, 2, 44100.0);  // left 440 Hz, right 880 Hz
    write_with_sndfile(path("st.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, pcm);
    const auto same_rate = read_audio_file(path("st.wav"), 44100);
    ASSERT_TRUE(same_rate) << same_rate.error().message;
    ASSERT_EQ(same_rate->size(), 44100u);
    for (std::size_t i = 0; i < same_rate->size(); i += 97) {
        const float mean = (static_cast<float>(pcm[2 * i]) / 32768.0f
                            + static_cast<float>(pcm[2 * i + 1]) / 32768.0f)
                           * 0.5f;
        EXPECT_FLOAT_EQ((*same_rate)[i], mean) << i;
    }
    const auto x = read_audio_file(path("st.wav"));
    ASSERT_TRUE(x) << x.error().message;
    EXPECT_NEAR(static_cast<double>(x->size()), 8000.0, 1.0);
    EXPECT_NEAR(tone_amplitude(*x, 440.0, 8000.0), 0.2, 0.01);
    EXPECT_NEAR(tone_amplitude(*x, 880.0, 8000.0), 0.2, 0.01);
}

TEST_F(AudioFileTest, FlacIsLossless) {
    const auto pcm = make_pcm16(8000, 1, 8000.0);
    write_with_sndfile(path("a.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 8000, 1, pcm);
    const auto x = read_audio_file(path("a.flac"));
    ASSERT_TRUE(x) << x.error().message;
    EXPECT_EQ(*x, to_float(pcm));
}

TEST_F(AudioFileTest, OggVorbisKeepsTheTone) {
    const auto pcm = make_pcm16(16000, 1, 16000.0);
    write_with_sndfile(path("a.ogg"), SF_FORMAT_OGG | SF_FORMAT_VORBIS, 16000, 1, pcm);
    const auto x = read_audio_file(path("a.ogg"));
    ASSERT_TRUE(x) << x.error().message;
    EXPECT_NEAR(static_cast<double>(x->size()), 8000.0, 2.0);
    EXPECT_NEAR(tone_amplitude(*x, 440.0, 8000.0), 0.4, 0.02);
}

TEST_F(AudioFileTest, OggOpusKeepsTheTone) {
    SF_INFO probe{};
    probe.samplerate = 16000;
    probe.channels = 1;
    probe.format = SF_FORMAT_OGG | SF_FORMAT_OPUS;
    if (!sf_format_check(&probe)) {
        GTEST_SKIP() << "this libsndfile has no Opus support";
    }
    const auto pcm = make_pcm16(16000, 1, 16000.0);
    write_with_sndfile(path("a.opus"), SF_FORMAT_OGG | SF_FORMAT_OPUS, 16000, 1, pcm);
    const auto x = read_audio_file(path("a.opus"));
    ASSERT_TRUE(x) << x.error().message;
    EXPECT_NEAR(static_cast<double>(x->size()), 8000.0, 200.0);
    EXPECT_NEAR(tone_amplitude(*x, 440.0, 8000.0), 0.4, 0.04);
}

// libsndfile reads an Ogg file cut short up to its last whole packet without a word; read_audio
// looks for the end-of-stream page and says so.
class OggEndTest : public AudioFileTest, public ::testing::WithParamInterface<int> {};

TEST_P(OggEndTest, ACutFileIsReadWithAWarningAndAWholeOneWithout) {
    SF_INFO probe{};
    probe.samplerate = 16000;
    probe.channels = 1;
    probe.format = SF_FORMAT_OGG | GetParam();
    if (!sf_format_check(&probe)) {
        GTEST_SKIP() << "this libsndfile cannot write this Ogg codec";
    }
    const auto pcm = make_pcm16(48000, 1, 16000.0);
    write_with_sndfile(path("full.ogg"), SF_FORMAT_OGG | GetParam(), 16000, 1, pcm);
    const auto whole = read_audio(path("full.ogg"));
    ASSERT_TRUE(whole) << whole.error().message;
    EXPECT_EQ(whole->warning, "");

    const std::string bytes = bytes_of("full.ogg");
    const auto write = [&](const std::string& name, std::size_t size) {
        std::ofstream(path(name), std::ios::binary) << bytes.substr(0, size);
    };
    // Inside a page.
    write("mid_page.ogg", bytes.size() * 6 / 10);
    const auto mid = read_audio(path("mid_page.ogg"));
    ASSERT_TRUE(mid) << mid.error().message;
    EXPECT_NE(mid->warning.find("ends inside an Ogg page"), std::string::npos) << mid->warning;
    EXPECT_GT(mid->samples.size(), 0u);
    EXPECT_LT(mid->samples.size(), whole->samples.size());
    // At a page boundary: the pages before are whole, none says the stream ended.
    const std::size_t boundary = bytes.rfind("OggS", bytes.size() * 6 / 10);
    ASSERT_NE(boundary, std::string::npos);
    ASSERT_GT(boundary, 0u);
    write("at_page.ogg", boundary);
    const auto at_page = read_audio(path("at_page.ogg"));
    ASSERT_TRUE(at_page) << at_page.error().message;
    EXPECT_NE(at_page->warning.find("no end-of-stream mark"), std::string::npos)
            << at_page->warning;
    EXPECT_LT(at_page->samples.size(), whole->samples.size());
}

INSTANTIATE_TEST_SUITE_P(Codecs, OggEndTest, ::testing::Values(SF_FORMAT_VORBIS, SF_FORMAT_OPUS),
                         [](const ::testing::TestParamInfo<int>& codec) {
                             return codec.param == SF_FORMAT_VORBIS ? std::string("Vorbis")
                                                                    : std::string("Opus");
                         });

// A FLAC file cut between two frames reads without an error; STREAMINFO's length tells.
TEST_F(AudioFileTest, FlacCutBetweenFramesIsReadWithAWarning) {
    const auto pcm = make_pcm16(16000, 1, 8000.0);
    write_with_sndfile(path("full.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 8000, 1, pcm);
    const auto whole = read_audio(path("full.flac"));
    ASSERT_TRUE(whole) << whole.error().message;
    EXPECT_EQ(whole->warning, "");
    const std::string bytes = bytes_of("full.flac");
    // Frame sync codes (0xFFF8) from the middle on: the first cut there that reads cleanly.
    bool found = false;
    for (std::size_t at = bytes.size() / 2; !found && at + 1 < bytes.size(); ++at) {
        if (static_cast<unsigned char>(bytes[at]) != 0xFF
            || static_cast<unsigned char>(bytes[at + 1]) != 0xF8) {
            continue;
        }
        std::ofstream(path("cut.flac"), std::ios::binary) << bytes.substr(0, at);
        const auto cut = read_audio(path("cut.flac"));
        if (!cut) {
            continue;  // a sync pattern inside a frame's data
        }
        found = true;
        EXPECT_LT(cut->samples.size(), pcm.size());
        EXPECT_EQ(cut->samples,
                  std::vector<float>(whole->samples.begin(),
                                     whole->samples.begin()
                                             + static_cast<std::ptrdiff_t>(cut->samples.size())));
        EXPECT_NE(cut->warning.find(fmt::format("declares 16000 samples but the file holds {}",
                                                cut->samples.size())),
                  std::string::npos)
                << cut->warning;
    }
    EXPECT_TRUE(found) << "no frame boundary in the second half of the file";
}

TEST_F(AudioFileTest, MissingFileIsNotFound) {
    const std::string p = path("nope.wav");
    expect_error(read_audio_file(p), base::Errc::NotFound, p, "no such file");
}

TEST_F(AudioFileTest, DirectoryIsRejected) {
    expect_error(read_audio_file(dir_.string()), base::Errc::InvalidArgument, dir_.string(),
                 "directory");
}

TEST_F(AudioFileTest, GarbageIsCorrupt) {
    const std::string p = path("garbage.wav");
    std::ofstream(p, std::ios::binary) << std::string(4000, '\0').replace(0, 4, "junk");
    expect_error(read_audio_file(p), base::Errc::Corrupt, p, "cannot read as audio");
    const std::string text = path("notes.txt");
    std::ofstream(text) << "hello, this is not audio\n";
    expect_error(read_audio_file(text), base::Errc::Corrupt, text, "cannot read as audio");
}

TEST_F(AudioFileTest, TruncatedHeaderIsCorrupt) {
    const auto pcm = make_pcm16(800, 1, 8000.0);
    write_with_sndfile(path("full.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, pcm);
    const std::string p = path("cut.wav");
    fs::copy_file(path("full.wav"), p);
    fs::resize_file(p, 30);  // inside the header
    expect_error(read_audio_file(p), base::Errc::Corrupt, p, "cannot read as audio");
}

// libsndfile trusts the file length over the data chunk size (streamed WAVs legitimately carry
// a placeholder size), so a WAV cut inside its data yields the samples that are present.
TEST_F(AudioFileTest, TruncatedDataYieldsThePresentSamples) {
    const auto pcm = make_pcm16(800, 1, 8000.0);
    write_with_sndfile(path("full.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, pcm);
    const std::string p = path("cut.wav");
    fs::copy_file(path("full.wav"), p);
    fs::resize_file(p, 44 + 2 * 300);
    const auto x = read_audio_file(p);
    ASSERT_TRUE(x) << x.error().message;
    ASSERT_EQ(x->size(), 300u);
    const auto all = to_float(pcm);
    EXPECT_EQ(*x, std::vector<float>(all.begin(), all.begin() + 300));
    // read_audio says so: 1600 bytes declared, 600 there.
    const auto read = read_audio(p);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(read->samples, *x);
    EXPECT_NE(read->warning.find("declares 1600 bytes of audio data but the file holds 600"),
              std::string::npos)
            << read->warning;
    const auto whole = read_audio(path("full.wav"));
    ASSERT_TRUE(whole) << whole.error().message;
    EXPECT_EQ(whole->samples.size(), 800u);
    EXPECT_EQ(whole->warning, "");
}

// A streaming writer's placeholder data size (0xFFFFFFFF, the header never finished): the
// samples that are there, and the warning, which names that cause too.
TEST_F(AudioFileTest, APlaceholderDataSizeIsReadToTheEndWithAWarning) {
    const auto pcm = make_pcm16(800, 1, 8000.0);
    const std::string p = path("placeholder.wav");
    write_with_sndfile(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, pcm);
    {
        std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
        const std::array<char, 4> all_ones{'\xff', '\xff', '\xff', '\xff'};
        f.seekp(40);  // the data chunk's size, after "data" at 36
        f.write(all_ones.data(), all_ones.size());
    }
    const auto read = read_audio(p);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(read->samples, to_float(pcm));
    EXPECT_NE(read->warning.find("declares 4294967295 bytes"), std::string::npos) << read->warning;
    EXPECT_NE(read->warning.find("never finished the header"), std::string::npos);
}

TEST_F(AudioFileTest, ZeroFramesIsNoAudioSamples) {
    const std::string p = path("empty.wav");
    write_with_sndfile(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, {});
    expect_error(read_audio_file(p), base::Errc::Corrupt, p, "no audio samples");
}

TEST_F(AudioFileTest, BadTargetRateIsInvalid) {
    const std::string p = path("a.wav");
    ASSERT_TRUE(write_wav_pcm16(p, std::vector<float>(100, 0.1f), 8000));
    expect_error(read_audio_file(p, 0), base::Errc::InvalidArgument, p, "target rate");
}

TEST_F(AudioFileTest, WritePcm16RoundTripsAndClips) {
    std::vector<float> x = {0.0f, 0.5f,  -0.5f,           1.0f,      -1.0f,
                            2.0f, -3.0f, 1.0f / 32768.0f, 0.123456f, std::nanf("")};
    const std::string p = path("w.wav");
    const auto w = write_wav_pcm16(p, x, 8000);
    ASSERT_TRUE(w) << w.error().message;
    const auto r = read_audio_file(p);
    ASSERT_TRUE(r) << r.error().message;
    const std::vector<float> expected = {0.0f,
                                         0.5f,
                                         -0.5f,
                                         32767.0f / 32768.0f,
                                         -1.0f,
                                         32767.0f / 32768.0f,
                                         -1.0f,
                                         1.0f / 32768.0f,
                                         std::round(0.123456f * 32768.0f) / 32768.0f,
                                         0.0f};
    EXPECT_EQ(*r, expected);

    // Samples already on the int16 grid survive exactly.
    const auto grid = to_float(make_pcm16(5000, 1, 8000.0));
    ASSERT_TRUE(write_wav_pcm16(p, grid, 16000));
    const auto back = read_audio_file(p, 16000);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, grid);
}

TEST_F(AudioFileTest, WriteErrors) {
    EXPECT_FALSE(write_wav_pcm16(path("x.wav"), std::vector<float>(4), 0));
    const auto r = write_wav_pcm16(path("no/such/dir/x.wav"), std::vector<float>(4), 8000);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, base::make_error_code(base::Errc::Io));
    EXPECT_NE(r.error().message.find("no/such/dir/x.wav"), std::string::npos);
}

}  // namespace
}  // namespace dvd::audio

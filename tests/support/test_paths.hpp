#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace dvd::test {

/// tests/data/<relative>
inline std::string data_path(const std::string& relative) {
    return (std::filesystem::path(DVD_SOURCE_DIR) / "tests" / "data" / relative).string();
}

/// The random-weight fixture model (tools/golden/make_test_model.py).
inline std::string test_model_path() { return data_path("model/test_detector.json"); }

/// Reads a raw little-endian float32 file.
inline std::vector<float> read_f32(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    std::vector<float> values(static_cast<std::size_t>(in.tellg()) / sizeof(float));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(float)));
    return values;
}

/// A deterministic speech-like test signal at 8 kHz: 0.3 s of low noise, then voiced bursts
/// (harmonics of a gliding pitch, syllable-rate amplitude modulation) separated by pauses.
inline std::vector<float> speech_like_signal(double seconds, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.0f, 0.001f);
    const auto n = static_cast<std::size_t>(seconds * 8000.0);
    std::vector<float> x(n);
    double phase = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / 8000.0;
        const double f0 = 120.0 + 30.0 * std::sin(2.0 * 3.14159265358979 * 0.7 * t);
        phase += 2.0 * 3.14159265358979 * f0 / 8000.0;
        const double syllable = std::sin(2.0 * 3.14159265358979 * 2.0 * t);
        const bool pause = t < 0.3 || std::fmod(t, 3.0) > 2.4;
        double v = 0.0;
        for (int h = 1; h <= 12; ++h) {
            v += std::sin(h * phase) / h;
        }
        const double amp = pause ? 0.0 : 0.15 * (0.3 + 0.7 * syllable * syllable);
        x[i] = static_cast<float>(amp * v) + noise(rng);
    }
    return x;
}

}  // namespace dvd::test

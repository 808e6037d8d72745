#include "dsp/feature_options.hpp"

#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace dvd::dsp {
namespace {

void expect_invalid(const FeatureOptions& o, const char* field) {
    const auto r = validate(o);
    ASSERT_FALSE(r) << "expected rejection mentioning " << field;
    EXPECT_EQ(r.error().code, base::make_error_code(base::Errc::InvalidArgument));
    EXPECT_NE(r.error().message.find(field), std::string::npos) << r.error().message;
}

TEST(FeatureOptions, DefaultsAreValid) {
    EXPECT_TRUE(validate(FeatureOptions{}));
}

TEST(FeatureOptions, RejectsNonsense) {
    FeatureOptions o;
    o.sample_rate_hz = 0;
    expect_invalid(o, "sample_rate_hz");

    o = {};
    o.frame_length_samples = 257;
    expect_invalid(o, "frame_length_samples");
    o.frame_length_samples = 1;
    expect_invalid(o, "frame_length_samples");

    o = {};
    o.frame_shift_samples = 0;
    expect_invalid(o, "frame_shift_samples");
    o.frame_shift_samples = -80;
    expect_invalid(o, "frame_shift_samples");

    o = {};
    o.fft_size = 255;
    expect_invalid(o, "fft_size");
    o.fft_size = 2 * kMaxFftSize;
    expect_invalid(o, "fft_size");

    o = {};
    o.num_filters = 0;
    expect_invalid(o, "num_filters");
    o.num_filters = kMaxFilters + 1;
    expect_invalid(o, "num_filters");

    o = {};
    o.high_freq_hz = 4001.0f;
    expect_invalid(o, "high_freq_hz");
    o = {};
    o.low_freq_hz = -1.0f;
    expect_invalid(o, "low_freq_hz");
    o = {};
    o.low_freq_hz = 4000.0f;
    expect_invalid(o, "low_freq_hz");
    o = {};
    o.high_freq_hz = std::numeric_limits<float>::quiet_NaN();
    expect_invalid(o, "high_freq_hz");

    o = {};
    o.preemphasis = 1.0f;
    expect_invalid(o, "preemphasis");
    o.preemphasis = -0.1f;
    expect_invalid(o, "preemphasis");

    o = {};
    o.log_floor = 0.0f;
    expect_invalid(o, "log_floor");

    o = {};
    o.fine_bands = -1;
    expect_invalid(o, "fine_bands");
    o.fine_bands = kMaxFineBands + 1;
    expect_invalid(o, "fine_bands");
    o.fine_bands = 6;
    o.frame_shift_samples = 88;  // not a whole number of 16-sample sub-frames
    expect_invalid(o, "fine_bands");
    o.frame_shift_samples = 192;  // 12 sub-frames need 208 samples; the frame has 200
    expect_invalid(o, "fine_bands");
    o.fine_bands = 33;
    o.frame_shift_samples = 80;
    expect_invalid(o, "fine_bands");

    o = {};
    o.band_harmonicity = true;
    o.sample_rate_hz = 16000;  // the definition is in samples at 8 kHz
    o.high_freq_hz = 8000.0f;
    o.fft_size = 512;
    o.frame_length_samples = 400;
    expect_invalid(o, "band_harmonicity");
}

TEST(FeatureOptions, FineBandsAddSubframesTimesBandsValues) {
    FeatureOptions o;
    EXPECT_EQ(fine_subframes(o), 0);
    o.fine_bands = 6;
    EXPECT_TRUE(validate(o));
    EXPECT_EQ(fine_subframes(o), 5);  // 80-sample shift / 16
    EXPECT_EQ(feature_width(o), 60 + 5 * 6);
    o.excitation = true;
    EXPECT_EQ(feature_width(o), 60 + kExcitationFeatures + 5 * 6);
}

TEST(FeatureOptions, BandHarmonicityComesAfterExcitationAndReachesPastTheFrame) {
    FeatureOptions o;
    EXPECT_EQ(harmonicity_lookbehind(o), 0);
    EXPECT_EQ(harmonicity_lookahead(o), 0);
    o.band_harmonicity = true;
    o.fine_bands = 6;
    EXPECT_TRUE(validate(o));
    EXPECT_EQ(feature_width(o), 60 + kHarmonicityFeatures + 5 * 6);
    EXPECT_EQ(harmonicity_offset(o), 60);
    o.excitation = true;
    EXPECT_EQ(harmonicity_offset(o), 60 + kExcitationFeatures);
    EXPECT_EQ(fine_values_offset(o), 60 + kExcitationFeatures + kHarmonicityFeatures);
    EXPECT_EQ(feature_width(o), 60 + kExcitationFeatures + kHarmonicityFeatures + 5 * 6);
    // A 320-sample window centred on a 200-sample frame: 60 samples either side.
    EXPECT_EQ(harmonicity_lookbehind(o), 60);
    EXPECT_EQ(harmonicity_lookahead(o), 60);
    o.frame_length_samples = 255;  // odd: the centre is sample 127, the window 127-160 .. 127+159
    o.fine_bands = 0;
    EXPECT_EQ(harmonicity_lookbehind(o), 33);
    EXPECT_EQ(harmonicity_lookahead(o), 32);
    o.frame_length_samples = 400;  // the window lies inside the frame
    o.fft_size = 512;
    EXPECT_EQ(harmonicity_lookbehind(o), 0);
    EXPECT_EQ(harmonicity_lookahead(o), 0);
}

TEST(FeatureOptions, AcceptsEdgeValues) {
    FeatureOptions o;
    o.frame_length_samples = o.fft_size;
    o.num_filters = kMaxFilters;
    o.preemphasis = 0.0f;
    o.frame_shift_samples = 1000;  // gaps between frames are allowed
    EXPECT_TRUE(validate(o));
}

TEST(FeatureOptions, FormatsEveryField) {
    const std::string text = fmt::format("{}", FeatureOptions{});
    EXPECT_EQ(text,
              "sample_rate_hz=8000 frame_length_samples=200 frame_shift_samples=80 fft_size=256 "
              "num_filters=60 low_freq_hz=0 high_freq_hz=4000 preemphasis=0.97 log_floor=1e-10 "
              "excitation=false fine_bands=0 band_harmonicity=false");
}

}  // namespace
}  // namespace dvd::dsp

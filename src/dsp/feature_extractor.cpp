#include "dsp/feature_extractor.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <utility>

#include <fmt/format.h>

#include "base/check.hpp"
#include "dsp/band_harmonicity.hpp"

namespace dvd::dsp {

// ---------------------------------------------------------------------------------------------
// FeatureTables

namespace {

// Triangular filters with linearly spaced edges, in double; only the nonzero support of each
// filter is stored (a triangle's support is contiguous).
base::Result<FeatureTables::Filterbank> build_filterbank(int num_filters, int fft_size,
                                                         int sample_rate_hz, double low,
                                                         double high) {
    FeatureTables::Filterbank bank;
    const int num_bins = fft_size / 2 + 1;
    std::vector<double> edges(static_cast<std::size_t>(num_filters) + 2);
    for (std::size_t j = 0; j < edges.size(); ++j) {
        edges[j] = low + static_cast<double>(j) * (high - low) / (num_filters + 1);
    }
    bank.first_bin.resize(static_cast<std::size_t>(num_filters));
    bank.offset.assign(1, 0);
    for (int m = 0; m < num_filters; ++m) {
        const auto mu = static_cast<std::size_t>(m);
        const double e0 = edges[mu];
        const double e1 = edges[mu + 1];
        const double e2 = edges[mu + 2];
        int first = -1;
        std::vector<float> support;
        for (int k = 0; k < num_bins; ++k) {
            const double f_hz = static_cast<double>(k) * sample_rate_hz / fft_size;
            const double w =
                    std::max(0.0, std::min((f_hz - e0) / (e1 - e0), (e2 - f_hz) / (e2 - e1)));
            if (w > 0.0) {
                if (first < 0) {
                    first = k;
                }
                support.resize(static_cast<std::size_t>(k - first) + 1, 0.0f);
                support.back() = static_cast<float>(w);
            }
        }
        if (first < 0) {
            return base::fail(base::Errc::InvalidArgument,
                              fmt::format("FeatureOptions: filter {} ({:.1f}-{:.1f} Hz) covers no "
                                          "FFT bin of {} points; use fewer filters or a larger "
                                          "fft_size",
                                          m, e0, e2, fft_size));
        }
        bank.first_bin[mu] = first;
        bank.weights.insert(bank.weights.end(), support.begin(), support.end());
        bank.offset.push_back(static_cast<int>(bank.weights.size()));
    }
    return bank;
}

}  // namespace

base::Result<std::shared_ptr<const FeatureTables>> FeatureTables::create(
        const FeatureOptions& options) {
    if (auto valid = validate(options); !valid) {
        return valid.error();
    }
    std::shared_ptr<FeatureTables> tables(new FeatureTables());
    tables->options_ = options;

    // Symmetric Hamming window, computed in double and rounded once.
    const int len = options.frame_length_samples;
    tables->window_.resize(static_cast<std::size_t>(len));
    for (int n = 0; n < len; ++n) {
        const double phase = 2.0 * std::numbers::pi * n / (len - 1);
        tables->window_[static_cast<std::size_t>(n)] =
                static_cast<float>(0.54 - 0.46 * std::cos(phase));
    }

    auto filters = build_filterbank(options.num_filters, options.fft_size, options.sample_rate_hz,
                                    options.low_freq_hz, options.high_freq_hz);
    if (!filters) {
        return filters.error();
    }
    tables->filters_ = std::move(*filters);

    if (options.fine_bands > 0) {
        tables->fine_window_.resize(static_cast<std::size_t>(kFineWindowSamples));
        for (int n = 0; n < kFineWindowSamples; ++n) {
            const double phase = 2.0 * std::numbers::pi * n / kFineWindowSamples;
            tables->fine_window_[static_cast<std::size_t>(n)] =
                    static_cast<float>(0.5 - 0.5 * std::cos(phase));
        }
        auto fine = build_filterbank(options.fine_bands, kFineFftSize, options.sample_rate_hz,
                                     0.0, options.sample_rate_hz / 2.0);
        if (!fine) {
            return fine.error();
        }
        tables->fine_filters_ = std::move(*fine);
        tables->fine_offset_ = (len - options.frame_shift_samples - kFineHopSamples) / 2;
    }
    return std::shared_ptr<const FeatureTables>(std::move(tables));
}

FeatureTables::Filter FeatureTables::Filterbank::filter(int m) const {
    DVD_CHECK(m >= 0 && static_cast<std::size_t>(m) < first_bin.size(),
              "FeatureTables::filter: index out of range");
    const auto mu = static_cast<std::size_t>(m);
    const auto begin = static_cast<std::size_t>(offset[mu]);
    const auto end = static_cast<std::size_t>(offset[mu + 1]);
    return Filter{first_bin[mu], std::span<const float>(weights).subspan(begin, end - begin)};
}

FeatureTables::Filter FeatureTables::filter(int m) const { return filters_.filter(m); }

FeatureTables::Filter FeatureTables::fine_filter(int b) const { return fine_filters_.filter(b); }

float FeatureTables::weight(int m, int bin) const {
    const Filter f = filter(m);
    const int i = bin - f.first_bin;
    if (i < 0 || static_cast<std::size_t>(i) >= f.weights.size()) {
        return 0.0f;
    }
    return f.weights[static_cast<std::size_t>(i)];
}

// ---------------------------------------------------------------------------------------------
// FeatureExtractor

namespace {

std::shared_ptr<const FeatureTables> non_null(std::shared_ptr<const FeatureTables> tables) {
    DVD_CHECK(tables != nullptr, "FeatureExtractor needs tables");
    return tables;
}

// ln(max(sum_k w[k] P[first + k], floor)) for one triangular filter.
float log_band(const FeatureTables::Filter& f, const float* power, float floor) noexcept {
    const float* pk = power + f.first_bin;
    float sum = 0.0f;
    for (std::size_t i = 0; i < f.weights.size(); ++i) {
        sum += f.weights[i] * pk[i];
    }
    return std::log(std::max(sum, floor));
}

}  // namespace

FeatureExtractor::FeatureExtractor(std::shared_ptr<const FeatureTables> tables)
    : tables_(non_null(std::move(tables))), spectrum_(tables_->options().fft_size) {
    const FeatureOptions& o = tables_->options();
    if (o.fine_bands > 0) {
        fine_spectrum_.emplace(kFineFftSize);
    }
    if (o.band_harmonicity) {
        prepare_band_harmonicity_thread();
    }
    lead_ = static_cast<std::size_t>(std::max(1, harmonicity_lookbehind(o)));
    history_.assign(lead_ + static_cast<std::size_t>(o.frame_length_samples)
                            + static_cast<std::size_t>(harmonicity_lookahead(o)),
                    0.0f);
    features_.assign(static_cast<std::size_t>(feature_width(o)), 0.0f);
    if (o.excitation) {
        residual_.assign(static_cast<std::size_t>(o.frame_length_samples - kExcitationLpcOrder),
                         0.0);
        unwindowed_.assign(static_cast<std::size_t>(o.frame_length_samples), 0.0f);
    }
    reset();
}

FeatureExtractor::~FeatureExtractor() = default;
FeatureExtractor::FeatureExtractor(FeatureExtractor&&) noexcept = default;
FeatureExtractor& FeatureExtractor::operator=(FeatureExtractor&&) noexcept = default;

void FeatureExtractor::reset() {
    std::fill_n(history_.begin(), lead_, 0.0f);  // the samples before the stream are 0
    fill_ = lead_;
    skip_ = 0;
    frames_emitted_ = 0;
    samples_seen_ = 0;
    finished_ = false;
}

std::size_t FeatureExtractor::fill(std::span<const float> samples) noexcept {
    std::size_t used = 0;
    if (skip_ > 0) {  // only when the shift exceeds the history: samples between frames
        used = std::min(skip_, samples.size());
        skip_ -= used;
        if (skip_ > 0) {
            return used;
        }
    }
    const std::size_t n = std::min(history_.size() - fill_, samples.size() - used);
    std::copy_n(samples.begin() + static_cast<std::ptrdiff_t>(used), n,
                history_.begin() + static_cast<std::ptrdiff_t>(fill_));
    fill_ += n;
    return used + n;
}

void FeatureExtractor::compute_energy() noexcept {
    const float* x = history_.data() + lead_;  // the frame's first sample
    const auto len = static_cast<std::size_t>(tables_->options().frame_length_samples);
    double sum_sq = 0.0;
    for (std::size_t n = 0; n < len; ++n) {
        sum_sq += static_cast<double>(x[n]) * static_cast<double>(x[n]);
    }
    // 10 log10(mean(x^2) + 1e-10): a full-scale sine gives -3.01 dBFS, silence -100 dBFS.
    energy_db_ = static_cast<float>(10.0 * std::log10(sum_sq / static_cast<double>(len) + 1e-10));
}

void FeatureExtractor::compute_features() noexcept {
    const FeatureOptions& o = tables_->options();
    const std::span<const float> window = tables_->window();
    const float p = o.preemphasis;
    const float* x = history_.data() + lead_ - 1;  // x[0] is the sample before the frame
    float* frame = spectrum_.frame().data();  // the tail beyond len stays zero
    const std::size_t len = window.size();

    for (std::size_t n = 0; n < len; ++n) {
        frame[n] = (x[n + 1] - p * x[n]) * window[n];
    }
    if (o.excitation) {
        for (std::size_t n = 0; n < len; ++n) {
            unwindowed_[n] = x[n + 1] - p * x[n];
        }
        compute_excitation(unwindowed_.data(), frame);
    }

    const float* power = spectrum_.compute().data();

    const float floor = o.log_floor;
    for (int m = 0; m < o.num_filters; ++m) {
        features_[static_cast<std::size_t>(m)] = log_band(tables_->filter(m), power, floor);
    }
    if (o.band_harmonicity) {
        compute_harmonicity();
    }
    if (o.fine_bands > 0) {
        compute_fine();
    }
}

void FeatureExtractor::compute_harmonicity() noexcept {
    const FeatureOptions& o = tables_->options();
    // The window is centred on the frame: it starts len / 2 - L / 2 samples after the frame's
    // first sample (before it when negative), which history_[lead_] holds.
    const std::ptrdiff_t start = static_cast<std::ptrdiff_t>(lead_) + o.frame_length_samples / 2
                                 - kHarmonicityWindowSamples / 2;
    band_harmonicity(
            std::span<const float>(history_).subspan(static_cast<std::size_t>(start),
                                                     kHarmonicityWindowSamples),
            std::span<float>(features_).subspan(static_cast<std::size_t>(harmonicity_offset(o)),
                                                kHarmonicityFeatures));
}

void FeatureExtractor::pad_with_zeros() noexcept {
    DVD_CHECK(skip_ == 0, "FeatureExtractor::finish: a pending frame lies past skipped samples");
    std::fill(history_.begin() + static_cast<std::ptrdiff_t>(fill_), history_.end(), 0.0f);
    fill_ = history_.size();
}

void FeatureExtractor::compute_fine() noexcept {
    const FeatureOptions& o = tables_->options();
    const std::span<const float> window = tables_->fine_window();
    const int subframes = fine_subframes(o);
    float* out = features_.data() + fine_values_offset(o);
    float* frame = fine_spectrum_->frame().data();  // the tail beyond the window stays zero
    for (int j = 0; j < subframes; ++j) {
        // history_[lead_] is the frame's first sample.
        const float* x = history_.data() + lead_ + tables_->fine_offset() + j * kFineHopSamples;
        for (std::size_t n = 0; n < window.size(); ++n) {
            frame[n] = x[n] * window[n];
        }
        const float* power = fine_spectrum_->compute().data();
        for (int b = 0; b < o.fine_bands; ++b) {
            *out++ = log_band(tables_->fine_filter(b), power, o.log_floor);
        }
    }
}

void FeatureExtractor::compute_excitation(const float* y, const float* s) noexcept {
    constexpr auto q = static_cast<std::size_t>(kExcitationLpcOrder);
    const auto len = static_cast<std::size_t>(tables_->options().frame_length_samples);
    std::array<double, q + 1> r{};
    for (std::size_t k = 0; k <= q; ++k) {
        double acc = 0.0;
        for (std::size_t n = 0; n + k < len; ++n) {
            acc += static_cast<double>(s[n]) * static_cast<double>(s[n + k]);
        }
        r[k] = acc;
    }
    r[0] = r[0] * (1.0 + 1e-4) + 1e-12;
    // Levinson-Durbin (a[0] = 1). The white-noise correction above keeps the prediction error
    // positive; the guard below only catches rounding on degenerate frames.
    std::array<double, q + 1> a{};
    std::array<double, q + 1> prev{};
    a[0] = 1.0;
    double err = r[0];
    for (std::size_t i = 1; i <= q; ++i) {
        double acc = r[i];
        for (std::size_t j = 1; j < i; ++j) {
            acc += a[j] * r[i - j];
        }
        const double k = -acc / err;
        prev = a;
        for (std::size_t j = 1; j < i; ++j) {
            a[j] = prev[j] + k * prev[i - j];
        }
        a[i] = k;
        err *= 1.0 - k * k;
        if (!(err > 0.0)) {
            err = 1e-30;
        }
    }
    double mean = 0.0;
    for (std::size_t n = q; n < len; ++n) {
        double acc = 0.0;
        for (std::size_t j = 0; j <= q; ++j) {
            acc += a[j] * static_cast<double>(y[n - j]);
        }
        residual_[n - q] = acc;
        mean += acc;
    }
    const auto count = static_cast<double>(residual_.size());
    mean /= count;
    double m2 = 0.0, m3 = 0.0, m4 = 0.0, peak = 0.0;
    for (const double e : residual_) {
        const double d = e - mean;
        const double d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
        peak = std::max(peak, d2);
    }
    m2 /= count;
    m3 /= count;
    m4 /= count;
    const double kurtosis = std::log((m4 + 1e-30) / (m2 * m2 + 1e-30));
    const double skewness = std::clamp(m3 / (std::pow(m2, 1.5) + 1e-30), -10.0, 10.0);
    const double crest = std::log((peak + 1e-30) / (m2 + 1e-30));
    float* out = features_.data() + tables_->num_filters();
    out[0] = static_cast<float>(kurtosis);
    out[1] = static_cast<float>(skewness);
    out[2] = static_cast<float>(crest);
}

void FeatureExtractor::advance() noexcept {
    ++frames_emitted_;
    const auto shift = static_cast<std::size_t>(tables_->options().frame_shift_samples);
    const std::size_t size = history_.size();
    if (shift < size) {
        // history_[j] holds x[start - lead + j]; the next frame needs x[start + shift - lead]
        // onwards.
        std::copy(history_.begin() + static_cast<std::ptrdiff_t>(shift), history_.end(),
                  history_.begin());
        fill_ = size - shift;
    } else {
        skip_ = shift - size;
        fill_ = 0;
    }
}

std::size_t FeatureExtractor::state_bytes() const {
    return sizeof(*this) + spectrum_.state_bytes()
           + (fine_spectrum_ ? fine_spectrum_->state_bytes() : 0)
           + sizeof(float) * (history_.capacity() + features_.capacity() + unwindowed_.capacity())
           + sizeof(double) * residual_.capacity();
}

std::vector<float> compute_features(const FeatureTables& tables, std::span<const float> samples,
                                    std::vector<float>* energies_db) {
    // Non-owning handle: `tables` outlives this call.
    FeatureExtractor extractor(
            std::shared_ptr<const FeatureTables>(std::shared_ptr<const FeatureTables>(), &tables));
    const long long frames = num_frames(tables.options(), static_cast<long long>(samples.size()));
    std::vector<float> out;
    out.reserve(static_cast<std::size_t>(frames) * static_cast<std::size_t>(tables.num_features()));
    if (energies_db != nullptr) {
        energies_db->clear();
        energies_db->reserve(static_cast<std::size_t>(frames));
    }
    const auto sink = [&](std::span<const float> features, float energy_db) {
        out.insert(out.end(), features.begin(), features.end());
        if (energies_db != nullptr) {
            energies_db->push_back(energy_db);
        }
    };
    extractor.accept(samples, sink);
    extractor.finish(sink);
    return out;
}

long long num_frames(const FeatureOptions& options, long long num_samples) {
    if (num_samples < options.frame_length_samples || options.frame_shift_samples <= 0) {
        return 0;
    }
    return (num_samples - options.frame_length_samples) / options.frame_shift_samples + 1;
}

}  // namespace dvd::dsp

#include "indicators/indicator_tracker.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "base/check.hpp"
#include "indicators/accumulator.hpp"

namespace dvd::indicators {
namespace {

// History kept before the next frame's centre: covers YIN (241), HNR (240) and the pulse
// tracker's templates and amplitude spans (at most 280 before the centre).
constexpr long long kBackHistory = 320;
constexpr std::size_t kHistoryCapacity = 768;
static_assert(kHistoryCapacity > kBackHistory + kLookaheadSamples + kHopSamples,
              "the history must hold the kept samples plus one frame");

const IndicatorOptions& checked(const IndicatorOptions& options) {
    DVD_CHECK(validate(options).has_value(),
              "IndicatorTracker: invalid IndicatorOptions (call validate first)");
    return options;
}

int tau_min(const IndicatorOptions& o) {
    return static_cast<int>(std::floor(kSampleRateHz / static_cast<double>(o.max_f0_hz)));
}

int tau_max(const IndicatorOptions& o) {
    return static_cast<int>(std::ceil(kSampleRateHz / static_cast<double>(o.min_f0_hz)));
}

dsp::VadOptions activity_options(const IndicatorOptions& o) {
    dsp::VadOptions v;
    v.absolute_floor_db = o.activity_floor_db;
    v.margin_db = o.activity_margin_db;
    v.noise_rise_db_per_frame = o.noise_rise_db_per_frame;
    v.initial_noise_db = 0.0f;
    v.hangover_frames = 0;  // a per-frame decision: runs and gaps are measured exactly
    v.min_speech_frames = 1;
    return v;
}

PeriodTrackerOptions period_options(const IndicatorOptions& o) {
    PeriodTrackerOptions p;
    p.min_period_samples = kSampleRateHz / static_cast<double>(o.max_f0_hz);
    p.max_period_samples = kSampleRateHz / static_cast<double>(o.min_f0_hz);
    p.max_period_factor = static_cast<double>(o.max_period_factor);
    p.max_amplitude_factor = static_cast<double>(o.max_amplitude_factor);
    p.min_correlation = static_cast<double>(o.min_period_correlation);
    return p;
}

int frames_of(float seconds) {
    return static_cast<int>(
            std::lround(static_cast<double>(seconds) * kSampleRateHz / kHopSamples));
}

SegmentTrackerOptions segment_options(const IndicatorOptions& o) {
    SegmentTrackerOptions s;
    s.min_voiced_frames = o.min_voiced_frames;
    s.min_pause_frames = frames_of(o.min_pause_s);
    s.breath_min_frames = frames_of(o.breath_min_s);
    s.breath_max_frames = frames_of(o.breath_max_s);
    s.breath_min_flatness = o.breath_min_flatness;
    s.breath_below_speech_db = o.breath_below_speech_db;
    s.nucleus_dip_db = o.nucleus_dip_db;
    return s;
}

// Saved call state: magic, layout version, payload size, then the Accumulator's bytes. The
// version changes whenever the Accumulator's fields do, so an older blob is refused, not misread.
constexpr std::array<char, 4> kStateMagic{'D', 'V', 'I', 'S'};
constexpr std::uint32_t kStateVersion = 1;
constexpr std::size_t kStateHeader = kStateMagic.size() + 2 * sizeof(std::uint32_t);
static_assert(std::is_trivially_copyable_v<detail::Accumulator>,
              "the saved call state is the Accumulator's bytes");

}  // namespace

IndicatorTracker::IndicatorTracker(const IndicatorOptions& options)
    : options_(checked(options)),
      activity_(activity_options(options)),
      yin_(options.yin_window_samples, tau_min(options), tau_max(options), options.yin_threshold),
      hnr_(),
      spectrum_(),
      periods_(period_options(options)),
      segments_(segment_options(options)),
      call_(std::make_unique<detail::Accumulator>()),
      window_(std::make_unique<detail::Accumulator>()) {
    const double bin_hz = static_cast<double>(kSampleRateHz) / kFftSize;
    lo_bin_ = static_cast<int>(std::ceil(static_cast<double>(options_.band_low_hz) / bin_hz));
    hi_bin_ = std::min(
            kFftSize / 2,
            static_cast<int>(std::floor(static_cast<double>(options_.band_high_hz) / bin_hz)));
    min_period_samples_ = kSampleRateHz / static_cast<double>(options_.max_f0_hz);
    max_period_samples_ = kSampleRateHz / static_cast<double>(options_.min_f0_hz);
    history_.assign(kHistoryCapacity, 0.0f);
    reset();
}

IndicatorTracker::~IndicatorTracker() = default;
IndicatorTracker::IndicatorTracker(IndicatorTracker&&) noexcept = default;
IndicatorTracker& IndicatorTracker::operator=(IndicatorTracker&&) noexcept = default;

void IndicatorTracker::reset() noexcept {
    // Samples before the stream start read as zeros.
    std::fill(history_.begin(), history_.begin() + kBackHistory, 0.0f);
    fill_ = static_cast<std::size_t>(kBackHistory);
    history_first_ = -kBackHistory;
    next_frame_ = 0;
    activity_.reset();
    periods_.reset();
    segments_.reset();
    call_->reset();
    window_->reset();
}

std::size_t IndicatorTracker::state_bytes() const {
    return sizeof(*this) + history_.capacity() * sizeof(float) + yin_.state_bytes()
           + hnr_.state_bytes() + spectrum_.state_bytes() + 2 * sizeof(detail::Accumulator);
}

std::string IndicatorTracker::save_call_state() const {
    const std::uint32_t version = kStateVersion;
    const auto size = static_cast<std::uint32_t>(sizeof(detail::Accumulator));
    std::string out(kStateHeader + sizeof(detail::Accumulator), '\0');
    char* p = out.data();
    std::memcpy(p, kStateMagic.data(), kStateMagic.size());
    std::memcpy(p + kStateMagic.size(), &version, sizeof(version));
    std::memcpy(p + kStateMagic.size() + sizeof(version), &size, sizeof(size));
    std::memcpy(p + kStateHeader, call_.get(), sizeof(detail::Accumulator));
    return out;
}

bool IndicatorTracker::restore_call_state(std::string_view saved) noexcept {
    if (saved.size() != kStateHeader + sizeof(detail::Accumulator)
        || std::memcmp(saved.data(), kStateMagic.data(), kStateMagic.size()) != 0) {
        return false;
    }
    std::uint32_t version = 0;
    std::uint32_t size = 0;
    std::memcpy(&version, saved.data() + kStateMagic.size(), sizeof(version));
    std::memcpy(&size, saved.data() + kStateMagic.size() + sizeof(version), sizeof(size));
    if (version != kStateVersion || size != sizeof(detail::Accumulator)) {
        return false;
    }
    std::memcpy(call_.get(), saved.data() + kStateHeader, sizeof(detail::Accumulator));
    return true;
}

Indicators IndicatorTracker::snapshot() const {
    return call_->finish(lo_bin_, hi_bin_);
}

Indicators IndicatorTracker::window_snapshot() {
    Indicators out = window_->finish(lo_bin_, hi_bin_);
    window_->reset();
    return out;
}

void IndicatorTracker::accept_impl(std::span<const float> samples, FrameFn fn, void* ctx) noexcept {
    while (!samples.empty()) {
        if (fill_ == history_.size()) {
            compact();
        }
        const std::size_t n = std::min(history_.size() - fill_, samples.size());
        std::copy_n(samples.begin(), n, history_.begin() + static_cast<std::ptrdiff_t>(fill_));
        fill_ += n;
        samples = samples.subspan(n);
        const long long end = history_first_ + static_cast<long long>(fill_);
        while (next_frame_ * kHopSamples + kHopSamples / 2 + kLookaheadSamples <= end) {
            const FrameIndicators frame = analyse_frame();
            if (fn != nullptr) {
                fn(ctx, frame);
            }
        }
    }
}

void IndicatorTracker::compact() noexcept {
    const long long centre = next_frame_ * kHopSamples + kHopSamples / 2;
    const long long keep_from = centre - kBackHistory;
    const long long drop = keep_from - history_first_;
    DVD_CHECK(drop > 0 && drop <= static_cast<long long>(fill_),
              "IndicatorTracker: history cannot be compacted");
    const auto d = static_cast<std::size_t>(drop);
    std::copy(history_.begin() + static_cast<std::ptrdiff_t>(d),
              history_.begin() + static_cast<std::ptrdiff_t>(fill_), history_.begin());
    fill_ -= d;
    history_first_ = keep_from;
}

FrameIndicators IndicatorTracker::analyse_frame() noexcept {
    const long long index = next_frame_++;
    const long long begin = index * kHopSamples;
    const long long centre = begin + kHopSamples / 2;
    const SignalView view{std::span<const float>(history_.data(), fill_), history_first_};
    const auto slice = [&](long long from, int count) {
        DVD_ASSERT(from >= view.first_index && from + count <= view.end_index(),
                   "IndicatorTracker: analysis window outside the history");
        return view.samples.subspan(static_cast<std::size_t>(from - view.first_index),
                                    static_cast<std::size_t>(count));
    };

    FrameIndicators f;
    f.index = index;
    double sum_sq = 0.0;
    for (float v : slice(begin, kHopSamples)) {
        sum_sq += static_cast<double>(v) * static_cast<double>(v);
    }
    f.energy_db = static_cast<float>(10.0 * std::log10(sum_sq / kHopSamples + 1e-10));
    f.active = activity_.accept(f.energy_db);

    // Pitch only where it can count: in an active frame above the voicing floor. Elsewhere no
    // figure reads it (the frame is neither voiced nor a pulse candidate), and YIN is the
    // tracker's largest cost, so a pause costs little.
    PitchEstimate pitch;
    if (f.active && f.energy_db > options_.voicing_floor_db) {
        const int yin_span = yin_.span_samples();
        pitch = yin_.estimate(slice(centre - yin_span / 2, yin_span));
    }
    f.aperiodicity = pitch.aperiodicity;
    const double period = static_cast<double>(pitch.period_samples);
    // Periodic-looking, loud enough and inside the pitch range (1 % slack for interpolation).
    const bool candidate = f.active && f.energy_db > options_.voicing_floor_db
                           && period >= min_period_samples_ * 0.99
                           && period <= max_period_samples_ * 1.01;
    f.voiced = candidate && pitch.periodic;
    if (f.voiced) {
        f.f0_hz = static_cast<float>(kSampleRateHz / period);
        const HarmonicityEstimate h = hnr_.estimate(
                slice(centre - kHnrWindowSamples / 2, kHnrWindowSamples), pitch.period_samples);
        if (h.valid) {
            f.hnr_db = h.hnr_db;
        }
    }

    std::span<const float> power;
    if (f.active) {
        power = spectrum_.power(slice(centre - kFftSize / 2, kFftSize));
        f.flatness = static_cast<float>(spectral_flatness(power, lo_bin_, hi_bin_));
    }

    const bool pulses = candidate && pitch.aperiodicity < options_.pulse_threshold;
    const std::span<const PeriodEvent> events =
            periods_.advance(view, begin, kHopSamples, pulses, period);

    SegmentFrame sf;
    sf.energy_db = f.energy_db;
    sf.active = f.active;
    sf.voiced = f.voiced;
    sf.flatness = f.flatness.value_or(0.0f);
    const SegmentEvents seg = segments_.accept(sf);

    for (detail::Accumulator* acc : {call_.get(), window_.get()}) {
        acc->add_frame(f.energy_db, f.active, f.voiced, static_cast<double>(f.f0_hz));
        if (f.hnr_db) {
            acc->add_hnr(static_cast<double>(*f.hnr_db));
        }
        for (const PeriodEvent& e : events) {
            acc->add_period(e);
        }
        if (f.active) {
            acc->add_spectrum(power);
        }
        acc->add_segments(seg);
    }
    return f;
}

}  // namespace dvd::indicators

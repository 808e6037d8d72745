#include "indicators/period_tracker.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "base/check.hpp"
#include "indicators/sinc_interpolation.hpp"

namespace dvd::indicators {
namespace {

constexpr std::size_t kMaxLags = 512;

}  // namespace

void PeriodTracker::reset() noexcept {
    in_chain_ = false;
    mark_ = 0.0;
    has_prev_period_ = false;
    prev_period_ = 0.0;
    prev_amplitude_ = 0.0;
}

std::span<const PeriodEvent> PeriodTracker::advance(const SignalView& signal, long long block_begin,
                                                    int block_samples, bool voiced,
                                                    double period) noexcept {
    std::size_t count = 0;
    if (!voiced || !(period >= 2.0)) {
        in_chain_ = false;
        has_prev_period_ = false;
        return {};
    }
    const long long block_end = block_begin + block_samples;
    if (!in_chain_) {
        const long long span = static_cast<long long>(std::ceil(period));
        long long best = block_begin;
        float best_abs = -1.0f;
        for (long long i = block_begin; i < block_begin + span; ++i) {
            const float a = std::fabs(signal.at(i));
            if (a > best_abs) {
                best_abs = a;
                best = i;
            }
        }
        mark_ = static_cast<double>(best);
        in_chain_ = true;
        has_prev_period_ = false;
    }
    const double lo = std::floor(0.8 * period);
    while (count < kMaxEventsPerFrame && mark_ + lo <= static_cast<double>(block_end)) {
        double lag = 0.0;
        if (!next_lag(signal, std::llround(mark_), period, &lag)) {
            in_chain_ = false;
            has_prev_period_ = false;
            break;
        }
        const double next = mark_ + lag;
        if (lag >= options_.min_period_samples && lag <= options_.max_period_samples) {
            PeriodEvent& e = events_[count++];
            e = PeriodEvent{};
            e.period_samples = lag;
            e.amplitude = peak_to_peak(signal, mark_ - 0.25 * lag, next - 0.25 * lag);
            if (has_prev_period_) {
                const double pr = std::max(lag, prev_period_) / std::min(lag, prev_period_);
                if (pr <= options_.max_period_factor) {
                    e.has_period_pair = true;
                    e.period_abs_diff_samples = std::fabs(lag - prev_period_);
                }
                const double a0 = prev_amplitude_;
                const double a1 = e.amplitude;
                if (a0 > 0.0 && a1 > 0.0
                    && std::max(a0, a1) / std::min(a0, a1) <= options_.max_amplitude_factor) {
                    e.has_amplitude_pair = true;
                    e.amplitude_abs_diff = std::fabs(a1 - a0);
                    e.amplitude_abs_db = std::fabs(20.0 * std::log10(a1 / a0));
                }
            }
            has_prev_period_ = true;
            prev_period_ = lag;
            prev_amplitude_ = e.amplitude;
        } else {
            has_prev_period_ = false;
        }
        mark_ = next;
    }
    return std::span<const PeriodEvent>(events_.data(), count);
}

bool PeriodTracker::next_lag(const SignalView& signal, long long mark, double period,
                             double* lag) const noexcept {
    const long long h = std::llround(0.5 * period);
    const long long lo = std::max(2LL, static_cast<long long>(std::floor(0.8 * period)));
    const long long hi = static_cast<long long>(std::ceil(1.25 * period));
    DVD_ASSERT(hi + 2 <= static_cast<long long>(kMaxLags), "PeriodTracker: period too long");
    DVD_ASSERT(mark - h >= signal.first_index && mark + hi + 1 + h < signal.end_index(),
               "PeriodTracker: signal view too short");
    const float* x = signal.samples.data() + (mark - signal.first_index);
    const auto len = static_cast<std::size_t>(2 * h + 1);
    const float* s0 = x - h;
    double e0 = 0.0;
    for (std::size_t j = 0; j < len; ++j) {
        e0 += static_cast<double>(s0[j]) * static_cast<double>(s0[j]);
    }
    std::array<double, kMaxLags> r{};
    for (long long tau = lo - 1; tau <= hi + 1; ++tau) {
        const float* s1 = x + tau - h;
        double c = 0.0;
        double e1 = 0.0;
        for (std::size_t j = 0; j < len; ++j) {
            c += static_cast<double>(s0[j]) * static_cast<double>(s1[j]);
            e1 += static_cast<double>(s1[j]) * static_cast<double>(s1[j]);
        }
        const double norm = std::sqrt(e0 * e1);
        r[static_cast<std::size_t>(tau)] = norm > 0.0 ? c / norm : 0.0;
    }
    long long best = lo;
    for (long long tau = lo + 1; tau <= hi; ++tau) {
        if (r[static_cast<std::size_t>(tau)] > r[static_cast<std::size_t>(best)]) {
            best = tau;
        }
    }
    const auto b = static_cast<std::size_t>(best);
    if (r[b] < options_.min_correlation) {
        return false;
    }
    const double ym = r[b - 1];
    const double y0 = r[b];
    const double yp = r[b + 1];
    const double denom = ym - 2.0 * y0 + yp;
    double shift = 0.0;
    if (denom < 0.0) {
        shift = std::clamp(0.5 * (ym - yp) / denom, -0.5, 0.5);
    }
    *lag = static_cast<double>(best) + shift;
    return true;
}

double PeriodTracker::peak_to_peak(const SignalView& signal, double from, double to) noexcept {
    const auto first = static_cast<long long>(std::ceil(from));
    const auto last = static_cast<long long>(std::floor(to));
    DVD_ASSERT(first - 1 >= signal.first_index && last + 1 < signal.end_index(),
               "PeriodTracker: amplitude span outside the view");
    long long imax = first;
    long long imin = first;
    for (long long i = first + 1; i <= last; ++i) {
        const float v = signal.at(i);
        if (v > signal.at(imax)) {
            imax = i;
        }
        if (v < signal.at(imin)) {
            imin = i;
        }
    }
    const auto at = [&](long long i) {
        return static_cast<std::size_t>(i - signal.first_index);
    };
    const Extreme hi = refine_extreme(signal.samples, at(imax), true);
    const Extreme lo = refine_extreme(signal.samples, at(imin), false);
    return hi.value - lo.value;
}

}  // namespace dvd::indicators

#include "service/metrics.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/check.hpp"

namespace dvd::service {
namespace {

constexpr std::array<double, 9> kCommandBounds{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0};
// Up to 1 s: with a scoring pool the time includes the queue wait, which a burst of calls whose
// windows fall due together (a load test starting them at once) stretches to tens of ms.
constexpr std::array<double, 13> kWindowBounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                               0.025,  0.05,    0.1,    0.25,  0.5,   1.0};
constexpr std::array<double, 10> kScoreBounds{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};

void counter(std::string& out, std::string_view name, std::string_view help, std::uint64_t v) {
    fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name,
                   help, v);
}

void labelled_header(std::string& out, std::string_view name, std::string_view type,
                     std::string_view help) {
    fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n", name, help, type);
}

void histogram(std::string& out, std::string_view name, std::string_view help,
               const Histogram& h) {
    labelled_header(out, name, "histogram", help);
    std::uint64_t cumulative = 0;
    const auto bounds = h.upper_bounds();
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        cumulative += h.bucket(i);
        fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"{}\"}} {}\n", name, bounds[i],
                       cumulative);
    }
    cumulative += h.bucket(bounds.size());
    fmt::format_to(std::back_inserter(out), "{0}_bucket{{le=\"+Inf\"}} {1}\n{0}_sum {2}\n{0}_count {3}\n",
                   name, cumulative, h.sum(), h.total());
}

}  // namespace

Histogram::Histogram(std::span<const double> upper_bounds) : count_(upper_bounds.size()) {
    DVD_CHECK(count_ <= kMaxBuckets, "too many histogram buckets");
    DVD_CHECK(std::is_sorted(upper_bounds.begin(), upper_bounds.end()),
              "histogram bounds must ascend");
    std::copy(upper_bounds.begin(), upper_bounds.end(), bounds_.begin());
}

void Histogram::observe(double value) noexcept {
    if (!std::isfinite(value)) {
        return;
    }
    const auto end = bounds_.begin() + static_cast<std::ptrdiff_t>(count_);
    const auto index = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), end, value) -
                                                bounds_.begin());
    buckets_[index].fetch_add(1, std::memory_order_relaxed);
    total_.fetch_add(1, std::memory_order_relaxed);
    const double micro = std::max(0.0, value) * 1e6;
    sum_micro_.fetch_add(static_cast<std::uint64_t>(std::llround(micro)),
                         std::memory_order_relaxed);
}

std::uint64_t Histogram::bucket(std::size_t i) const noexcept {
    return i <= count_ ? buckets_[i].load(std::memory_order_relaxed) : 0;
}

std::uint64_t Histogram::total() const noexcept { return total_.load(std::memory_order_relaxed); }

double Histogram::sum() const noexcept {
    return static_cast<double>(sum_micro_.load(std::memory_order_relaxed)) / 1e6;
}

Metrics::Metrics()
    : command_seconds(kCommandBounds), window_seconds(kWindowBounds), call_scores(kScoreBounds) {}

std::string render_prometheus(const Metrics& m, std::span<const ExtraSample> extra) {
    std::string out;
    out.reserve(8192);
    counter(out, "dvd_calls_started_total", "Calls created, inbound and outbound.",
            m.calls_started.value());
    counter(out, "dvd_calls_ended_total", "Calls that reached a terminal state.",
            m.calls_ended.value());
    counter(out, "dvd_calls_flagged_total", "Calls whose score crossed the detection threshold.",
            m.calls_flagged.value());
    counter(out, "dvd_calls_resumed_total", "Active calls reloaded from the store at start-up.",
            m.calls_resumed.value());

    labelled_header(out, "dvd_webhooks_total", "counter", "Webhook deliveries by result.");
    fmt::format_to(std::back_inserter(out),
                   "dvd_webhooks_total{{result=\"accepted\"}} {}\n"
                   "dvd_webhooks_total{{result=\"duplicate\"}} {}\n"
                   "dvd_webhooks_total{{result=\"bad_signature\"}} {}\n"
                   "dvd_webhooks_total{{result=\"malformed\"}} {}\n"
                   "dvd_webhooks_total{{result=\"error\"}} {}\n",
                   m.webhooks_accepted.value(), m.webhooks_duplicate.value(),
                   m.webhooks_bad_signature.value(), m.webhooks_malformed.value(),
                   m.webhooks_failed.value());

    labelled_header(out, "dvd_commands_total", "counter", "Call Control commands by outcome.");
    fmt::format_to(std::back_inserter(out),
                   "dvd_commands_total{{status=\"ok\"}} {}\n"
                   "dvd_commands_total{{status=\"call_ended\"}} {}\n"
                   "dvd_commands_total{{status=\"failed\"}} {}\n",
                   m.commands_ok.value(), m.commands_call_ended.value(),
                   m.commands_failed.value());
    histogram(out, "dvd_command_duration_seconds",
              "Call Control command latency including retries.", m.command_seconds);

    labelled_header(out, "dvd_media_streams_active", "gauge", "Media stream sessions open now.");
    fmt::format_to(std::back_inserter(out), "dvd_media_streams_active {}\n",
                   m.media_streams_active.value());
    counter(out, "dvd_media_streams_total", "Media streams started.",
            m.media_streams_opened.value());
    counter(out, "dvd_media_streams_rejected_total",
            "Media streams refused: bad token or unknown call.", m.media_streams_rejected.value());
    counter(out, "dvd_media_stream_errors_total", "Media streams closed for malformed frames.",
            m.media_streams_errored.value());
    counter(out, "dvd_media_streams_restarted_total",
            "Media streams lost mid-call or never connected that were asked for again.",
            m.media_streams_restarted.value());
    counter(out, "dvd_media_frames_total", "Inbound media frames received.",
            m.media_frames.value());
    counter(out, "dvd_media_frames_outbound_total", "Outbound-track media frames (not scored).",
            m.media_frames_outbound.value());
    counter(out, "dvd_media_payload_bytes_total", "Decoded media payload bytes.",
            m.media_bytes.value());
    counter(out, "dvd_media_decode_errors_total", "Media payloads that failed to decode.",
            m.media_decode_errors.value());
    counter(out, "dvd_media_frames_late_total", "Frames dropped as too late by the jitter buffer.",
            m.media_frames_late.value());
    counter(out, "dvd_media_frames_lost_total", "Frames never received (gaps).",
            m.media_frames_lost.value());
    labelled_header(out, "dvd_audio_seconds_total", "counter", "Inbound audio decoded, seconds.");
    fmt::format_to(std::back_inserter(out), "dvd_audio_seconds_total {}\n",
                   static_cast<double>(m.audio_seconds_micro.value()) / 1e6);

    counter(out, "dvd_windows_scored_total", "Detector windows scored.",
            m.windows_scored.value());
    histogram(out, "dvd_window_scoring_duration_seconds",
              "Time from a window's last speech frame to its model output (scoring-pool queue wait "
              "and model run).",
              m.window_seconds);
    histogram(out, "dvd_call_score", "Final call-level probability of a synthetic voice.",
              m.call_scores);
    counter(out, "dvd_store_errors_total", "Synchronous store operations that failed.",
            m.store_errors.value());

    for (const ExtraSample& sample : extra) {
        labelled_header(out, sample.name, sample.type, sample.help);
        fmt::format_to(std::back_inserter(out), "{} {}\n", sample.name, sample.value);
    }
    return out;
}

}  // namespace dvd::service

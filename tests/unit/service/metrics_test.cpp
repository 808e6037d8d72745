#include "service/metrics.hpp"

#include <array>

#include <gtest/gtest.h>

namespace dvd::service {
namespace {

TEST(Histogram, BucketsByUpperBoundInclusive) {
    constexpr std::array<double, 3> bounds{1.0, 2.0, 5.0};
    Histogram h(bounds);
    h.observe(0.5);
    h.observe(1.0);  // le="1" is inclusive
    h.observe(1.5);
    h.observe(7.0);
    EXPECT_EQ(h.bucket(0), 2u);
    EXPECT_EQ(h.bucket(1), 1u);
    EXPECT_EQ(h.bucket(2), 0u);
    EXPECT_EQ(h.bucket(3), 1u);  // +Inf
    EXPECT_EQ(h.total(), 4u);
    EXPECT_NEAR(h.sum(), 10.0, 1e-6);
}

TEST(Histogram, IgnoresNonFinite) {
    constexpr std::array<double, 1> bounds{1.0};
    Histogram h(bounds);
    h.observe(std::numeric_limits<double>::quiet_NaN());
    EXPECT_EQ(h.total(), 0u);
}

TEST(RenderPrometheus, CountersHistogramsAndExtras) {
    Metrics metrics;
    metrics.calls_started.add(3);
    metrics.webhooks_duplicate.add();
    metrics.media_streams_active.add(2);
    metrics.call_scores.observe(0.95);
    const std::array<ExtraSample, 1> extra{
            ExtraSample{"dvd_uptime_seconds", "gauge", "Seconds since start.", 12.5}};
    const std::string text = render_prometheus(metrics, extra);
    EXPECT_NE(text.find("# TYPE dvd_calls_started_total counter\ndvd_calls_started_total 3\n"),
              std::string::npos);
    EXPECT_NE(text.find("dvd_webhooks_total{result=\"duplicate\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("dvd_media_streams_active 2\n"), std::string::npos);
    EXPECT_NE(text.find("dvd_call_score_bucket{le=\"0.9\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("dvd_call_score_bucket{le=\"1\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("dvd_call_score_count 1\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE dvd_uptime_seconds gauge\ndvd_uptime_seconds 12.5\n"),
              std::string::npos);
    // Every sample line is "name[{labels}] value"; every metric has HELP and TYPE.
    EXPECT_EQ(text.back(), '\n');
}

}  // namespace
}  // namespace dvd::service

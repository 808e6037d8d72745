#include "alerts/alert_content.hpp"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace dvd::alerts {
namespace {

using nlohmann::json;

// 2026-01-01T10:00:42.123Z
constexpr std::int64_t kDetectedAtMs = 1'767'261'642'123;

AlertContent sample_content() {
    AlertContent c;
    c.call_id = "c1";
    c.call_control_id = "v3:ctl-1";
    c.level = 1;
    c.caller = "+13125550100";
    c.callee = "+18005550199";
    c.score = 0.913;
    c.llr = 2.347;
    c.verdict = "synthetic";
    c.threshold = 0.75;
    c.seconds_into_call = 42.7;
    c.speech_seconds = 12.5;
    c.detected_at_ms = kDetectedAtMs;
    c.indicators = {{"pitch_std", "3.1", "Hz"}, {"jitter_local", "0.21", "%"}};
    c.analysis = AnalysisSummary{.risk_level = "high",
                                 .reasoning = "Flat pitch and no breaths.",
                                 .recommended_action = "verify_identity",
                                 .source = "detector+analysis"};
    c.recording_url = "https://example.test/rec/1.wav";
    c.dashboard_url = "https://dvd.example.test/calls/c1";
    return c;
}

json slack(const AlertContent& c) {
    const std::string text = build_slack_message(c);
    json parsed = json::parse(text, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << text;
    return parsed;
}

TEST(EscapeMrkdwn, EscapesAmpersandAndAngleBracketsOnly) {
    EXPECT_EQ(escape_mrkdwn("a & b <c> *d* _e_"), "a &amp; b &lt;c&gt; *d* _e_");
    EXPECT_EQ(escape_mrkdwn(""), "");
}

TEST(FormatIso8601Ms, FormatsUtcWithMilliseconds) {
    EXPECT_EQ(format_iso8601_ms(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_iso8601_ms(kDetectedAtMs), "2026-01-01T10:00:42.123Z");
}

// The whole message for a fixed content: the structure reviewers agreed on.
TEST(BuildSlackMessage, MatchesTheGoldenStructure) {
    const json expected = json::parse(R"json({
      "text": "Deepfake voice alert: +13125550100 -> +18005550199, score 0.91 (synthetic) at 0:42 into the call, risk high",
      "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": ":rotating_light: Deepfake voice detected", "emoji": true}},
        {"type": "section", "fields": [
          {"type": "mrkdwn", "text": "*Caller:*\n+13125550100"},
          {"type": "mrkdwn", "text": "*Callee:*\n+18005550199"},
          {"type": "mrkdwn", "text": "*Score:*\n0.91 (synthetic)"},
          {"type": "mrkdwn", "text": "*LLR:*\n+2.35"},
          {"type": "mrkdwn", "text": "*Time into call:*\n0:42"},
          {"type": "mrkdwn", "text": "*Risk:*\nhigh"}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Top indicators:*\n\u2022 pitch_std: 3.1 Hz\n\u2022 jitter_local: 0.21 %"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Recommended action:* verify_identity\n_source: detector+analysis_\n*Analysis:* Flat pitch and no breaths."}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "<https://dvd.example.test/calls/c1|Open call in dashboard> \u00b7 <https://example.test/rec/1.wav|Recording>"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "call `c1` \u00b7 call_control_id `v3:ctl-1` \u00b7 2026-01-01T10:00:42.123Z \u00b7 threshold 0.75"}]}
      ]})json");
    EXPECT_EQ(slack(sample_content()), expected) << slack(sample_content()).dump(2);
}

TEST(BuildSlackMessage, EscapesUntrustedTextEverywhere) {
    AlertContent c = sample_content();
    c.caller = "<!channel> & co";
    c.analysis->reasoning = "Caller said <@U123> & <https://evil.test|click>";
    c.indicators = {{"a<b", "1&2", ">"}};
    const json message = slack(c);
    const std::string dumped = message.dump();
    // No raw control sequence survives: no mention, no link injection.
    EXPECT_EQ(dumped.find("<!channel>"), std::string::npos);
    EXPECT_EQ(dumped.find("<@U123>"), std::string::npos);
    EXPECT_EQ(dumped.find("<https://evil.test"), std::string::npos);
    EXPECT_EQ(message["blocks"][1]["fields"][0]["text"], "*Caller:*\n&lt;!channel&gt; &amp; co");
    EXPECT_NE(message["text"].get<std::string>().find("&lt;!channel&gt; &amp; co"),
              std::string::npos);
    EXPECT_EQ(message["blocks"][2]["text"]["text"],
              "*Top indicators:*\n\u2022 a&lt;b: 1&amp;2 &gt;");
}

TEST(BuildSlackMessage, FallbackTextNamesCallerCalleeScoreAndTime) {
    AlertContent c = sample_content();
    c.analysis.reset();
    c.level = 2;
    c.seconds_into_call = 3723.0;
    const json message = slack(c);
    EXPECT_EQ(message["text"],
              "Deepfake voice alert (level 2): +13125550100 -> +18005550199, score 0.91 "
              "(synthetic) at 1:02:03 into the call");
    EXPECT_EQ(message["blocks"][0]["text"]["text"],
              ":rotating_light: Deepfake voice alert, level 2");
}

TEST(BuildSlackMessage, LeavesOutWhatIsUnknown) {
    AlertContent c;
    c.call_id = "c9";
    c.score = 0.8;
    const json message = slack(c);
    const auto& blocks = message["blocks"];
    ASSERT_EQ(blocks.size(), 3U);  // header, fields, context
    EXPECT_EQ(blocks[1]["fields"].size(), 5U);
    EXPECT_EQ(blocks[1]["fields"][0]["text"], "*Caller:*\nunknown");
    EXPECT_EQ(blocks[2]["elements"][0]["text"], "call `c9`");
}

TEST(BuildSlackMessage, ShowsStirShakenAndTelnyxVerdictAsFields) {
    AlertContent c = sample_content();
    c.stir_shaken_attestation = "C";
    c.stir_shaken_verified = false;
    c.telnyx_deepfake_result = "fake";
    c.telnyx_deepfake_score = 0.88;
    const json fields = slack(c)["blocks"][1]["fields"];
    ASSERT_EQ(fields.size(), 8U);
    EXPECT_EQ(fields[6]["text"], "*STIR/SHAKEN:*\nC (not verified)");
    EXPECT_EQ(fields[7]["text"], "*Telnyx detector:*\nfake (0.88)");
}

TEST(BuildSlackMessage, ShowsAtMostFiveIndicatorsInOrder) {
    AlertContent c = sample_content();
    c.indicators.clear();
    for (int i = 0; i < 8; ++i) {
        c.indicators.push_back({"i" + std::to_string(i), std::to_string(i), ""});
    }
    const std::string text = slack(c)["blocks"][2]["text"]["text"];
    EXPECT_NE(text.find("i0: 0\n"), std::string::npos);
    EXPECT_NE(text.find("i4: 4"), std::string::npos);
    EXPECT_EQ(text.find("i5"), std::string::npos);
}

TEST(BuildSlackMessage, CutsLongTextToSlackLimitsOnCharacterBoundaries) {
    AlertContent c = sample_content();
    std::string reasoning;
    for (int i = 0; i < 3000; ++i) {
        reasoning += "\xC3\xA9&";  // 'é' then '&' (escaped to 5 bytes)
    }
    c.analysis->reasoning = reasoning;
    c.caller = std::string(5000, '<');
    const json message = slack(c);
    const std::string analysis = message["blocks"][3]["text"]["text"];
    EXPECT_LE(analysis.size(), 3000U);
    EXPECT_TRUE(analysis.ends_with("\xE2\x80\xA6")) << analysis.substr(analysis.size() - 12);
    EXPECT_NE(analysis.find("_source: detector+analysis_"), std::string::npos);
    for (const auto& field : message["blocks"][1]["fields"]) {
        EXPECT_LE(field["text"].get<std::string>().size(), 2000U);
    }
    const std::string caller = message["blocks"][1]["fields"][0]["text"];
    // Only whole entities: the text before the ellipsis ends with "&lt;".
    EXPECT_TRUE(caller.ends_with("&lt;\xE2\x80\xA6")) << caller.substr(caller.size() - 12);
}

TEST(BuildSlackMessage, ReplacesInvalidUtf8InsteadOfFailing) {
    AlertContent c = sample_content();
    c.caller = "+1312\xFF\xFE";
    const json message = slack(c);
    EXPECT_EQ(message["blocks"][1]["fields"][0]["text"],
              "*Caller:*\n+1312\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(BuildSlackMessage, LinksOnlyHttpUrlsAndEncodesPipes) {
    AlertContent c = sample_content();
    c.recording_url = "javascript:alert(1)";
    c.dashboard_url = "https://dvd.example.test/calls/c1?a=1&b=x|y";
    const json message = slack(c);
    EXPECT_EQ(message["blocks"][4]["text"]["text"],
              "<https://dvd.example.test/calls/c1?a=1&amp;b=x%7Cy|Open call in dashboard>");
}

TEST(BuildJsonAlert, FollowsSchemaVersionOne) {
    const json alert = json::parse(build_json_alert(sample_content()));
    EXPECT_EQ(alert["schema_version"], kJsonAlertSchemaVersion);
    EXPECT_EQ(alert["schema_version"], 1);
    EXPECT_EQ(alert["type"], "deepfake_voice_alert");
    EXPECT_EQ(alert["alert_key"], "c1:1");
    EXPECT_EQ(alert["call_id"], "c1");
    EXPECT_EQ(alert["call_control_id"], "v3:ctl-1");
    EXPECT_EQ(alert["level"], 1);
    EXPECT_EQ(alert["detected_at"], "2026-01-01T10:00:42.123Z");
    EXPECT_EQ(alert["call"]["from"], "+13125550100");
    EXPECT_EQ(alert["call"]["to"], "+18005550199");
    EXPECT_TRUE(alert["call"]["stir_shaken_attestation"].is_null());
    EXPECT_DOUBLE_EQ(alert["detection"]["score"].get<double>(), 0.913);
    EXPECT_DOUBLE_EQ(alert["detection"]["llr"].get<double>(), 2.347);
    EXPECT_EQ(alert["detection"]["verdict"], "synthetic");
    EXPECT_DOUBLE_EQ(alert["detection"]["threshold"].get<double>(), 0.75);
    EXPECT_DOUBLE_EQ(alert["detection"]["seconds_into_call"].get<double>(), 42.7);
    EXPECT_DOUBLE_EQ(alert["detection"]["speech_seconds"].get<double>(), 12.5);
    ASSERT_EQ(alert["indicators"].size(), 2U);
    EXPECT_EQ(alert["indicators"][0],
              (json{{"name", "pitch_std"}, {"value", "3.1"}, {"unit", "Hz"}}));
    EXPECT_EQ(alert["analysis"]["risk_level"], "high");
    EXPECT_EQ(alert["analysis"]["recommended_action"], "verify_identity");
    EXPECT_EQ(alert["analysis"]["source"], "detector+analysis");
    EXPECT_EQ(alert["links"]["recording"], "https://example.test/rec/1.wav");
    EXPECT_EQ(alert["links"]["dashboard"], "https://dvd.example.test/calls/c1");
}

// A Slack message outlives Telnyx's private recording link: the link says when it expires.
TEST(AlertContent, AnExpiringRecordingLinkSaysWhen) {
    AlertContent c;
    c.call_id = "c3";
    c.recording_url = "https://example.test/rec/3.wav";
    c.recording_expires_at_ms = 1'767'225'600'000 + (14 * 60 + 52) * 60'000;  // 14:52 UTC
    const std::string slack = build_slack_message(c);
    EXPECT_NE(slack.find("<https://example.test/rec/3.wav|Recording (Telnyx link, expires 14:52 "
                         "UTC)>"),
              std::string::npos)
            << slack;
    const json alert = json::parse(build_json_alert(c));
    EXPECT_EQ(alert["links"]["recording_expires_at"], "2026-01-01T14:52:00.000Z");
}

TEST(BuildJsonAlert, UsesNullForUnknownAndKeepsTextUnescaped) {
    AlertContent c;
    c.call_id = "c2";
    c.level = 3;
    c.caller = "<x> & y";
    c.score = std::numeric_limits<double>::quiet_NaN();
    const json alert = json::parse(build_json_alert(c));
    EXPECT_EQ(alert["alert_key"], "c2:3");
    EXPECT_TRUE(alert["detected_at"].is_null());
    EXPECT_TRUE(alert["call_control_id"].is_null());
    EXPECT_EQ(alert["call"]["from"], "<x> & y");
    EXPECT_TRUE(alert["detection"]["score"].is_null());
    EXPECT_TRUE(alert["detection"]["threshold"].is_null());
    EXPECT_TRUE(alert["analysis"].is_null());
    EXPECT_TRUE(alert["links"]["recording"].is_null());
    EXPECT_TRUE(alert["links"]["recording_expires_at"].is_null());
    EXPECT_TRUE(alert["indicators"].empty());
}

}  // namespace
}  // namespace dvd::alerts

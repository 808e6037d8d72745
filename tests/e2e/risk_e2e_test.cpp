// Issue 4 end to end, the binary run as a user runs it: a flagged call reaches Slack within a
// second of the threshold crossing with its indicators and links, the AI analysis is stored and
// shown by the API, the escalation (warn / transfer / hangup) reaches the simulator's Call
// Control API with the right body exactly once, Slack 500/429 are retried, a garbage analysis
// falls back to the detector, and duplicate webhooks cause no duplicate alert or escalation.
// The Telnyx simulator plays Slack and AI Inference (its fake endpoints and /_sim control API).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/service_fixture.hpp"
#include "http/http_client.hpp"
#include "support/child_process.hpp"

namespace dvd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::filesystem::path& kSource = test::kSourceDir;
constexpr const char* kGenuine = "samples/genuine-festvox-ru.wav";
constexpr const char* kSynthetic = "samples/synthetic-espeak-ng.wav";
constexpr const char* kLongerSynthetic = "samples/synthetic-hifigan.wav";
constexpr const char* kSecurityNumber = "+13125550111";

using Reply = test::HttpReply;

/// Unix ms of the service log line that contains `needle` ("2026-11-26T16:03:20.329Z info ...").
std::optional<std::int64_t> log_time_ms(const std::string& log, const std::string& needle) {
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
        if (line.find(needle) == std::string::npos || line.size() < 24) {
            continue;
        }
        std::tm tm{};
        int millis = 0;
        if (std::sscanf(line.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                        &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis)
            != 7) {
            continue;
        }
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        return static_cast<std::int64_t>(::timegm(&tm)) * 1000 + millis;
    }
    return std::nullopt;
}

class RiskE2e : public test::ServiceFixture {
protected:
    Reply api(const std::string& path) { return request("GET", path); }

    json sim(const std::string& path) { return request("GET", sim_base_ + path).parsed(); }

    /// serve in demo mode (the built-in simulator plays Telnyx, Slack and AI Inference).
    void start_demo(std::vector<std::pair<std::string, std::string>> env) {
        start_service({"--demo-wav", (kSource / kSynthetic).string(), "--demo-wav",
                       (kSource / kGenuine).string(), "--demo-speed", "4"},
                      std::move(env));
        const auto api_base = ready_["telnyx_api_base"].get<std::string>();  // .../v2
        sim_base_ = api_base.substr(0, api_base.size() - 3);
    }

    std::string sim_base_;
};

class DemoEscalation : public RiskE2e, public ::testing::WithParamInterface<std::string> {};

// The README's promise for issue 4, per escalation policy: with no Slack and no AI account, the
// demo's synthetic call is alerted, analysed and escalated; the genuine one is left alone.
TEST_P(DemoEscalation, FlaggedCallIsAlertedAnalysedAndEscalatedOnce) {
    const std::string policy = GetParam();
    start_demo({{"ESCALATION_POLICY", policy}, {"SECURITY_NUMBER", kSecurityNumber}});
    ASSERT_TRUE(test::eventually([&] { return all_ended(2); }, 60s)) << calls().dump(2);

    std::string flagged_id;
    std::string flagged_ccid;
    std::string genuine_id;
    const json listed = calls();  // not calls()["calls"]: a temporary
    for (const json& call : listed["calls"]) {
        (call["flagged"].get<bool>() ? flagged_id : genuine_id) = call["id"].get<std::string>();
        if (call["flagged"].get<bool>()) {
            flagged_ccid = call["call_control_id"].get<std::string>();
        }
    }
    ASSERT_FALSE(flagged_id.empty()) << calls().dump(2);
    ASSERT_FALSE(genuine_id.empty()) << calls().dump(2);

    // Slack: one level-1 alert, for the flagged call only, within 1 s of the crossing.
    ASSERT_TRUE(test::eventually([&] { return !sim("/_sim/requests/slack").empty(); }, 10s));
    const json slack = sim("/_sim/requests/slack");
    ASSERT_EQ(slack.size(), 1u) << slack.dump(2);
    EXPECT_EQ(slack[0]["status"], 200);
    const json& message = slack[0]["body"];
    const std::string text = message["text"].get<std::string>();
    EXPECT_NE(text.find("+13125550100"), std::string::npos) << text;
    EXPECT_NE(text.find("synthetic"), std::string::npos) << text;
    const std::string blocks = message["blocks"].dump();
    EXPECT_NE(blocks.find("/#/calls/" + flagged_id), std::string::npos) << blocks;
    EXPECT_NE(blocks.find("Top indicators"), std::string::npos) << blocks;
    EXPECT_NE(blocks.find("Time into call"), std::string::npos) << blocks;
    EXPECT_EQ(blocks.find(genuine_id), std::string::npos);
    const auto crossed =
            log_time_ms(service_->log(), "crossed the detection threshold call_id=" + flagged_id);
    ASSERT_TRUE(crossed) << service_->log();
    const std::int64_t latency_ms = slack[0]["received_at_ms"].get<std::int64_t>() - *crossed;
    EXPECT_GE(latency_ms, 0);
    EXPECT_LT(latency_ms, 1000) << "Slack must hear of it within 1 s of the crossing";
    std::cout << "alert latency after the crossing: " << latency_ms << " ms\n";

    // The API shows the indicators, the analysis, the delivered alert and the escalation.
    const json call = api("/calls/" + flagged_id).parsed();
    ASSERT_TRUE(call["indicators"].is_array());
    std::map<std::string, json> indicators;
    for (const json& row : call["indicators"]) {
        indicators[row["name"].get<std::string>()] = row["value"];
        EXPECT_TRUE(row.contains("unit") && row.contains("description"));
    }
    EXPECT_EQ(indicators["codec"], "PCMU");
    EXPECT_TRUE(indicators["pitch_mean_hz"].is_number());
    EXPECT_GT(indicators["frames_received"].get<double>(), 0.0);
    ASSERT_FALSE(call["timeline"].empty());
    EXPECT_TRUE(call["timeline"][0]["indicators"].contains("hnr_db"));
    ASSERT_TRUE(call["analysis"].is_object()) << call.dump(2);
    EXPECT_EQ(call["analysis"]["source"], "detector+analysis");
    EXPECT_EQ(call["analysis"]["trigger"], "threshold");
    EXPECT_TRUE(call["analysis"]["flagged"].get<bool>());
    EXPECT_EQ(call["analysis"]["model"], "moonshotai/Kimi-K2.6");
    ASSERT_EQ(call["alerts"].size(), 1u);
    EXPECT_EQ(call["alerts"][0]["status"], "sent");
    EXPECT_EQ(call["alerts"][0]["level"], 1);
    ASSERT_TRUE(call["escalation"].is_object()) << call.dump(2);
    EXPECT_EQ(call["escalation"]["action"], policy);
    ASSERT_FALSE(call["recordings"].empty());
    EXPECT_TRUE(call["recordings"][0]["kept"].get<bool>());
    EXPECT_FALSE(api("/calls/" + genuine_id).parsed()["recordings"][0]["kept"].get<bool>());
    EXPECT_TRUE(api("/calls/" + genuine_id).parsed()["escalation"].is_null());

    // The escalation command reached the simulator's Call Control API once, accepted, with the
    // body of its policy.
    const json commands = sim("/_sim/commands/" + flagged_ccid);
    std::vector<json> escalations;
    for (const json& command : commands) {
        const bool warning = command["action"] == "speak"
                             && command["body"]["payload"].get<std::string>().starts_with(
                                     "Warning:");
        if (warning || command["action"] == "transfer" || command["action"] == "hangup") {
            escalations.push_back(command);
        }
    }
    ASSERT_EQ(escalations.size(), 1u) << commands.dump(2);
    const json& sent = escalations[0];
    EXPECT_EQ(sent["http_status"], 200) << sent.dump();
    EXPECT_FALSE(sent["command_id"].get<std::string>().empty());
    if (policy == "warn") {
        EXPECT_EQ(sent["action"], "speak");
        EXPECT_EQ(sent["body"]["service_level"], "basic");
        EXPECT_EQ(sent["body"]["voice"], "female");
    } else if (policy == "transfer") {
        EXPECT_EQ(sent["action"], "transfer");
        EXPECT_EQ(sent["body"]["to"], kSecurityNumber);
    } else {
        EXPECT_EQ(sent["action"], "hangup");
    }
    EXPECT_NE(api("/metrics").body.find("dvd_alerts_delivered_total 1\n"), std::string::npos)
            << api("/metrics").body;
    EXPECT_NE(api("/metrics").body.find("dvd_alerts_failing 0\n"), std::string::npos);

    service_->signal(SIGTERM);
    EXPECT_EQ(service_->wait_exit(20s), 0);
}

INSTANTIATE_TEST_SUITE_P(Policies, DemoEscalation,
                         ::testing::Values("warn", "transfer", "hangup"));

// Two processes, as in production: the service with a Slack URL and an AI Inference URL (both
// the `simulate` process's fakes), Slack answering 500 then 429 + Retry-After, the analysis
// answering garbage, and Telnyx delivering call.answered and call.hangup twice.
TEST_F(RiskE2e, SlackRetriesGarbageAnalysisAndDuplicateWebhooks) {
    const int service_port = test::free_loopback_port();
    const int sim_port = test::free_loopback_port();
    const std::string fakes = "http://127.0.0.1:" + std::to_string(sim_port);
    sim_base_ = fakes;
    port_ = service_port;
    const std::string seed_hex(64, '3');
    // Without TELNYX_PUBLIC_KEY, --insecure-skip-verify accepts the simulator's webhooks (their
    // signatures are checked in service_e2e_test.cpp).
    service_ = std::make_unique<test::ChildProcess>(
            DVD_EXECUTABLE, std::vector<std::string>{"serve", "--workers", "2",
                                                     "--insecure-skip-verify"},
            std::vector<std::pair<std::string, std::string>>{
                    {"TELNYX_API_KEY", "KEYtest0123456789abcdef"},
                    {"TELNYX_API_BASE", fakes + "/v2"},
                    {"PORT", std::to_string(service_port)},
                    {"DATABASE_URL", "sqlite://" + (dir_ / "dvd.db").string()},
                    {"DVD_MODEL", (kSource / "models/detector.json").string()},
                    {"ALERT_WEBHOOK", fakes + "/services/T0001/B0001/e2e-secret"},
                    {"AI_INFERENCE_URL", fakes + "/v2/ai/openai/chat/completions"},
                    {"ESCALATION_POLICY", "warn"}},
            dir_ / "service.log");
    ASSERT_TRUE(test::eventually([&] { return api("/health").status == 200; }, 30s))
            << service_->log();

    // The genuine call plays first: time to script the fakes before the synthetic one.
    test::ChildProcess simulator(
            DVD_EXECUTABLE,
            {"simulate", "--wav", (kSource / kGenuine).string(), "--wav",
             (kSource / kLongerSynthetic).string(), "--calls", "2", "--concurrency", "1",
             "--speed", "1", "--service", "http://127.0.0.1:" + std::to_string(service_port),
             "--api-port", std::to_string(sim_port), "--signing-seed", seed_hex, "--duplicate",
             "call.answered", "--duplicate", "call.hangup"},
            {{"TELNYX_API_KEY", "KEYtest0123456789abcdef"}}, dir_ / "simulate.log");
    ASSERT_TRUE(test::eventually(
            [&] {
                return request("POST", fakes + "/_sim/script/slack",
                               R"([{"status":500,"body":"rollup_error"},)"
                               R"({"status":429,"body":"rate_limited","retry_after":1}])")
                               .status
                       == 200;
            },
            20s, 5ms))
            << simulator.log();
    ASSERT_EQ(request("POST", fakes + "/_sim/script/inference",
                      R"([{"content":"I cannot tell, sorry."}])")
                      .status,
              200);
    ASSERT_TRUE(sim("/_sim/requests/slack").empty()) << "scripted before the synthetic call";

    // Slack: 500, then 429 (Retry-After: 1), then 200 ok: three posts of the same alert.
    ASSERT_TRUE(test::eventually([&] { return sim("/_sim/requests/slack").size() >= 3; }, 25s))
            << sim("/_sim/requests/slack").dump(2) << simulator.log();
    const json slack = sim("/_sim/requests/slack");
    ASSERT_EQ(slack.size(), 3u);
    EXPECT_EQ(slack[0]["status"], 500);
    EXPECT_EQ(slack[1]["status"], 429);
    EXPECT_EQ(slack[2]["status"], 200);
    EXPECT_EQ(slack[0]["body"], slack[2]["body"]);
    EXPECT_GE(slack[2]["received_at_ms"].get<std::int64_t>()
                      - slack[1]["received_at_ms"].get<std::int64_t>(),
              950);
    // Delivered in the end: the outbox is failing no more.
    EXPECT_TRUE(test::eventually(
            [&] {
                return api("/metrics").body.find("dvd_alerts_failing 0\n") != std::string::npos;
            },
            10s))
            << api("/metrics").body;
    ASSERT_EQ(simulator.wait_exit(60s), 0) << simulator.log() << service_->log();

    ASSERT_TRUE(test::eventually([&] { return all_ended(2); }, 20s)) << calls().dump(2);
    std::string flagged_id;
    const json listed = calls();  // not calls()["calls"]: a temporary
    for (const json& call : listed["calls"]) {
        if (call["flagged"].get<bool>()) {
            flagged_id = call["id"].get<std::string>();
        }
    }
    ASSERT_FALSE(flagged_id.empty()) << calls().dump(2);
    const json call = api("/calls/" + flagged_id).parsed();
    ASSERT_EQ(call["alerts"].size(), 1u) << "duplicate webhooks: still one alert";
    EXPECT_EQ(call["alerts"][0]["status"], "sent");
    EXPECT_EQ(call["alerts"][0]["attempts"], 3);
    // The garbage answer fell back to the detector, and the record says why.
    ASSERT_TRUE(call["analysis"].is_object()) << call.dump(2);
    const json& first = call["analyses"][0];
    EXPECT_EQ(first["source"], "detector_only");
    EXPECT_EQ(first["error"]["code"], "malformed_output") << first.dump(2);
    EXPECT_NE(first["reason"].get<std::string>().find("analysis unavailable"), std::string::npos);
    EXPECT_TRUE(first["flagged"].get<bool>());
    // One escalation despite call.answered and call.hangup delivered twice.
    int warnings = 0;
    for (const json& command : call["commands"]) {
        warnings += command["command"] == "speak" ? 1 : 0;
    }
    EXPECT_EQ(warnings, 2) << "the greeting and one warning: " << call["commands"].dump(2);
    EXPECT_EQ(call["escalation"]["action"], "warn");
}

}  // namespace
}  // namespace dvd

// Runs `deepfake-voice-detector serve` as a user would: in demo mode (the built-in Telnyx
// simulator places calls from the shipped samples) and with a real-looking configuration, and
// checks calls, scores, the JSON API, signatures and stream isolation from the outside.
#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include "e2e/service_fixture.hpp"
#include "http/http_client.hpp"
#include "net/ws_client.hpp"
#include "protocol/signature.hpp"
#include "store/instance_lock.hpp"
#include "support/child_process.hpp"
#include "support/database_backends.hpp"

namespace dvd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::filesystem::path& kSource = test::kSourceDir;
constexpr const char* kGenuine = "samples/genuine-festvox-ru.wav";
constexpr const char* kSynthetic = "samples/synthetic-espeak-ng.wav";

using Reply = test::HttpReply;

class ServiceE2eBase : public test::ServiceFixture {
protected:
    void start(std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env) {
        start_service(std::move(args), std::move(env));
    }
};

/// The tests that exercise the database run on each backend of `e2e_backends()`:
/// dvd_service_e2e_tests on SQLite, dvd_service_postgres_e2e_tests on PostgreSQL.
class ServiceE2e : public ServiceE2eBase, public ::testing::WithParamInterface<test::Backend> {
protected:
    void SetUp() override {
        ServiceE2eBase::SetUp();
        if (GetParam() == test::Backend::Postgres) {
            database_url_ = test::new_postgres_database();
            ASSERT_FALSE(database_url_.empty());
        }
    }

    /// The service and the simulator as two processes, as a user runs them: a configured
    /// service (Telnyx = the simulator's API port, its fixed signing key) and `simulate`.
    struct TwoProcesses {
        std::string seed_hex = std::string(64, '7');
        int service_port = test::free_loopback_port();
        int sim_port = test::free_loopback_port();
        std::vector<std::pair<std::string, std::string>> env{};
    };

    TwoProcesses two_processes() {
        TwoProcesses p;
        std::array<std::uint8_t, 32> seed{};
        seed.fill(0x77);
        auto keys = protocol::ed25519_keypair_from_seed(seed);
        EXPECT_TRUE(keys);
        p.env = {{"TELNYX_API_KEY", "KEYtest0123456789abcdef"},
                 {"TELNYX_PUBLIC_KEY", keys ? keys->public_key_base64() : ""},
                 {"TELNYX_API_BASE", "http://127.0.0.1:" + std::to_string(p.sim_port) + "/v2"},
                 {"PORT", std::to_string(p.service_port)},
                 {"DATABASE_URL", database_url()},
                 {"DVD_MODEL", (kSource / "models/detector.json").string()}};
        port_ = p.service_port;
        return p;
    }

    std::unique_ptr<test::ChildProcess> serve(const TwoProcesses& p, const std::string& log) {
        return std::make_unique<test::ChildProcess>(
                DVD_EXECUTABLE, std::vector<std::string>{"serve", "--workers", "2"}, p.env,
                dir_ / log, dir_);
    }

    /// `simulate` of one call saying `wav` at speed 1, with `extra` options appended.
    std::unique_ptr<test::ChildProcess> simulate(const TwoProcesses& p, const char* wav,
                                                 const std::vector<std::string>& extra = {}) {
        std::vector<std::string> args{"simulate",
                                      "--wav",
                                      (kSource / wav).string(),
                                      "--service",
                                      "http://127.0.0.1:" + std::to_string(p.service_port),
                                      "--api-port",
                                      std::to_string(p.sim_port),
                                      "--signing-seed",
                                      p.seed_hex};
        args.insert(args.end(), extra.begin(), extra.end());
        if (std::find(extra.begin(), extra.end(), "--speed") == extra.end()) {
            args.insert(args.end(), {"--speed", "1"});
        }
        return std::make_unique<test::ChildProcess>(
                DVD_EXECUTABLE, std::move(args),
                std::vector<std::pair<std::string, std::string>>{
                        {"TELNYX_API_KEY", "KEYtest0123456789abcdef"}},
                dir_ / "simulate.log");
    }

    /// Waits until the first call streams and has at least `points` windows; its id and count.
    std::pair<std::string, std::size_t> wait_scoring(std::size_t points) {
        std::string call_id;
        std::size_t seen = 0;
        const bool ok = test::eventually(
                [&] {
                    const json list = calls();
                    if (!list.contains("calls") || list["calls"].empty()) {
                        return false;
                    }
                    call_id = list["calls"][0]["id"].get<std::string>();
                    const json call = request("GET", "/calls/" + call_id).parsed();
                    seen = call.contains("timeline") ? call["timeline"].size() : 0;
                    return seen >= points;
                },
                30s);
        EXPECT_TRUE(ok) << service_->log();
        return {call_id, seen};
    }

    /// Commands of a call that Telnyx accepted, by name.
    static std::map<std::string, int> accepted_commands(const json& call) {
        std::map<std::string, int> sent;
        for (const json& command : call["commands"]) {
            sent[command["command"].get<std::string>()] += command["http_status"] == 200 ? 1 : 0;
        }
        return sent;
    }
};

// The README's promise: with no Telnyx account, calls are answered, streamed, scored and listed;
// the synthetic one is flagged while it is still going on, the genuine one stays clear.
TEST_P(ServiceE2e, DemoModeAnswersStreamsScoresAndListsCalls) {
    start({"--demo-wav", (kSource / kGenuine).string(), "--demo-wav",
           (kSource / kSynthetic).string(), "--demo-speed", "4", "--scoring-spares", "5"},
          {});
    ASSERT_TRUE(ready_["demo"].get<bool>());
    ASSERT_TRUE(test::eventually([&] { return all_ended(2); }, 90s)) << calls().dump(2);

    const json health = request("GET", "/health").parsed();
    EXPECT_EQ(health["status"], "ok");
    EXPECT_EQ(health["active_sessions"], 0);
    // Readiness pings this backend's database through the API's own connection.
    const Reply ready = request("GET", "/ready");
    ASSERT_EQ(ready.status, 200) << ready.body;
    EXPECT_EQ(ready.parsed()["status"], "ready");
    EXPECT_EQ(ready.parsed()["checks"]["database"]["ok"], true);
    EXPECT_EQ(ready.parsed()["checks"]["store_writer"]["failing"], false);

    const json list = calls();
    ASSERT_EQ(list["total"], 2);
    for (const json& summary : list["calls"]) {
        const Reply detail_reply = request("GET", "/calls/" + summary["id"].get<std::string>());
        ASSERT_EQ(detail_reply.status, 200) << detail_reply.body;
        const json call = detail_reply.parsed();
        // From the simulator's from-number the audio is unknown here; tell them by score.
        const bool synthetic = call["score"].get<double>() >= 0.75;
        EXPECT_EQ(call["flagged"].get<bool>(), synthetic) << call.dump(2);
        EXPECT_EQ(call["direction"], "inbound");
        EXPECT_EQ(call["hangup_cause"], "normal_clearing");
        EXPECT_GT(call["speech_seconds"].get<double>(), 3.0);
        ASSERT_TRUE(call["timeline"].is_array());
        EXPECT_GE(call["timeline"].size(), 5u);
        EXPECT_FALSE(call["recordings"].empty()) << "call.recording.saved was kept";
        // The service's own copy of the recording, downloaded from the simulator's pre-signed
        // URL and served by the API with the hash taken at download time.
        const std::string path = "/calls/" + summary["id"].get<std::string>();
        json archive;
        EXPECT_TRUE(test::eventually(
                [&] {
                    archive = request("GET", path).parsed()["recordings"][0]["archive"];
                    return archive["status"] == "stored";
                },
                30s))
                << archive.dump(2) << service_->log();
        if (archive["status"] == "stored") {
            const Reply audio = request("GET", archive["audio_url"].get<std::string>());
            EXPECT_EQ(audio.status, 200);
            EXPECT_EQ(audio.body.substr(0, 4), "RIFF");
            EXPECT_EQ(audio.body.size(), archive["bytes"].get<std::size_t>());
            EXPECT_EQ(audio.headers.find("X-Content-SHA256").value_or(""),
                      archive["sha256"].get<std::string>());
            EXPECT_EQ(audio.headers.find("Content-Type").value_or(""), "audio/wav");
        }

        // The Call Control sequence of protocol doc section 2, each accepted by the simulator.
        std::vector<std::string> actions;
        for (const json& command : call["commands"]) {
            actions.push_back(command["command"].get<std::string>());
            EXPECT_EQ(command["http_status"], 200) << command.dump();
            EXPECT_FALSE(command["command_id"].get<std::string>().empty());
        }
        EXPECT_EQ(actions, (std::vector<std::string>{"answer", "speak", "streaming_start",
                                                     "record_start"}));
        if (synthetic) {
            // Flagged while the call was going on: the threshold was crossed well before the
            // last window of audio.
            const json& timeline = call["timeline"];
            const auto first = std::find_if(timeline.begin(), timeline.end(), [](const json& p) {
                return p["call_score"].get<double>() >= 0.75;
            });
            ASSERT_NE(first, timeline.end());
            EXPECT_LT((*first)["at_ms"].get<double>(), timeline.back()["at_ms"].get<double>());
        }
    }
    int synthetic_count = 0;
    for (const json& call : list["calls"]) {
        synthetic_count += call["flagged"].get<bool>() ? 1 : 0;
    }
    EXPECT_EQ(synthetic_count, 1) << "one synthetic and one genuine demo call";
    if (GetParam() == test::Backend::Postgres) {
        // Everything went to the server; local files (call audio, recording copies) went to
        // ./var in the service's working folder.
        EXPECT_FALSE(std::filesystem::exists(dir_ / "dvd.db"));
        EXPECT_TRUE(std::filesystem::exists(dir_ / "var" / "recordings"));
        EXPECT_TRUE(std::filesystem::exists(dir_ / "var" / "audio"));
    }

    const Reply metrics = request("GET", "/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("dvd_calls_ended_total 2\n"), std::string::npos) << metrics.body;
    EXPECT_NE(metrics.body.find("dvd_calls_flagged_total 1\n"), std::string::npos);
    // Every score point reached the database, without a whole-batch retry.
    EXPECT_NE(metrics.body.find("dvd_store_failed_total 0\n"), std::string::npos) << metrics.body;
    EXPECT_NE(metrics.body.find("dvd_store_retries_total 0\n"), std::string::npos);
    EXPECT_NE(metrics.body.find("dvd_store_failing 0\n"), std::string::npos);
    // The scoring pool ran every window; nothing is left in it.
    EXPECT_NE(metrics.body.find("dvd_scoring_failures_total 0\n"), std::string::npos);
    EXPECT_NE(metrics.body.find("dvd_scoring_queue_depth 0\n"), std::string::npos);
    EXPECT_NE(metrics.body.find("dvd_scoring_spares 5\n"), std::string::npos) << "--scoring-spares";
    EXPECT_NE(metrics.body.find("dvd_scoring_spares_in_use 0\n"), std::string::npos);

    // Graceful stop on SIGTERM.
    service_->signal(SIGTERM);
    EXPECT_EQ(service_->wait_exit(20s), 0);
}

// POST /calls: the security team has a claimed identity called back; the answering voice is
// streamed and scored like an inbound call (demo mode: the simulator answers the dial).
// A crash in the middle of a demo call: the restarted service's built-in simulator has never
// heard of that call (as Telnyx forgets a call 10 minutes after it ended, its hangup webhook
// given up), so the recovery's status check closes it instead of leaving it "streaming" forever.
TEST_P(ServiceE2e, ACallThatEndedWhileTheServiceWasDownIsClosedAtRestart) {
    start({"--demo-wav", (kSource / "samples/synthetic-hifigan.wav").string(), "--demo-speed", "1"},
          {});
    const auto [call_id, points] = wait_scoring(1);
    ASSERT_FALSE(call_id.empty());
    service_->signal(SIGKILL);
    ASSERT_TRUE(service_->wait_exit(10s));

    start({"--demo-wav", (kSource / kGenuine).string(), "--demo-speed", "4"}, {});
    ASSERT_TRUE(test::eventually([&] { return all_ended(2); }, 60s)) << calls().dump(2);
    const json lost = request("GET", "/calls/" + call_id).parsed();
    EXPECT_EQ(lost["status"], "ended");
    EXPECT_EQ(lost["last_error"],
              "the call ended without a call.hangup webhook (Telnyx no longer knows it)");
    EXPECT_GE(lost["timeline"].size(), points) << "what it scored before the crash is kept";
    std::map<std::string, int> sent = accepted_commands(lost);
    EXPECT_EQ(sent["streaming_start"], 1) << "no new stream for a call that is over";
    EXPECT_EQ(request("GET", "/health").parsed()["active_sessions"], 0);
}

TEST_P(ServiceE2e, OutboundVerificationCallIsDialledStreamedAndScored) {
    start({"--demo-wav", (kSource / kSynthetic).string(), "--demo-speed", "4"}, {});
    ASSERT_TRUE(test::eventually([&] { return all_ended(1); }, 60s)) << calls().dump(2);

    EXPECT_EQ(request("POST", "/calls", R"({"to":"12345"})").status, 422);
    EXPECT_EQ(request("POST", "/calls", "{not json").status, 400);
    const Reply dialled = request("POST", "/calls", R"({"to":"+13125550142"})");
    ASSERT_EQ(dialled.status, 201) << dialled.body;
    const json created = dialled.parsed();
    EXPECT_EQ(created["status"], "initiated");
    EXPECT_EQ(created["to"], "+13125550142");
    const std::string id = created["call_id"].get<std::string>();

    ASSERT_TRUE(test::eventually(
            [&] { return request("GET", "/calls/" + id).parsed()["status"] == "ended"; }, 60s))
            << request("GET", "/calls/" + id).body << service_->log();
    const json call = request("GET", "/calls/" + id).parsed();
    EXPECT_EQ(call["direction"], "outbound");
    EXPECT_EQ(call["to"], "+13125550142");
    EXPECT_GT(call["speech_seconds"].get<double>(), 1.0) << "the answering voice was scored";
    EXPECT_TRUE(call["flagged"].get<bool>()) << "the dialled party speaks the synthetic sample";
    std::vector<std::string> actions;
    for (const json& command : call["commands"]) {
        actions.push_back(command["command"].get<std::string>());
    }
    ASSERT_FALSE(actions.empty());
    EXPECT_EQ(actions.front(), "dial");
    EXPECT_NE(std::find(actions.begin(), actions.end(), "streaming_start"), actions.end());
}

// A real-looking configuration: webhooks must carry Telnyx's Ed25519 signature.
class SignedServiceE2e : public ServiceE2eBase {
protected:
    void start_signed() {
        std::array<std::uint8_t, 32> seed{};
        seed.fill(7);
        auto keys = protocol::ed25519_keypair_from_seed(seed);
        ASSERT_TRUE(keys);
        keys_ = *keys;
        // The Call Control API points at a closed port: commands fail, which this test ignores.
        start({}, {{"TELNYX_API_KEY", "KEYtest0123456789abcdef"},
                   {"TELNYX_PUBLIC_KEY", keys_.public_key_base64()},
                   {"TELNYX_API_BASE", "http://127.0.0.1:9/v2"}});
    }

    std::string initiated_body(const std::string& event_id) {
        return json{{"data",
                     {{"record_type", "event"},
                      {"event_type", "call.initiated"},
                      {"id", event_id},
                      {"occurred_at", "2026-11-26T12:00:00.000000Z"},
                      {"payload",
                       {{"call_control_id", "v3:e2e-call"},
                        {"call_leg_id", "leg-1"},
                        {"call_session_id", "session-1"},
                        {"connection_id", "1494404757140276705"},
                        {"direction", "incoming"},
                        {"from", "+13125550100"},
                        {"to", "+13125550199"},
                        {"state", "parked"}}}}},
                    {"meta", {{"attempt", 1}, {"delivered_to", "http://127.0.0.1/webhooks/voice"}}}}
                .dump();
    }

    Reply post_webhook(const std::string& body, std::int64_t timestamp, bool forge = false) {
        const std::string stamp = std::to_string(timestamp);
        std::string signature = protocol::sign_webhook(stamp, body, keys_);
        if (forge) {
            signature = protocol::sign_webhook(stamp, body + " ", keys_);
        }
        return request("POST", "/webhooks/voice", body,
                       http::Headers{{"telnyx-signature-ed25519", signature},
                                     {"telnyx-timestamp", stamp}});
    }

    static std::int64_t now_s() {
        return std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                .count();
    }

    protocol::Ed25519KeyPair keys_;
};

TEST_F(SignedServiceE2e, RefusesToStartWithoutPublicKey) {
    const auto log = dir_ / "refused.log";
    test::ChildProcess child(DVD_EXECUTABLE, {"serve", "--port", "0"},
                             {{"TELNYX_API_KEY", "KEYtest0123456789abcdef"},
                              {"DATABASE_URL", "sqlite://" + (dir_ / "x.db").string()}},
                             log);
    EXPECT_EQ(child.wait_exit(30s), 2);
    EXPECT_NE(child.log().find("TELNYX_PUBLIC_KEY"), std::string::npos) << child.log();
}

TEST_F(SignedServiceE2e, ForgedOrStaleSignatureGets401AndValidOneIsAccepted) {
    start_signed();
    const std::string body = initiated_body("evt-e2e-1");
    EXPECT_EQ(post_webhook(body, now_s(), /*forge=*/true).status, 401);
    EXPECT_EQ(post_webhook(body, now_s() - 301).status, 401) << "older than 300 s";
    EXPECT_EQ(request("POST", "/webhooks/voice", body).status, 401) << "no signature headers";

    const Reply accepted = post_webhook(body, now_s());
    EXPECT_EQ(accepted.status, 200) << accepted.body;
    const Reply duplicate = post_webhook(body, now_s());
    EXPECT_EQ(duplicate.status, 200);
    EXPECT_EQ(duplicate.parsed()["status"], "duplicate");

    // The call exists exactly once.
    ASSERT_TRUE(test::eventually([&] { return calls()["total"] == 1; }, 10s)) << calls().dump();
    const Reply metrics = request("GET", "/metrics");
    EXPECT_NE(metrics.body.find("dvd_webhooks_total{result=\"bad_signature\"} 3\n"),
              std::string::npos)
            << metrics.body;
}

TEST_F(SignedServiceE2e, GarbageMediaFrameClosesOnlyItsStream) {
    start_signed();
    const std::string url = "ws://127.0.0.1:" + std::to_string(port_) + "/media";
    auto good = net::WsClient::connect(url, {}, 5s);
    ASSERT_TRUE(good) << good.error().message;
    auto bad = net::WsClient::connect(url, {}, 5s);
    ASSERT_TRUE(bad) << bad.error().message;

    ASSERT_TRUE(bad->send_text("{this is not json"));
    // The bad stream is closed by the service with a reason; receive() reports the close.
    bool closed = false;
    for (int i = 0; i < 50 && !closed; ++i) {
        auto message = bad->receive(100ms);
        closed = !message;
    }
    ASSERT_TRUE(closed);
    ASSERT_TRUE(bad->close_info());
    EXPECT_TRUE(bad->close_info()->code == 1007 || bad->close_info()->code == 1008)
            << bad->close_info()->code << " " << bad->close_info()->reason;

    // The other stream and the service are unaffected.
    EXPECT_TRUE(good->send_text(R"({"event":"connected","version":"1.0.0"})"));
    auto still_open = good->receive(300ms);
    EXPECT_TRUE(still_open) << "the good stream must stay open";
    EXPECT_EQ(request("GET", "/health").status, 200);
    EXPECT_TRUE(good->close(net::CloseCode::Normal, "done"));
}

// The service and the simulator as two processes, as a user runs them (`simulate`), and a crash
// of the service (SIGKILL) in the middle of a call: after the restart nothing acknowledged is
// lost, the call resumes when its webhooks return, no command is sent twice, and a new media
// stream scores the rest of the call.
TEST_P(ServiceE2e, RestartMidCallLosesNothing) {
    const TwoProcesses processes = two_processes();
    service_ = serve(processes, "service-1.log");
    ASSERT_TRUE(test::eventually([&] { return request("GET", "/health").status == 200; }, 30s))
            << service_->log();
    auto simulator = simulate(processes, "samples/synthetic-hifigan.wav");

    // Wait until the call streams and has scored a few windows, then crash the service.
    const auto [call_id, points_before] = wait_scoring(2);
    ASSERT_FALSE(call_id.empty()) << simulator->log();
    service_->signal(SIGKILL);
    ASSERT_TRUE(service_->wait_exit(10s));

    // Restart on the same port and database while the simulator retries its webhooks.
    service_ = serve(processes, "service-2.log");
    ASSERT_TRUE(test::eventually([&] { return request("GET", "/health").status == 200; }, 30s))
            << service_->log();
    const auto simulate_exit = simulator->wait_exit(60s);
    ASSERT_TRUE(simulate_exit) << simulator->log();

    ASSERT_TRUE(test::eventually(
            [&] { return request("GET", "/calls/" + call_id).parsed()["status"] == "ended"; }, 20s))
            << service_->log() << simulator->log();
    const json call = request("GET", "/calls/" + call_id).parsed();
    EXPECT_EQ(calls()["total"], 1) << "the restart created no second call";
    EXPECT_GE(call["timeline"].size(), points_before) << "no stored score was lost";
    EXPECT_EQ(call["hangup_cause"], "normal_clearing");
    ASSERT_FALSE(call["score"].is_null());
    EXPECT_TRUE(call["flagged"].get<bool>()) << "the synthetic call stays flagged";
    // The call's acoustic indicators cover the audio before the crash too (saved with the first
    // window): more than the 20 ms frames of the stream the restarted service opened.
    std::map<std::string, double> indicators;
    for (const json& row : call["indicators"]) {
        if (row["value"].is_number()) {
            indicators[row["name"].get<std::string>()] = row["value"].get<double>();
        }
    }
    ASSERT_TRUE(indicators.contains("analysed_s") && indicators.contains("frames_received"))
            << call["indicators"].dump(2);
    EXPECT_GT(indicators["analysed_s"], 0.02 * indicators["frames_received"] + 0.5)
            << call["indicators"].dump(2);
    std::map<std::string, int> sent = accepted_commands(call);
    EXPECT_EQ(sent["answer"], 1) << call["commands"].dump(2);
    // The stream died with the first process; the second one started a new stream, which picked
    // the caller up where they were and went on scoring the call.
    EXPECT_EQ(sent["streaming_start"], 2) << call["commands"].dump(2);
    EXPECT_GT(call["timeline"].size(), points_before) << "windows scored after the restart";
    // The recording, saved after the restart, was downloaded by the new process while the
    // simulator (which serves it) waited for the copy, and its summary says so.
    ASSERT_FALSE(call["recordings"].empty()) << call.dump(2);
    EXPECT_EQ(call["recordings"].back()["archive"]["status"], "stored") << call.dump(2);
    EXPECT_NE(simulator->log().find("recording: the service stored its copy"), std::string::npos)
            << simulator->log();
}

// A network failure between Telnyx and the service cuts the media stream in the middle of a
// call (the simulator drops the connection: no `stop`, no close frame). The service asks for a
// new stream at once, Telnyx picks the caller up where they are, and the rest of the call is
// scored on the same timeline.
TEST_P(ServiceE2e, ALostMediaStreamIsStartedAgainMidCall) {
    const TwoProcesses processes = two_processes();
    service_ = serve(processes, "service.log");
    ASSERT_TRUE(test::eventually([&] { return request("GET", "/health").status == 200; }, 30s))
            << service_->log();
    auto simulator = simulate(processes, "samples/synthetic-hifigan.wav");
    const auto [call_id, points_before] = wait_scoring(2);
    ASSERT_FALSE(call_id.empty()) << simulator->log();
    const json before = request("GET", "/calls/" + call_id).parsed();
    const std::string ccid = before["call_control_id"].get<std::string>();

    const Reply dropped = request("POST", "http://127.0.0.1:" + std::to_string(processes.sim_port)
                                                  + "/_sim/drop-stream/" + ccid);
    ASSERT_EQ(dropped.status, 200) << dropped.body << simulator->log();
    ASSERT_TRUE(simulator->wait_exit(60s)) << simulator->log();
    ASSERT_TRUE(test::eventually(
            [&] { return request("GET", "/calls/" + call_id).parsed()["status"] == "ended"; }, 20s))
            << service_->log() << simulator->log();
    const json call = request("GET", "/calls/" + call_id).parsed();
    const std::map<std::string, int> sent = accepted_commands(call);
    EXPECT_EQ(sent.at("streaming_start"), 2) << call["commands"].dump(2);
    EXPECT_EQ(sent.at("answer"), 1) << call["commands"].dump(2);
    EXPECT_GT(call["timeline"].size(), points_before) << "windows scored on the new stream";
    for (std::size_t i = 0; i < call["timeline"].size(); ++i) {
        EXPECT_EQ(call["timeline"][i]["seq"], static_cast<int>(i)) << "one timeline, no gap";
    }
    EXPECT_EQ(call["hangup_cause"], "normal_clearing");
    EXPECT_TRUE(call["flagged"].get<bool>()) << "the synthetic call is flagged";
    EXPECT_NE(service_->log().find("media stream lost call_id=" + call_id), std::string::npos)
            << service_->log();
    EXPECT_NE(request("GET", "/metrics").body.find("dvd_media_streams_restarted_total 1"),
              std::string::npos);
    EXPECT_NE(simulator->log().find("streams=2"), std::string::npos) << simulator->log();
}

// Telnyx cannot connect the call's first media stream (the simulator fails the connection as
// a refusing endpoint would: streaming.failed); the service asks for the stream again a few
// seconds later, and the second one is accepted and carries the rest of the call.
TEST_P(ServiceE2e, AStreamThatFailedToConnectIsAskedForAgain) {
    const TwoProcesses processes = two_processes();
    service_ = serve(processes, "service.log");
    ASSERT_TRUE(test::eventually([&] { return request("GET", "/health").status == 200; }, 30s))
            << service_->log();
    // Half speed: the 5.7 s recording lasts 11.4 s, longer than the retry delay (5-10 s).
    auto simulator = simulate(processes, "samples/synthetic-hifigan.wav",
                              {"--speed", "0.5", "--fail-stream-connects", "1"});
    ASSERT_TRUE(simulator->wait_exit(90s)) << simulator->log();
    const json list = calls();
    ASSERT_EQ(list["total"], 1) << list.dump(2);
    const json call =
            request("GET", "/calls/" + list["calls"][0]["id"].get<std::string>()).parsed();
    EXPECT_EQ(call["status"], "ended");
    EXPECT_EQ(accepted_commands(call).at("streaming_start"), 2) << call["commands"].dump(2);
    EXPECT_EQ(call["hangup_cause"], "normal_clearing");
    EXPECT_NE(simulator->log().find("streams=2"), std::string::npos) << simulator->log();
    EXPECT_NE(service_->log().find("media stream failed to connect call_id="), std::string::npos)
            << service_->log();
}

// Telnyx delivers webhooks more than once and out of order: duplicates of call.initiated and
// call.answered, and call.initiated held back until after call.answered, cause no second answer,
// greeting, stream or recording, and the call is still scored and ended normally.
TEST_P(ServiceE2e, DuplicateAndOutOfOrderWebhooksCauseNoDuplicateActions) {
    const std::string seed_hex(64, '5');
    const int service_port = test::free_loopback_port();
    const int sim_port = test::free_loopback_port();
    std::array<std::uint8_t, 32> seed{};
    seed.fill(0x55);
    auto keys = protocol::ed25519_keypair_from_seed(seed);
    ASSERT_TRUE(keys);
    service_ = std::make_unique<test::ChildProcess>(
            DVD_EXECUTABLE, std::vector<std::string>{"serve", "--workers", "2"},
            std::vector<std::pair<std::string, std::string>>{
                    {"TELNYX_API_KEY", "KEYtest0123456789abcdef"},
                    {"TELNYX_PUBLIC_KEY", keys->public_key_base64()},
                    {"TELNYX_API_BASE", "http://127.0.0.1:" + std::to_string(sim_port) + "/v2"},
                    {"PORT", std::to_string(service_port)},
                    {"DATABASE_URL", database_url()},
                    {"DVD_MODEL", (kSource / "models/detector.json").string()}},
            dir_ / "service.log", dir_);
    port_ = service_port;
    ASSERT_TRUE(test::eventually([&] { return request("GET", "/health").status == 200; }, 30s))
            << service_->log();

    test::ChildProcess simulator(
            DVD_EXECUTABLE,
            {"simulate", "--wav", (kSource / kSynthetic).string(), "--speed", "4", "--service",
             "http://127.0.0.1:" + std::to_string(service_port), "--api-port",
             std::to_string(sim_port), "--signing-seed", seed_hex, "--duplicate",
             "call.initiated", "--duplicate", "call.answered", "--duplicate", "call.hangup",
             "--out-of-order", "call.initiated"},
            {{"TELNYX_API_KEY", "KEYtest0123456789abcdef"}}, dir_ / "simulate.log");
    ASSERT_EQ(simulator.wait_exit(60s), 0) << simulator.log() << service_->log();

    ASSERT_TRUE(test::eventually([&] { return all_ended(1); }, 20s)) << calls().dump(2);
    EXPECT_EQ(calls()["total"], 1);
    const json call = request("GET", "/calls/" + calls()["calls"][0]["id"].get<std::string>())
                              .parsed();
    std::map<std::string, int> sent;
    for (const json& command : call["commands"]) {
        ++sent[command["command"].get<std::string>()];
    }
    EXPECT_EQ(sent, (std::map<std::string, int>{
                            {"answer", 1}, {"speak", 1}, {"streaming_start", 1}, {"record_start", 1}}))
            << call["commands"].dump(2);
    EXPECT_TRUE(call["flagged"].get<bool>());
    const Reply metrics = request("GET", "/metrics");
    EXPECT_EQ(metrics.body.find("dvd_webhooks_total{result=\"duplicate\"} 0\n"), std::string::npos)
            << "duplicates were seen and counted";
    EXPECT_NE(simulator.log().find("answer"), std::string::npos);
}

// One instance per database: a second `serve` on it refuses to start, naming the first, which
// goes on serving.
TEST_P(ServiceE2e, ASecondInstanceOnTheSameDatabaseRefusesToStart) {
    start({}, {});
    test::ChildProcess second(DVD_EXECUTABLE, {"serve", "--port", "0", "--lock-wait", "0.5"},
                              {{"DATABASE_URL", database_url()},
                               {"DVD_MODEL", (kSource / "models/detector.json").string()}},
                              dir_ / "second.log", dir_);
    EXPECT_EQ(second.wait_exit(30s), 2);
    EXPECT_NE(second.log().find("another instance holds this database"), std::string::npos)
            << second.log();
    EXPECT_EQ(request("GET", "/ready").status, 200);
    EXPECT_NE(service_->log().find("this instance holds the database"), std::string::npos);
}

// PostgreSQL: an instance whose lock session was cut, and whose lock a standby took meanwhile,
// stops (exit status 1) instead of running beside it.
TEST_P(ServiceE2e, AnInstanceWhoseDatabaseWasTakenStopsWithStatusOne) {
    if (GetParam() != test::Backend::Postgres) {
        GTEST_SKIP() << "a SQLite lock file is held as long as its process lives";
    }
    start({}, {});
    PGconn* admin = PQconnectdb(database_url().c_str());
    ASSERT_EQ(PQstatus(admin), CONNECTION_OK) << PQerrorMessage(admin);
    std::unique_ptr<store::InstanceLock> taken;
    // The service checks its lock every 5 s: end its session and take the lock in between
    // (again, should a check fall just between the two).
    for (int attempt = 0; attempt < 3 && !taken; ++attempt) {
        PQclear(PQexec(admin, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE "
                              "locktype = 'advisory' AND classid = 1685480497 AND "
                              "objid = 1768846196 AND granted"));
        auto lock = store::acquire_instance_lock(database_url(), {.wait = 1s});
        if (lock) {
            taken = std::move(*lock);
        }
    }
    PQfinish(admin);
    ASSERT_NE(taken, nullptr);
    EXPECT_EQ(service_->wait_exit(30s), 1) << service_->log();
    EXPECT_NE(service_->log().find("another instance took this database"), std::string::npos)
            << service_->log();
}

INSTANTIATE_TEST_SUITE_P(Backends, ServiceE2e, ::testing::ValuesIn(test::e2e_backends()),
                         test::backend_name);

}  // namespace
}  // namespace dvd

#include "telnyx/call_control_client.hpp"

#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/fake_sleeper.hpp"
#include "support/loopback_server.hpp"

namespace dvd::telnyx {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::FakeSleeper;
using test::LoopbackServer;
using test::ScriptedResponse;

constexpr std::string_view kCallId = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg";
constexpr std::string_view kApiKey = "KEY0123456789ABCDEF_test";
constexpr std::uint64_t kSeed = 1234;

const char* const kOk = R"({"data":{"result":"ok"}})";
const char* const kCallEnded =
        R"({"errors":[{"code":"90018","title":"Call has already ended",)"
        R"("detail":"This call is no longer active and can't receive commands."}]})";
const char* const kUnauthorized =
        R"({"errors":[{"code":"10009","title":"Authentication failed","detail":"The required )"
        R"(authentication headers were either invalid or not included in the request.",)"
        R"("meta":{"url":"https://developers.telnyx.com/docs/overview/errors/10009"}}]})";

std::string command_id_of(const test::ReceivedRequest& request) {
    return json::parse(request.body).at("command_id").get<std::string>();
}

class CallControlClientTest : public ::testing::Test {
protected:
    CallControlClientTest() : client_(options(), http_, sleeper_, kSeed) {}

    CallControlOptions options() const {
        CallControlOptions o;
        o.api_base = server_.url("/v2/");  // the trailing slash must not double up
        o.api_key = std::string(kApiKey);
        o.request_timeout = 2s;
        o.retry.max_attempts = 3;
        o.retry.base_delay = 100ms;
        o.retry.max_delay = 1s;
        return o;
    }

    static http::HttpClientOptions http_options() {
        http::HttpClientOptions o;
        o.proxy = "";
        return o;
    }

    static protocol::AnswerCommand answer_command() {
        protocol::AnswerCommand c;
        c.stream = protocol::StreamOptions{.stream_url = "wss://dvd.example/media",
                                           .track = protocol::StreamTrack::InboundTrack};
        c.client_state = "eyJhIjoxfQ==";
        return c;
    }

    LoopbackServer server_;
    http::HttpClient http_{http_options()};
    FakeSleeper sleeper_;
    CallControlClient client_;
};

TEST_F(CallControlClientTest, AnswerSendsTheExactPathHeadersAndBody) {
    server_.push({.status = 200, .body = kOk});
    const auto outcome = client_.answer(kCallId, answer_command());

    EXPECT_EQ(outcome.status, CommandStatus::Ok) << outcome.message;
    EXPECT_TRUE(outcome.is_normal());
    EXPECT_EQ(outcome.action, "answer");
    EXPECT_EQ(outcome.http_status, 200);
    EXPECT_EQ(outcome.attempts, 1);
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 1u);
    const auto& r = requests[0];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/v2/calls/" + std::string(kCallId) + "/actions/answer");
    EXPECT_EQ(r.header("Authorization"), "Bearer " + std::string(kApiKey));
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.header("Accept"), "application/json");

    // The body is exactly the protocol layer's, with the generated command_id.
    EXPECT_EQ(command_id_of(r), outcome.command_id);
    auto expected_command = answer_command();
    expected_command.command_id = outcome.command_id;
    const auto expected = protocol::build_answer(kCallId, expected_command);
    ASSERT_TRUE(expected);
    EXPECT_EQ(r.body, expected->body);
    EXPECT_EQ(r.header("Content-Length"), std::to_string(expected->body.size()));
}

TEST_F(CallControlClientTest, CommandIdsAreFreshUuidV4PerLogicalCommand) {
    const std::regex uuid_v4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    std::set<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        server_.push({.status = 200, .body = kOk});
        const auto outcome = client_.hangup(kCallId, {});
        EXPECT_EQ(outcome.status, CommandStatus::Ok) << outcome.message;
        EXPECT_TRUE(std::regex_match(outcome.command_id, uuid_v4)) << outcome.command_id;
        ids.insert(outcome.command_id);
    }
    EXPECT_EQ(ids.size(), 3u);
    for (const auto& r : server_.requests()) {
        EXPECT_EQ(ids.count(command_id_of(r)), 1u);
    }
}

TEST_F(CallControlClientTest, SameSeedGivesTheSameIds) {
    FakeSleeper sleeper;
    CallControlClient a(options(), http_, sleeper, 99);
    CallControlClient b(options(), http_, sleeper, 99);
    CallControlClient c(options(), http_, sleeper, 100);
    const auto id = a.next_command_id();
    EXPECT_EQ(id, b.next_command_id());
    EXPECT_NE(id, c.next_command_id());
}

TEST_F(CallControlClientTest, CallerChosenCommandIdIsKept) {
    server_.push({.status = 200, .body = kOk});
    protocol::HangupCommand c;
    c.command_id = "persisted-id-7";
    const auto outcome = client_.hangup(kCallId, c);
    EXPECT_EQ(outcome.command_id, "persisted-id-7");
    EXPECT_EQ(command_id_of(server_.requests().at(0)), "persisted-id-7");
}

TEST_F(CallControlClientTest, ServerErrorIsRetriedWithTheSameCommandId) {
    server_.push({.status = 500, .body = "upstream failure"});
    server_.push({.status = 502});
    server_.push({.status = 200, .body = kOk});
    const auto outcome =
            client_.speak(kCallId, {.payload = "Hello", .voice = "Telnyx.KokoroTTS.af"});
    EXPECT_EQ(outcome.status, CommandStatus::Ok) << outcome.message;
    EXPECT_EQ(outcome.attempts, 3);
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 3u);
    for (const auto& r : requests) {
        EXPECT_EQ(r.target, "/v2/calls/" + std::string(kCallId) + "/actions/speak");
        EXPECT_EQ(command_id_of(r), outcome.command_id);
        EXPECT_EQ(r.body, requests[0].body);
    }
    EXPECT_EQ(sleeper_.waits.size(), 2u);
}

TEST_F(CallControlClientTest, RateLimitedCommandWaitsAsTelnyxAsks) {
    server_.push({.status = 429,
                  .headers = {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "2"}},
                  .body = R"({"errors":[{"code":"10011","title":"Too many requests"}]})"});
    server_.push({.status = 200, .body = kOk});
    const auto outcome = client_.record_start(kCallId, {});
    EXPECT_EQ(outcome.status, CommandStatus::Ok) << outcome.message;
    EXPECT_EQ(outcome.attempts, 2);
    EXPECT_EQ(sleeper_.waits, std::vector<std::chrono::milliseconds>{2s});
}

TEST_F(CallControlClientTest, PersistentServerErrorsAreReportedWithTheLastReply) {
    for (int i = 0; i < 3; ++i) {
        server_.push({.status = 503,
                      .body = R"({"errors":[{"code":"10007","title":"Unexpected error"}]})"});
    }
    const auto outcome = client_.streaming_stop(kCallId, {});
    EXPECT_EQ(outcome.status, CommandStatus::RetriesExhausted);
    EXPECT_FALSE(outcome.is_normal());
    EXPECT_EQ(outcome.http_status, 503);
    EXPECT_EQ(outcome.attempts, 3);
    EXPECT_EQ(outcome.error_code, "10007");
    EXPECT_EQ(outcome.message, "streaming_stop: HTTP 503 10007 Unexpected error after 3 attempts");
}

TEST_F(CallControlClientTest, CallAlreadyEndedIsANormalOutcomeAndNotRetried) {
    server_.push({.status = 422, .body = kCallEnded});
    const auto outcome = client_.hangup(kCallId, {});
    EXPECT_EQ(outcome.status, CommandStatus::CallEnded);
    EXPECT_TRUE(outcome.is_normal());
    EXPECT_EQ(outcome.http_status, 422);
    EXPECT_EQ(outcome.attempts, 1);
    EXPECT_EQ(outcome.error_code, "90018");
    EXPECT_EQ(outcome.error_title, "Call has already ended");
    EXPECT_EQ(outcome.error_detail, "This call is no longer active and can't receive commands.");
    EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(CallControlClientTest, UnauthorizedIsSurfacedWithTelnyxErrorAndNotRetried) {
    server_.push({.status = 401, .body = kUnauthorized});
    const auto outcome = client_.answer(kCallId, answer_command());
    EXPECT_EQ(outcome.status, CommandStatus::Rejected);
    EXPECT_FALSE(outcome.is_normal());
    EXPECT_EQ(outcome.http_status, 401);
    EXPECT_EQ(outcome.attempts, 1);
    EXPECT_EQ(outcome.error_code, "10009");
    EXPECT_EQ(outcome.error_title, "Authentication failed");
    EXPECT_NE(outcome.error_detail.find("authentication headers"), std::string::npos);
    EXPECT_EQ(outcome.message, "answer: HTTP 401 10009 Authentication failed after 1 attempt");
    EXPECT_EQ(outcome.message.find(kApiKey), std::string::npos);
    EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(CallControlClientTest, OtherClientErrorsAreNotRetried) {
    server_.push({.status = 422,
                  .body = R"({"errors":[{"code":"90034","title":"Call not answered yet"}]})"});
    server_.push({.status = 404, .body = R"({"errors":[{"code":"10005","title":"Not found"}]})"});
    server_.push({.status = 400, .body = "not json"});
    const auto a = client_.record_stop(kCallId, {});
    const auto b = client_.playback_start(kCallId, {.audio_url = "https://x/a.mp3"});
    const auto c = client_.hangup(kCallId, {});
    EXPECT_EQ(a.status, CommandStatus::Rejected);
    EXPECT_EQ(a.error_code, "90034");
    EXPECT_EQ(b.status, CommandStatus::Rejected);
    EXPECT_EQ(b.http_status, 404);
    EXPECT_EQ(c.status, CommandStatus::Rejected);
    EXPECT_EQ(c.http_status, 400);
    EXPECT_TRUE(c.error_code.empty());
    EXPECT_EQ(c.message, "hangup: HTTP 400 after 1 attempt");
    EXPECT_EQ(server_.requests().size(), 3u);
    EXPECT_TRUE(sleeper_.waits.empty());
}

TEST_F(CallControlClientTest, EveryActionHitsItsDocumentedPath) {
    for (int i = 0; i < 9; ++i) {
        server_.push({.status = 200, .body = kOk});
    }
    protocol::StreamingStartCommand streaming;
    streaming.stream.stream_url = "wss://dvd.example/media";
    EXPECT_TRUE(client_.answer(kCallId, {}).is_normal());
    EXPECT_TRUE(
            client_.speak(kCallId, {.payload = "Hi", .voice = "Telnyx.KokoroTTS.af"}).is_normal());
    EXPECT_TRUE(client_.streaming_start(kCallId, streaming).is_normal());
    EXPECT_TRUE(client_.streaming_stop(kCallId, {}).is_normal());
    EXPECT_TRUE(client_.record_start(kCallId, {}).is_normal());
    EXPECT_TRUE(client_.record_stop(kCallId, {}).is_normal());
    EXPECT_TRUE(client_.hangup(kCallId, {}).is_normal());
    EXPECT_TRUE(client_.transfer(kCallId, {.to = "+13125550100"}).is_normal());
    EXPECT_TRUE(client_.playback_start(kCallId, {.media_name = "notice"}).is_normal());
    const std::vector<std::string> actions = {"answer",         "speak",        "streaming_start",
                                              "streaming_stop", "record_start", "record_stop",
                                              "hangup",         "transfer",     "playback_start"};
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), actions.size());
    for (std::size_t i = 0; i < actions.size(); ++i) {
        EXPECT_EQ(requests[i].target,
                  "/v2/calls/" + std::string(kCallId) + "/actions/" + actions[i]);
    }
}

TEST_F(CallControlClientTest, CallControlIdIsPercentEncodedExceptColon) {
    server_.push({.status = 200, .body = kOk});
    EXPECT_TRUE(client_.hangup("v3:a/b c", {}).is_normal());
    EXPECT_EQ(server_.requests().at(0).target, "/v2/calls/v3:a%2Fb%20c/actions/hangup");
}

TEST_F(CallControlClientTest, AnswerReportsTheRecordingId) {
    server_.push({.status = 200, .body = R"({"data":{"result":"ok","recording_id":"rec-1"}})"});
    const auto outcome = client_.answer(kCallId, {});
    EXPECT_EQ(outcome.status, CommandStatus::Ok);
    EXPECT_EQ(outcome.recording_id, "rec-1");
}

TEST_F(CallControlClientTest, InvalidCommandIsNotSent) {
    const auto outcome = client_.speak(kCallId, {.payload = "", .voice = "Telnyx.KokoroTTS.af"});
    EXPECT_EQ(outcome.status, CommandStatus::InvalidCommand);
    EXPECT_EQ(outcome.attempts, 0);
    EXPECT_NE(outcome.message.find("payload"), std::string::npos) << outcome.message;
    const auto empty_id = client_.hangup("", {});
    EXPECT_EQ(empty_id.status, CommandStatus::InvalidCommand);
    EXPECT_TRUE(server_.requests().empty());
}

TEST_F(CallControlClientTest, DialPostsToCallsAndReturnsTheNewCall) {
    server_.push({.status = 200,
                  .body = R"({"data":{"call_control_id":"v3:new","call_leg_id":"leg-1",)"
                          R"("call_session_id":"sess-1","is_alive":false,"record_type":"call"}})"});
    protocol::DialCommand dial;
    dial.to = "+13125550100";
    dial.from = "+18005551234";
    dial.connection_id = "1494404757140276705";
    const auto result = client_.dial(dial);
    EXPECT_EQ(result.outcome.status, CommandStatus::Ok) << result.outcome.message;
    EXPECT_EQ(result.outcome.action, "dial");
    EXPECT_EQ(result.call.call_control_id, "v3:new");
    EXPECT_EQ(result.call.call_leg_id, "leg-1");
    EXPECT_EQ(result.call.call_session_id, "sess-1");
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].method, "POST");
    EXPECT_EQ(requests[0].target, "/v2/calls");
    EXPECT_EQ(requests[0].header("authorization"), "Bearer " + std::string(kApiKey));
    dial.command_id = result.outcome.command_id;
    EXPECT_EQ(requests[0].body, protocol::build_dial(dial)->body);
}

TEST_F(CallControlClientTest, DialReplyWithoutCallIdIsABadReply) {
    server_.push({.status = 200, .body = R"({"data":{}})"});
    const auto result = client_.dial(
            {.to = "+13125550100", .from = "+18005551234", .connection_id = "1494404757140276705"});
    EXPECT_EQ(result.outcome.status, CommandStatus::BadReply);
    EXPECT_FALSE(result.outcome.is_normal());
}

TEST_F(CallControlClientTest, CallStatusIsAGetThatReadsIsAlive) {
    server_.push({.status = 503, .body = "{}"});
    server_.push({.status = 200, .body = R"({"data":{"is_alive":false,"call_duration":12}})"});
    const auto result = client_.call_status("v3:abc");
    EXPECT_EQ(result.outcome.status, CommandStatus::Ok) << result.outcome.message;
    EXPECT_EQ(result.outcome.attempts, 2) << "retried like a command";
    EXPECT_FALSE(result.call.is_alive);
    EXPECT_EQ(result.call.call_duration_s, 12);
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[1].method, "GET");
    EXPECT_EQ(requests[1].target, "/v2/calls/v3:abc");
    EXPECT_EQ(requests[1].header("authorization"), "Bearer " + std::string(kApiKey));

    // Gone (404) is a final refusal the caller can tell apart; a body without is_alive is bad.
    server_.push({.status = 404,
                  .body = R"({"errors":[{"code":"10005","title":"Resource not found"}]})"});
    const auto gone = client_.call_status("v3:old");
    EXPECT_EQ(gone.outcome.status, CommandStatus::Rejected);
    EXPECT_EQ(gone.outcome.http_status, 404);
    server_.push({.status = 200, .body = R"({"data":{}})"});
    EXPECT_EQ(client_.call_status("v3:abc").outcome.status, CommandStatus::BadReply);
    EXPECT_EQ(client_.call_status("").outcome.status, CommandStatus::InvalidCommand);
}

TEST_F(CallControlClientTest, DialsPerSecondLimitIsRetried) {
    server_.push({.status = 429,
                  .headers = {{"Retry-After", "1"}},
                  .body = R"({"errors":[{"code":"90103","title":"Dials per second exceeded"}]})"});
    server_.push({.status = 200, .body = R"({"data":{"call_control_id":"v3:x"}})"});
    const auto result = client_.dial(
            {.to = "+13125550100", .from = "+18005551234", .connection_id = "1494404757140276705"});
    EXPECT_EQ(result.outcome.status, CommandStatus::Ok) << result.outcome.message;
    EXPECT_EQ(result.outcome.attempts, 2);
    EXPECT_EQ(sleeper_.waits, std::vector<std::chrono::milliseconds>{1s});
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(command_id_of(requests[0]), command_id_of(requests[1]));
}

TEST_F(CallControlClientTest, ShutdownDuringBackoffIsCancelled) {
    server_.push({.status = 500});
    sleeper_.cancel = true;
    const auto outcome = client_.hangup(kCallId, {});
    EXPECT_EQ(outcome.status, CommandStatus::Cancelled);
    EXPECT_EQ(outcome.attempts, 1);
}

TEST(CallControlClient, UnreachableApiIsATransportErrorAfterRetries) {
    http::HttpClientOptions http_options;
    http_options.proxy = "";
    http::HttpClient http(http_options);
    FakeSleeper sleeper;
    CallControlOptions options;
    options.api_base = "http://127.0.0.1:" + std::to_string(LoopbackServer::closed_port()) + "/v2";
    options.api_key = std::string(kApiKey);
    options.retry.max_attempts = 2;
    CallControlClient client(options, http, sleeper, kSeed);
    const auto outcome = client.hangup(kCallId, {});
    EXPECT_EQ(outcome.status, CommandStatus::TransportError);
    EXPECT_EQ(outcome.http_status, 0);
    EXPECT_EQ(outcome.attempts, 2);
    EXPECT_NE(outcome.message.find("hangup: POST http://127.0.0.1:"), std::string::npos)
            << outcome.message;
    EXPECT_NE(outcome.message.find("after 2 attempts"), std::string::npos) << outcome.message;
}

TEST(CallControlOptions, ValidateNamesTheProblem) {
    CallControlOptions ok;
    ok.api_key = "KEY123";
    EXPECT_TRUE(validate(ok));

    auto no_key = ok;
    no_key.api_key = "";
    ASSERT_FALSE(validate(no_key));
    EXPECT_NE(validate(no_key).error().message.find("api_key"), std::string::npos);

    auto spaced_key = ok;
    spaced_key.api_key = "KEY 123";
    EXPECT_FALSE(validate(spaced_key));

    auto bad_base = ok;
    bad_base.api_base = "ftp://api.telnyx.com/v2";
    ASSERT_FALSE(validate(bad_base));
    EXPECT_NE(validate(bad_base).error().message.find("api_base"), std::string::npos);

    auto no_host = ok;
    no_host.api_base = "https://";
    EXPECT_FALSE(validate(no_host));

    auto zero_timeout = ok;
    zero_timeout.request_timeout = 0ms;
    EXPECT_FALSE(validate(zero_timeout));

    auto bad_retry = ok;
    bad_retry.retry.max_attempts = 0;
    EXPECT_FALSE(validate(bad_retry));
}

TEST(CommandStatus, Names) {
    EXPECT_EQ(to_string(CommandStatus::Ok), "ok");
    EXPECT_EQ(to_string(CommandStatus::CallEnded), "call_ended");
    EXPECT_EQ(to_string(CommandStatus::RetriesExhausted), "retries_exhausted");
}

}  // namespace
}  // namespace dvd::telnyx

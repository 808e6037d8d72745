#include "api/handlers.hpp"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api_test_support.hpp"

namespace dvd::api {
namespace {

using Json = nlohmann::json;
using test::get;
using test::kT0;

class HandlersTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto opened = store::SqliteStore::open((dir_.path() / "api.db").string());
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(*opened);
        test::seed(*store_);
    }

    Json list(std::vector<net::Field> query, int expected_status = 200) {
        const auto response = list_calls(get("/calls", std::move(query)), *store_);
        EXPECT_EQ(response.status, expected_status) << response.body;
        EXPECT_EQ(response.content_type, "application/json");
        return Json::parse(response.body);
    }

    static std::vector<std::string> ids(const Json& body) {
        std::vector<std::string> out;
        for (const auto& call : body["calls"]) {
            out.push_back(call["id"].get<std::string>());
        }
        return out;
    }

    media::test::TempDir dir_;
    std::unique_ptr<store::Store> store_;
};

using Ids = std::vector<std::string>;

TEST_F(HandlersTest, ListsNewestFirstWithTotalsAndPages) {
    const Json all = list({});
    EXPECT_EQ(ids(all), (Ids{"call-c", "call-b", "call-a"}));
    EXPECT_EQ(all["total"], 3);
    EXPECT_EQ(all["limit"], 50);
    EXPECT_EQ(all["offset"], 0);
    const Json page = list({{"limit", "1"}, {"offset", "1"}});
    EXPECT_EQ(ids(page), Ids{"call-b"});
    EXPECT_EQ(page["total"], 3);
    EXPECT_EQ(ids(list({{"order", "asc"}})), (Ids{"call-a", "call-b", "call-c"}));
}

TEST_F(HandlersTest, FiltersAndSorts) {
    EXPECT_EQ(ids(list({{"status", "ended"}})), Ids{"call-a"});
    EXPECT_EQ(ids(list({{"flagged", "true"}})), Ids{"call-a"});
    EXPECT_EQ(ids(list({{"flagged", "false"}})), (Ids{"call-c", "call-b"}));
    EXPECT_EQ(list({{"flagged", "false"}})["total"], 2);
    EXPECT_EQ(ids(list({{"since", "2027-01-15T08:01:00Z"}})), (Ids{"call-c", "call-b"}));
    EXPECT_EQ(ids(list({{"since", std::to_string(kT0 + 60'001)}})), Ids{"call-c"});
    EXPECT_EQ(ids(list({{"since", "2027-01-15T09:01:00+01:00"}})), (Ids{"call-c", "call-b"}));
    // Unscored calls sort last in both orders.
    EXPECT_EQ(ids(list({{"sort", "score"}})), (Ids{"call-a", "call-b", "call-c"}));
    EXPECT_EQ(ids(list({{"sort", "score"}, {"order", "asc"}})),
              (Ids{"call-b", "call-a", "call-c"}));
}

TEST_F(HandlersTest, BadParametersAre400WithTheParameterNamed) {
    for (const auto& [name, value] : std::vector<net::Field>{{"limit", "0"},
                                                             {"limit", "1001"},
                                                             {"limit", "ten"},
                                                             {"offset", "-1"},
                                                             {"status", "ringing"},
                                                             {"flagged", "maybe"},
                                                             {"since", "yesterday"},
                                                             {"since", "2027-02-30T00:00:00Z"},
                                                             {"sort", "name"},
                                                             {"order", "up"}}) {
        const Json body = list({{name, value}}, 400);
        EXPECT_EQ(body["error"]["code"], "invalid_parameter");
        EXPECT_EQ(body["error"]["message"].get<std::string>().rfind(name + ":", 0), 0u)
                << body.dump();
    }
}

TEST_F(HandlersTest, CallJsonHasEveryFieldAndNoSecrets) {
    const Json call = list({{"status", "ended"}})["calls"][0];
    EXPECT_EQ(call["call_control_id"], "v3:ctl-a");
    EXPECT_EQ(call["direction"], "inbound");
    EXPECT_EQ(call["status"], "ended");
    EXPECT_EQ(call["started_at"], "2027-01-15T08:00:00.000Z");
    EXPECT_EQ(call["answered_at"], "2027-01-15T08:00:01.250Z");
    EXPECT_EQ(call["duration_seconds"], 41.25);
    EXPECT_EQ(call["score"], 0.91);
    EXPECT_EQ(call["verdict"], "synthetic");
    EXPECT_EQ(call["flagged"], true);
    EXPECT_EQ(call["stir_shaken"]["attestation"], "A");
    EXPECT_TRUE(call["telnyx_deepfake"]["result"].is_null());
    EXPECT_EQ(call.dump().find("never-shown-secret"), std::string::npos);
    const Json c = list({{"status", "initiated"}})["calls"][0];
    EXPECT_TRUE(c["score"].is_null());
    EXPECT_TRUE(c["ended_at"].is_null());
    EXPECT_TRUE(c["call_leg_id"].is_null());
}

TEST_F(HandlersTest, GetCallByOurIdOrTelnyxId) {
    for (const char* id : {"call-a", "v3:ctl-a"}) {
        net::Request request = get(std::string("/calls/") + id);
        request.path_params = {{"id", id}};
        const auto response = get_call(request, *store_, 10'000);
        ASSERT_EQ(response.status, 200) << response.body;
        const Json body = Json::parse(response.body);
        EXPECT_EQ(body["id"], "call-a");
        ASSERT_EQ(body["timeline"].size(), 3u);
        EXPECT_EQ(body["timeline"][1]["seq"], 1);
        EXPECT_EQ(body["timeline"][1]["window_score"], 0.97);
        EXPECT_EQ(body["timeline_truncated"], false);
        ASSERT_EQ(body["alerts"].size(), 1u);
        EXPECT_EQ(body["alerts"][0]["status"], "sent");
        EXPECT_EQ(body["alerts"][0]["channel"], "slack");
        ASSERT_EQ(body["recordings"].size(), 1u);
        EXPECT_EQ(body["recordings"][0]["urls"]["wav"], "https://recordings.example/rec-a.wav");
        ASSERT_EQ(body["commands"].size(), 2u);
        EXPECT_EQ(body["commands"][1]["command"], "streaming_start");
        // Neither the call's token nor the command body that carried it is shown.
        EXPECT_EQ(response.body.find("never-shown-secret"), std::string::npos);
    }
}

TEST_F(HandlersTest, RecordingCopyIsDescribedAndServedOnceStored) {
    net::Request call_request = get("/calls/call-a");
    call_request.path_params = {{"id", "call-a"}};
    net::Request audio = get("/calls/call-a/recordings/1/audio");
    audio.path_params = {{"id", "call-a"}, {"recording", "1"}};
    const auto recordings_dir = dir_.path() / "recordings";
    ASSERT_TRUE(store_->update_recording_archive(1, store::RecordingArchive{}));

    // Pending: described, not served; with downloads off it says so.
    Json archive = Json::parse(get_call(call_request, *store_, 10).body)["recordings"][0]["archive"];
    EXPECT_EQ(archive["status"], "pending");
    EXPECT_TRUE(archive["audio_url"].is_null());
    EXPECT_EQ(Json::parse(get_call(call_request, *store_, 10, false).body)["recordings"][0]
                      ["archive"]["status"],
              "off");
    auto response = recording_audio(audio, *store_, recordings_dir);
    EXPECT_EQ(response.status, 404);
    EXPECT_EQ(Json::parse(response.body)["error"]["code"], "not_archived");
    EXPECT_TRUE(response.file_path.empty());

    const auto id = (*store_->list_recordings("call-a"))[0].id;
    ASSERT_EQ(id, 1);
    ASSERT_TRUE(store_->update_recording_archive(
            id, store::RecordingArchive{.status = store::ArchiveStatus::Stored,
                                        .attempts = 1,
                                        .file = "call-a/1.wav",
                                        .bytes = 44,
                                        .sha256 = std::string(64, 'a'),
                                        .stored_at_ms = test::kT0 + 46'000}));
    archive = Json::parse(get_call(call_request, *store_, 10).body)["recordings"][0]["archive"];
    EXPECT_EQ(archive["status"], "stored");
    EXPECT_EQ(archive["bytes"], 44);
    EXPECT_EQ(archive["sha256"], std::string(64, 'a'));
    EXPECT_EQ(archive["audio_url"], "/calls/call-a/recordings/1/audio");
    response = recording_audio(audio, *store_, recordings_dir);
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.content_type, "audio/wav");
    EXPECT_EQ(response.file_path, (recordings_dir / "call-a/1.wav").string());

    // By Telnyx's id too; unknown recordings and calls are 404 not_found.
    audio.path_params = {{"id", "v3:ctl-a"}, {"recording", "1"}};
    EXPECT_EQ(recording_audio(audio, *store_, recordings_dir).status, 200);
    for (const auto& [call, recording] : std::vector<std::pair<std::string, std::string>>{
                 {"call-a", "2"}, {"call-a", "x"}, {"call-a", ""}, {"nope", "1"}, {"call-b", "1"}}) {
        audio.path_params = {{"id", call}, {"recording", recording}};
        response = recording_audio(audio, *store_, recordings_dir);
        EXPECT_EQ(response.status, 404) << call << "/" << recording;
        EXPECT_EQ(Json::parse(response.body)["error"]["code"], "not_found");
    }

    // A row pointing outside the folder is never served.
    ASSERT_TRUE(store_->update_recording_archive(
            id, store::RecordingArchive{.status = store::ArchiveStatus::Stored,
                                        .file = "../../etc/passwd"}));
    audio.path_params = {{"id", "call-a"}, {"recording", "1"}};
    response = recording_audio(audio, *store_, recordings_dir);
    EXPECT_EQ(response.status, 404);
    EXPECT_TRUE(response.file_path.empty());
}

TEST_F(HandlersTest, TimelineIsCappedAndSaysSo) {
    net::Request request = get("/calls/call-a");
    request.path_params = {{"id", "call-a"}};
    const Json body = Json::parse(get_call(request, *store_, 2).body);
    EXPECT_EQ(body["timeline"].size(), 2u);
    EXPECT_EQ(body["timeline_truncated"], true);
}

TEST_F(HandlersTest, UnknownCallIs404) {
    net::Request request = get("/calls/nope");
    request.path_params = {{"id", "nope"}};
    const auto response = get_call(request, *store_, 10);
    EXPECT_EQ(response.status, 404);
    EXPECT_EQ(Json::parse(response.body)["error"]["code"], "not_found");
}

TEST(CheckBearer, OpenWithoutATokenElseNeedsTheRightOne) {
    net::Request request = get("/calls");
    EXPECT_FALSE(check_bearer(request, ""));
    auto missing = check_bearer(request, "0123456789abcdef");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 401);
    EXPECT_EQ(Json::parse(missing->body)["error"]["code"], "unauthorized");
    ASSERT_EQ(missing->headers.size(), 1u);
    EXPECT_EQ(missing->headers[0].first, "WWW-Authenticate");
    request.headers = {{"authorization", "Bearer wrong-token-wrong!"}};
    EXPECT_TRUE(check_bearer(request, "0123456789abcdef"));
    request.headers = {{"authorization", "Basic 0123456789abcdef"}};
    EXPECT_TRUE(check_bearer(request, "0123456789abcdef"));
    request.headers = {{"authorization", "bearer 0123456789abcdef"}};
    EXPECT_FALSE(check_bearer(request, "0123456789abcdef"));
    request.headers = {{"authorization", "Bearer 0123456789abcdef"}};
    EXPECT_FALSE(check_bearer(request, "0123456789abcdef"));
}

TEST(DialRequest, ValidatesTheBody) {
    net::Request request;
    request.method = net::Method::Post;
    const auto status = [&](std::string body) {
        request.body = std::move(body);
        auto parsed = parse_dial_request(request);
        if (auto* response = std::get_if<net::Response>(&parsed)) {
            return response->status;
        }
        return 0;
    };
    EXPECT_EQ(status(R"({"to":"+13125550142"})"), 0);
    EXPECT_EQ(status("not json"), 400);
    EXPECT_EQ(status("[1]"), 400);
    EXPECT_EQ(status("{}"), 422);
    EXPECT_EQ(status(R"({"to":13125550142})"), 422);
    EXPECT_EQ(status(R"({"to":"13125550142"})"), 422);
    EXPECT_EQ(status(R"({"to":"+0125550142"})"), 422);
    EXPECT_EQ(status(R"({"to":"+1312555014212345"})"), 422);
    EXPECT_EQ(status(std::string(5000, ' ') + R"({"to":"+13125550142"})"), 413);
    request.body = R"({"to":"+13125550142","extra":1})";
    EXPECT_EQ(std::get<std::string>(parse_dial_request(request)), "+13125550142");
}

TEST(PublicBaseUrl, FromHostAndForwardedHeaders) {
    net::Request request;
    EXPECT_EQ(public_base_url(request), "");
    request.headers = {{"host", "detector.example:5000"}};
    EXPECT_EQ(public_base_url(request), "http://detector.example:5000");
    request.headers = {{"host", "internal:5000"},
                       {"x-forwarded-host", "abc.ngrok.example"},
                       {"x-forwarded-proto", "https"}};
    EXPECT_EQ(public_base_url(request), "https://abc.ngrok.example");
    request.headers = {{"host", "evil.example/path?x"}};
    EXPECT_EQ(public_base_url(request), "");
}

TEST(Times, FormatAndParseMilliseconds) {
    EXPECT_EQ(format_time_ms(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_time_ms(kT0 + 123), "2027-01-15T08:00:00.123Z");
    EXPECT_EQ(format_time_ms(951'782'400'000), "2000-02-29T00:00:00.000Z");
    EXPECT_EQ(parse_time_ms("2027-01-15T08:00:00.123Z"), kT0 + 123);
    EXPECT_EQ(parse_time_ms("2027-01-15T08:00:00.1234567Z"), kT0 + 123);
    EXPECT_EQ(parse_time_ms("2027-01-15T08:00:00.5Z"), kT0 + 500);
    EXPECT_EQ(parse_time_ms("2027-01-15T03:00:00-05:00"), kT0);
    EXPECT_EQ(parse_time_ms("1800000000000"), kT0);
    EXPECT_FALSE(parse_time_ms("2027-01-15"));
    EXPECT_FALSE(parse_time_ms("2027-01-15T08:00:00"));
    EXPECT_FALSE(parse_time_ms("2027-13-01T00:00:00Z"));
    EXPECT_FALSE(parse_time_ms("2027-01-15T08:00:00.Z"));
    EXPECT_FALSE(parse_time_ms(""));
}

TEST(IsE164, Numbers) {
    EXPECT_TRUE(is_e164("+13125550142"));
    EXPECT_TRUE(is_e164("+442071838750"));
    EXPECT_FALSE(is_e164("+1"));
    EXPECT_FALSE(is_e164("13125550142"));
    EXPECT_FALSE(is_e164("+1312555014a"));
}

TEST(Readiness, TheDatabaseAndTheStoreWriterDecide) {
    const Readiness good{.database_ok = true,
                         .database_ms = 0.25,
                         .writer_present = true,
                         .writer_queue_depth = 10,
                         .writer_queue_capacity = 100};
    auto response = readiness_response(good);
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(Json::parse(response.body)["status"], "ready");
    bool no_store = false;
    for (const auto& [name, value] : response.headers) {
        no_store = no_store || (name == "Cache-Control" && value == "no-store");
    }
    EXPECT_TRUE(no_store);

    Readiness down = good;
    down.database_ok = false;
    down.database_error = "i/o error";
    response = readiness_response(down);
    EXPECT_EQ(response.status, 503);
    Json body = Json::parse(response.body);
    EXPECT_EQ(body["status"], "not_ready");
    EXPECT_EQ(body["checks"]["database"]["error"], "i/o error");
    EXPECT_EQ(body["checks"]["store_writer"]["ok"], true);

    Readiness failing = good;
    failing.writer_failing = true;
    response = readiness_response(failing);
    EXPECT_EQ(response.status, 503);
    EXPECT_EQ(Json::parse(response.body)["checks"]["store_writer"]["ok"], false);

    Readiness backlog = good;
    backlog.writer_queue_depth = 89;
    EXPECT_EQ(readiness_response(backlog).status, 200);
    backlog.writer_queue_depth = 90;  // 90 % full: writes are about to be dropped
    EXPECT_EQ(readiness_response(backlog).status, 503);

    Readiness no_writer{.database_ok = true};
    body = Json::parse(readiness_response(no_writer).body);
    EXPECT_EQ(body["status"], "ready");
    EXPECT_FALSE(body["checks"].contains("store_writer"));
}

}  // namespace
}  // namespace dvd::api

#include "api/api_service.hpp"

#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "api_test_support.hpp"
#include "media/audio_archive.hpp"

namespace dvd::api {
namespace {

using Json = nlohmann::json;
using test::get;
using test::ReplyWaiter;

constexpr const char* kToken = "api-token-0123456789";

class ApiServiceTest : public ::testing::Test {
protected:
    explicit ApiServiceTest(ApiOptions options = {}) : options_(std::move(options)) {}

    void SetUp() override {
        const std::string path = (dir_.path() / "api.db").string();
        {
            auto writable = store::SqliteStore::open(path);
            ASSERT_TRUE(writable) << writable.error().message;
            test::seed(**writable);
        }
        auto writer_store = store::SqliteStore::open(path);
        ASSERT_TRUE(writer_store);
        writer_ = std::make_unique<store::StoreWriter>(
                std::move(*writer_store),
                store::StoreWriterOptions{.max_batch_delay = std::chrono::milliseconds(1)});
        writer_->start();
        ASSERT_TRUE(archive_.start());
        auto reader = store::SqliteStore::open(path, store::StoreOptions{.read_only = true});
        ASSERT_TRUE(reader) << reader.error().message;
        options_.api_token = kToken;
        options_.version = "0.1.0-test";
        service_ = std::make_unique<ApiService>(
                options_, std::move(*reader),
                ApiDeps{.model = media::test::test_model().model,
                        .tables = media::test::test_model().tables,
                        .archive = archive_,
                        .metrics = metrics_,
                        .extra_metrics =
                                [] {
                                    return std::vector<service::ExtraSample>{
                                            {"dvd_test_extra", "gauge", "a test sample", 7.0}};
                                },
                        .active_sessions = [] { return std::int64_t{3}; },
                        .dial = dial_,
                        .risk =
                                [this](RiskRequest request, std::function<void(RiskResult)> done) {
                                    if (risk_) {
                                        risk_(std::move(request), std::move(done));
                                    } else {
                                        done(RiskResult{.status = "unavailable"});
                                    }
                                },
                        .writer = writer_.get(),
                        .now_ms =
                                [] {
                                    return test::kT0 + 3'600'000;
                                }});
    }

    static net::Request authed(net::Request request) {
        request.headers.emplace_back("authorization", std::string("Bearer ") + kToken);
        return request;
    }

    static net::Request call_request(net::Method method, const std::string& id,
                                     bool with_token = true) {
        net::Request request = get("/calls/" + id);
        request.method = method;
        request.path_params = {{"id", id}};
        return with_token ? authed(std::move(request)) : request;
    }

    template <class Method>
    net::Response call(Method method, net::Request request) {
        ReplyWaiter waiter;
        (service_.get()->*method)(std::move(request), waiter.reply());
        auto response = waiter.wait();
        EXPECT_EQ(waiter.count(), 1);
        return response;
    }

    static std::string code(const net::Response& response) {
        return Json::parse(response.body)["error"]["code"].get<std::string>();
    }

    media::test::TempDir dir_;
    ApiOptions options_;
    service::Metrics metrics_;
    media::AudioArchive archive_{dir_.path() / "audio"};
    std::unique_ptr<store::StoreWriter> writer_;
    DialHandler dial_;
    RiskHandler risk_;  ///< set by a test before its requests (read on the analysis thread)
    std::unique_ptr<ApiService> service_;
};

TEST_F(ApiServiceTest, ListAndGetRunOnTheReaderThreadAndNeedTheToken) {
    auto listed = call(&ApiService::list_calls, authed(get("/calls", {{"limit", "2"}})));
    ASSERT_EQ(listed.status, 200) << listed.body;
    EXPECT_EQ(Json::parse(listed.body)["calls"].size(), 2u);
    auto refused = call(&ApiService::list_calls, get("/calls"));
    EXPECT_EQ(refused.status, 401);
    auto bad = call(&ApiService::list_calls, authed(get("/calls", {{"sort", "x"}})));
    EXPECT_EQ(bad.status, 400);
    auto one = call(&ApiService::get_call, call_request(net::Method::Get, "v3:ctl-b"));
    ASSERT_EQ(one.status, 200);
    EXPECT_EQ(Json::parse(one.body)["id"], "call-b");
    EXPECT_EQ(call(&ApiService::get_call, call_request(net::Method::Get, "zzz")).status, 404);
    EXPECT_EQ(call(&ApiService::get_call, call_request(net::Method::Get, "call-b", false)).status,
              401);
}

TEST_F(ApiServiceTest, HealthNeedsNoTokenMetricsDoes) {
    ReplyWaiter health;
    service_->health(get("/health"), health.reply());
    const auto h = health.wait();
    ASSERT_EQ(h.status, 200);
    const Json body = Json::parse(h.body);
    EXPECT_EQ(body["status"], "ok");
    EXPECT_EQ(body["active_sessions"], 3);
    EXPECT_EQ(body["version"], "0.1.0-test");
    EXPECT_GE(body["uptime_seconds"].get<double>(), 0.0);

    ReplyWaiter refused;
    service_->metrics(get("/metrics"), refused.reply());
    EXPECT_EQ(refused.wait().status, 401);
    metrics_.media_frames.add(5);
    ReplyWaiter metrics;
    service_->metrics(authed(get("/metrics")), metrics.reply());
    const auto m = metrics.wait();
    ASSERT_EQ(m.status, 200);
    EXPECT_EQ(m.content_type, "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_NE(m.body.find("dvd_media_frames_total 5"), std::string::npos) << m.body;
    EXPECT_NE(m.body.find("dvd_test_extra 7"), std::string::npos);
}

TEST_F(ApiServiceTest, ReadyPingsTheDatabaseWithoutAToken) {
    ReplyWaiter ready;
    service_->ready(get("/ready"), ready.reply());
    const auto r = ready.wait();
    ASSERT_EQ(r.status, 200) << r.body;
    Json body = Json::parse(r.body);
    EXPECT_EQ(body["status"], "ready");
    EXPECT_EQ(body["checks"]["database"]["ok"], true);
    EXPECT_GE(body["checks"]["database"]["latency_ms"].get<double>(), 0.0);
    EXPECT_EQ(body["checks"]["store_writer"]["ok"], true);
    EXPECT_EQ(body["checks"]["store_writer"]["queue_capacity"], 16384);

    // A newer build migrated the database under this one: its reads are not to be trusted.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_.path() / "api.db").string().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = version + 1", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    ReplyWaiter refused;
    service_->ready(get("/ready"), refused.reply());
    const auto n = refused.wait();
    ASSERT_EQ(n.status, 503) << n.body;
    body = Json::parse(n.body);
    EXPECT_EQ(body["status"], "not_ready");
    EXPECT_EQ(body["checks"]["database"]["ok"], false);
    // The category only: an unauthenticated probe must not learn hosts or paths.
    EXPECT_EQ(body["checks"]["database"]["error"], "unsupported");
}

TEST_F(ApiServiceTest, AnalyzeRescoresTheArchivedAudioAndStoresTheResult) {
    EXPECT_EQ(call(&ApiService::analyze_call, call_request(net::Method::Post, "nope")).status, 404);
    auto no_audio = call(&ApiService::analyze_call, call_request(net::Method::Post, "call-c"));
    EXPECT_EQ(no_audio.status, 422);
    EXPECT_EQ(code(no_audio), "no_audio");
    EXPECT_EQ(call(&ApiService::analyze_call, call_request(net::Method::Post, "call-a", false))
                      .status,
              401);

    const auto speech = dvd::test::speech_like_signal(6.0, 11);
    std::vector<std::int16_t> pcm;
    media::to_int16(speech, pcm);
    ASSERT_TRUE(archive_.append("call-a", pcm));  // not flushed: the analysis waits for it
    auto analyzed = call(&ApiService::analyze_call, call_request(net::Method::Post, "v3:ctl-a"));
    ASSERT_EQ(analyzed.status, 200) << analyzed.body;
    const Json body = Json::parse(analyzed.body);
    EXPECT_EQ(body["call_id"], "call-a");
    EXPECT_NEAR(body["audio_seconds"].get<double>(), 6.0, 1e-9);
    EXPECT_EQ(body["analyzed_at"], "2027-01-15T09:00:00.000Z");
    ASSERT_GE(body["windows"].size(), 3u);
    EXPECT_EQ(body["windows_scored"], body["windows"].size());
    EXPECT_EQ(body["threshold"], 0.75);

    // The same as scoring the int16-rounded audio directly.
    std::vector<float> rounded(pcm.size());
    for (std::size_t i = 0; i < pcm.size(); ++i) {
        rounded[i] = static_cast<float>(pcm[i]) / 32768.0f;
    }
    pipeline::ScorerOptions options;
    options.threshold = 0.75;
    auto direct = analyze_samples("call-a", rounded, media::test::test_model().model,
                                  media::test::test_model().tables, options);
    ASSERT_TRUE(direct);
    EXPECT_DOUBLE_EQ(body["llr"].get<double>(), direct->score.llr);
    EXPECT_EQ(body["windows"].size(), direct->windows.size());
    EXPECT_EQ(body["verdict"], pipeline::to_string(direct->score.verdict));

    ASSERT_TRUE(writer_->flush(std::chrono::steady_clock::now() + std::chrono::seconds(10)));
    auto stored = store::SqliteStore::open((dir_.path() / "api.db").string());
    ASSERT_TRUE(stored);
    auto row = (*stored)->get_call("call-a");
    ASSERT_TRUE(row && *row);
    EXPECT_DOUBLE_EQ(*(*row)->final_llr, direct->score.llr);
    EXPECT_TRUE((*row)->flagged);  // sticky in the store
}

TEST_F(ApiServiceTest, CreateCallValidatesAndNeedsADialHandler) {
    net::Request request;
    request.method = net::Method::Post;
    request.path = "/calls";
    request.body = R"({"to":"+13125550142"})";
    auto unavailable = call(&ApiService::create_call, authed(request));
    EXPECT_EQ(unavailable.status, 503);
    EXPECT_EQ(code(unavailable), "dial_unavailable");
    request.body = R"({"to":"555"})";
    EXPECT_EQ(call(&ApiService::create_call, authed(request)).status, 422);
    request.body = "{";
    EXPECT_EQ(call(&ApiService::create_call, authed(request)).status, 400);
    EXPECT_EQ(call(&ApiService::create_call, request).status, 401);
}

class ApiServiceDialTest : public ApiServiceTest {
protected:
    ApiServiceDialTest() {
        dial_ = [this](std::string to, std::string base, Reply done) {
            dialed_to_ = to;
            base_url_ = base;
            done(net::Response::json(201, Json{{"call_id", "call-0001"},
                                               {"status", "initiated"},
                                               {"from", "+13125550199"},
                                               {"to", to}}
                                                  .dump()));
        };
    }

    std::string dialed_to_;
    std::string base_url_;
};

TEST_F(ApiServiceDialTest, HandsTheNumberAndTheBaseUrlToTheDialHandler) {
    net::Request request;
    request.method = net::Method::Post;
    request.path = "/calls";
    request.headers = {{"host", "detector.example:5000"}};
    request.body = R"({"to":"+13125550142"})";
    auto response = call(&ApiService::create_call, authed(request));
    ASSERT_EQ(response.status, 201);
    EXPECT_EQ(Json::parse(response.body)["status"], "initiated");
    EXPECT_EQ(dialed_to_, "+13125550142");
    EXPECT_EQ(base_url_, "http://detector.example:5000");
}

class ApiServiceBusyTest : public ApiServiceTest {
protected:
    ApiServiceBusyTest() : ApiServiceTest(ApiOptions{.analysis_queue = 0}) {}
};

TEST_F(ApiServiceBusyTest, FullQueuesAnswer503WithRetryAfterAndStoppedServiceToo) {
    auto busy = call(&ApiService::analyze_call, call_request(net::Method::Post, "call-a"));
    EXPECT_EQ(busy.status, 503);
    ASSERT_EQ(busy.headers.size(), 1u);
    EXPECT_EQ(busy.headers[0].first, "Retry-After");
    service_->stop();
    auto stopped = call(&ApiService::list_calls, authed(get("/calls")));
    EXPECT_EQ(stopped.status, 503);
}

TEST(ApiRoutes, RegistersEveryRoute) {
    media::test::TempDir dir;
    service::Metrics metrics;
    media::AudioArchive archive(dir.path());
    auto reader = store::SqliteStore::open((dir.path() / "r.db").string());
    ASSERT_TRUE(reader);
    ApiService service(ApiOptions{}, std::move(*reader),
                       ApiDeps{.model = media::test::test_model().model,
                               .tables = media::test::test_model().tables,
                               .archive = archive,
                               .metrics = metrics});
    net::Router router;
    add_api_routes(router, service);
    EXPECT_EQ(router.routes().size(), 8u);
    EXPECT_TRUE(router.ws_routes().empty());
}

TEST_F(ApiServiceTest, RecordingAudioNeedsTheTokenAndRunsOnTheReader) {
    net::Request request = get("/calls/call-a/recordings/1/audio");
    request.path_params = {{"id", "call-a"}, {"recording", "1"}};
    EXPECT_EQ(call(&ApiService::recording_audio, request).status, 401);
    const auto response = call(&ApiService::recording_audio, authed(request));
    EXPECT_EQ(response.status, 404);
    EXPECT_EQ(code(response), "not_archived");
}

TEST_F(ApiServiceTest, AnalyzeHandsTheRescoreToTheRiskAnalysisAndReturnsItsDecision) {
    std::vector<std::int16_t> pcm;
    media::to_int16(dvd::test::speech_like_signal(4.0, 3), pcm);
    ASSERT_TRUE(archive_.append("call-a", pcm));
    std::mutex mutex;
    std::vector<RiskRequest> seen;
    risk_ = [&](RiskRequest request, std::function<void(RiskResult)> done) {
        {
            std::lock_guard lock(mutex);
            seen.push_back(request);
        }
        if (request.public_base_url.empty()) {
            done(RiskResult{.status = "rate_limited",
                            .record = store::AnalysisRecord{.id = 7,
                                                            .call_id = request.call_id,
                                                            .source = "detector_only",
                                                            .risk_level = "high"},
                            .message = "at most 4 risk analyses per call"});
            return;
        }
        done(RiskResult{.status = "done"});
    };
    auto request = call_request(net::Method::Post, "call-a");
    auto limited = call(&ApiService::analyze_call, request);
    ASSERT_EQ(limited.status, 200) << limited.body;
    const Json body = Json::parse(limited.body);
    EXPECT_EQ(body["risk_analysis"]["status"], "rate_limited");
    EXPECT_EQ(body["risk_analysis"]["message"], "at most 4 risk analyses per call");
    EXPECT_EQ(body["risk_analysis"]["analysis"]["id"], 7);
    EXPECT_EQ(body["risk_analysis"]["analysis"]["source"], "detector_only");
    {
        std::lock_guard lock(mutex);
        ASSERT_EQ(seen.size(), 1u);
        EXPECT_EQ(seen[0].call_id, "call-a");
        EXPECT_EQ(seen[0].probability, body["score"].get<double>());
        EXPECT_EQ(seen[0].window_probabilities.size(), body["windows"].size());
    }

    request.headers.emplace_back("host", "dvd.example:8443");
    request.headers.emplace_back("x-forwarded-proto", "https");
    request.query = {{"wait", "false"}};
    auto pending = call(&ApiService::analyze_call, request);
    EXPECT_EQ(pending.status, 202) << pending.body;
    EXPECT_EQ(Json::parse(pending.body)["risk_analysis"]["status"], "pending");
    {
        std::lock_guard lock(mutex);
        ASSERT_EQ(seen.size(), 2u);
        EXPECT_EQ(seen[1].public_base_url, "https://dvd.example:8443");
    }
    request.query = {{"wait", "maybe"}};
    auto bad = call(&ApiService::analyze_call, request);
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(code(bad), "invalid_parameter");
}

TEST_F(ApiServiceTest, CallDetailShowsIndicatorsAnalysesEscalationAndKeptRecordings) {
    auto one = call(&ApiService::get_call, call_request(net::Method::Get, "call-a"));
    ASSERT_EQ(one.status, 200);
    const Json body = Json::parse(one.body);
    ASSERT_EQ(body["indicators"].size(), 8u);
    EXPECT_EQ(body["indicators"][1]["name"], "pitch_mean_hz");
    EXPECT_EQ(body["indicators"][1]["unit"], "Hz");
    EXPECT_EQ(body["indicators"][1]["value"], 182.4);
    EXPECT_EQ(body["indicators"][6]["value"], "PCMU");
    EXPECT_EQ(body["analysis"]["risk_level"], "critical");
    EXPECT_EQ(body["analyses"].size(), 1u);
    EXPECT_EQ(body["escalation"]["action"], "warn");
    EXPECT_TRUE(body["recordings"][0]["kept"].get<bool>());
    EXPECT_TRUE(body["timeline"][0]["indicators"].is_null());
    EXPECT_EQ(body["timeline"][2]["indicators"]["hnr_db"], 25.1);
    // A call without any of it.
    const Json b = Json::parse(call(&ApiService::get_call, call_request(net::Method::Get, "call-b")).body);
    EXPECT_TRUE(b["indicators"].empty());
    EXPECT_TRUE(b["analysis"].is_null());
    EXPECT_TRUE(b["escalation"].is_null());
}

}  // namespace
}  // namespace dvd::api

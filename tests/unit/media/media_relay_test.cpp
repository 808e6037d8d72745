#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "media/media_routes.hpp"
#include "media_test_support.hpp"

namespace dvd::media {
namespace {

using test::connected_frame;
using test::Harness;
using test::media_frame;
using test::start_frame;
using test::stop_frame;
using Json = nlohmann::json;

constexpr const char* kCcid = "v3:relay-call";
constexpr const char* kStream = "relay-stream";
constexpr const char* kToken = "relay-secret";

net::Request post(std::vector<std::string> frames, std::string token = kToken) {
    net::Request request;
    request.method = net::Method::Post;
    request.path = "/webhooks/media";
    if (!token.empty()) {
        request.headers.emplace_back("x-telnyx-streaming-auth-token", token);
    }
    std::string body = "[";
    for (std::size_t i = 0; i < frames.size(); ++i) {
        body += (i > 0 ? "," : "") + frames[i];
    }
    request.body = body + "]";
    return request;
}

std::string error_code(const net::Response& response) {
    return Json::parse(response.body)["error"]["code"].get<std::string>();
}

struct FakeClock {
    std::chrono::steady_clock::time_point now{};

    MediaRelay::Clock fn() {
        return [this] {
            return now;
        };
    }
};

TEST(MediaRelay, StreamsOverSeveralRequestsLikeAWebSocket) {
    Harness h;
    h.add_call("call-relay", kCcid, kToken);
    MediaRelay relay(h.deps);
    const auto payloads = test::pcmu_frames(test::sample_speech());
    auto first = relay.handle(post({connected_frame(), start_frame(kCcid, kStream)}));
    ASSERT_EQ(first.status, 200) << first.body;
    EXPECT_EQ(relay.size(), 1u);
    // Media in batches of 10 frames, as a relay would forward them.
    std::uint64_t seq = 2;
    for (std::size_t i = 0; i < payloads.size(); i += 10) {
        std::vector<std::string> batch;
        for (std::size_t j = i; j < std::min(payloads.size(), i + 10); ++j) {
            batch.push_back(media_frame(kStream, seq++, payloads[j]));
        }
        auto response = relay.handle(post(batch));
        ASSERT_EQ(response.status, 200) << response.body;
    }
    auto last = relay.handle(post({stop_frame(kCcid, kStream, seq)}));
    ASSERT_EQ(last.status, 200) << last.body;
    const auto body = Json::parse(last.body);
    EXPECT_EQ(body["status"], "ok");
    EXPECT_EQ(body["frames"], 1);
    ASSERT_EQ(body["ended"].size(), 1u);
    EXPECT_EQ(body["ended"][0]["stream_id"], kStream);
    EXPECT_EQ(body["ended"][0]["reason"], "stop");
    EXPECT_EQ(relay.size(), 0u);
    EXPECT_EQ(h.sink.started.size(), 1u);
    EXPECT_GE(h.sink.scores.size(), 3u);
    ASSERT_EQ(h.sink.ended.size(), 1u);
    EXPECT_FALSE(h.sink.ended[0].error);
    // Frames after the stop belong to no open stream.
    auto after = relay.handle(post({media_frame(kStream, seq + 1, payloads[0])}));
    EXPECT_EQ(after.status, 409);
    EXPECT_EQ(error_code(after), "stream_not_started");
}

TEST(MediaRelay, TokenRulesMatchTheWebSocket) {
    Harness h;
    h.add_call("call-relay", kCcid, kToken);
    MediaRelay relay(h.deps);
    auto wrong = relay.handle(post({start_frame(kCcid, kStream)}, "nope"));
    EXPECT_EQ(wrong.status, 401);
    EXPECT_EQ(error_code(wrong), "bad_stream_token");
    auto missing = relay.handle(post({start_frame(kCcid, kStream)}, ""));
    EXPECT_EQ(missing.status, 401);
    // The token may also come in a connected frame of the same request.
    auto in_frame = relay.handle(post({connected_frame(kToken), start_frame(kCcid, kStream)}, ""));
    EXPECT_EQ(in_frame.status, 200) << in_frame.body;
    // Later requests must present the token that started the stream.
    auto other = relay.handle(
            post({media_frame(kStream, 2, std::vector<std::uint8_t>(160, 0xFF))}, "someone-else"));
    EXPECT_EQ(other.status, 401);
    auto right =
            relay.handle(post({media_frame(kStream, 2, std::vector<std::uint8_t>(160, 0xFF))}));
    EXPECT_EQ(right.status, 200) << right.body;
    EXPECT_EQ(h.metrics.media_streams_rejected.value(), 3u);
}

TEST(MediaRelay, ErrorsMapToHttpStatuses) {
    Harness h;
    h.add_call("call-relay", kCcid, "");
    MediaRelay relay(h.deps, MediaRelayOptions{.max_frames_per_request = 3});
    auto unknown = relay.handle(post({start_frame("v3:nobody", "s-x")}));
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(error_code(unknown), "unknown_call");

    net::Request garbage = post({});
    garbage.body = "{not json";
    EXPECT_EQ(relay.handle(garbage).status, 400);
    garbage.body = "42";
    EXPECT_EQ(error_code(relay.handle(garbage)), "malformed_frame");

    // A malformed frame anywhere in the batch: nothing is applied.
    auto mixed = relay.handle(post({start_frame(kCcid, kStream), R"({"event":"media"})"}));
    EXPECT_EQ(mixed.status, 400);
    EXPECT_EQ(relay.size(), 0u);
    EXPECT_TRUE(h.sink.started.empty());

    auto too_many = relay.handle(
            post({connected_frame(), connected_frame(), connected_frame(), connected_frame()}));
    EXPECT_EQ(too_many.status, 413);
    EXPECT_EQ(error_code(too_many), "too_many_frames");

    auto before = relay.handle(post({media_frame(kStream, 2, std::vector<std::uint8_t>(160, 1))}));
    EXPECT_EQ(before.status, 409);

    // An undecodable payload ends the stream (422) and the stream leaves the table.
    ASSERT_EQ(relay.handle(post({start_frame(kCcid, kStream, "L16", 16000)})).status, 200);
    auto bad = relay.handle(post({media_frame(kStream, 2, std::vector<std::uint8_t>(3, 1))}));
    EXPECT_EQ(bad.status, 422);
    EXPECT_EQ(error_code(bad), "invalid_media");
    EXPECT_EQ(relay.size(), 0u);
    ASSERT_EQ(h.sink.ended.size(), 1u);
    EXPECT_TRUE(h.sink.ended[0].error);

    // Unknown events are skipped, not refused.
    auto unknown_event = relay.handle(post({R"({"event":"brand_new","stream_id":"x"})"}));
    EXPECT_EQ(unknown_event.status, 200);
}

TEST(MediaRelay, IdleStreamsExpire) {
    Harness h;
    h.add_call("call-relay", kCcid, "");
    FakeClock clock;
    MediaRelay relay(h.deps, MediaRelayOptions{.idle_timeout = std::chrono::seconds(60)},
                     clock.fn());
    ASSERT_EQ(relay.handle(post({start_frame(kCcid, kStream)})).status, 200);
    clock.now += std::chrono::seconds(30);
    EXPECT_EQ(relay.expire_idle(), 0u);
    clock.now += std::chrono::seconds(31);
    EXPECT_EQ(relay.expire_idle(), 1u);
    EXPECT_EQ(relay.size(), 0u);
    ASSERT_EQ(h.sink.ended.size(), 1u);
    EXPECT_EQ(h.sink.ended[0].reason, "relay idle timeout");
    EXPECT_TRUE(h.sink.ended[0].lost);
    EXPECT_TRUE(h.sink.ended[0].error);
}

TEST(MediaRelay, TooManyStreamsGet503AndShutdownEndsTheRest) {
    Harness h;
    h.add_call("call-a", "v3:a", "");
    h.add_call("call-b", "v3:b", "");
    {
        MediaRelay relay(h.deps, MediaRelayOptions{.max_streams = 1});
        ASSERT_EQ(relay.handle(post({start_frame("v3:a", "s-a")})).status, 200);
        auto full = relay.handle(post({start_frame("v3:b", "s-b")}));
        EXPECT_EQ(full.status, 503);
        EXPECT_TRUE(h.sink.started.size() == 1u);
    }
    ASSERT_EQ(h.sink.ended.size(), 1u);
    EXPECT_EQ(h.sink.ended[0].reason, "shutdown");
    EXPECT_FALSE(h.sink.ended[0].lost);
}

TEST(MediaRoutes, RegistersTheWebSocketsAndTheRelay) {
    Harness h;
    MediaRelay relay(h.deps);
    net::Router router;
    add_media_routes(router, h.deps, relay);
    EXPECT_EQ(router.ws_routes().size(), 2u);
    ASSERT_EQ(router.routes().size(), 1u);
    EXPECT_EQ(router.routes()[0].method, net::Method::Post);
}

}  // namespace
}  // namespace dvd::media

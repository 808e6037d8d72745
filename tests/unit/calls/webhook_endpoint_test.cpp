#include "calls/webhook_endpoint.hpp"

#include <array>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "calls_test_util.hpp"
#include "protocol/signature.hpp"

namespace dvd::calls {
namespace {

using test::webhook_body;

constexpr std::int64_t kNowS = 1'767'261'642;

protocol::Ed25519KeyPair keys() {
    std::array<std::uint8_t, 32> seed{};
    for (std::size_t i = 0; i < seed.size(); ++i) {
        seed[i] = static_cast<std::uint8_t>(i + 1);
    }
    return protocol::ed25519_keypair_from_seed(seed).value();
}

WebhookOptions signed_options() {
    return WebhookOptions{.public_key_base64 = keys().public_key_base64(),
                          .skip_verification = false,
                          .now_s = [] {
                              return kNowS;
                          }};
}

net::Request request_with(std::string body, std::int64_t timestamp_s, bool sign = true) {
    net::Request request;
    request.method = net::Method::Post;
    request.method_name = "POST";
    request.path = "/webhooks/voice";
    request.target = "/webhooks/voice";
    request.headers.emplace_back("host", "dvd.example");
    if (sign) {
        const std::string timestamp = std::to_string(timestamp_s);
        request.headers.emplace_back("telnyx-timestamp", timestamp);
        request.headers.emplace_back("telnyx-signature-ed25519",
                                     protocol::sign_webhook(timestamp, body, keys()));
    }
    request.body = std::move(body);
    return request;
}

std::string initiated() {
    return webhook_body("call.initiated", "evt-1", "v3:abc", test::inbound_payload());
}

const net::Response* refusal(const WebhookVerdict& verdict) {
    return std::get_if<net::Response>(&verdict);
}

TEST(CheckWebhook, AcceptsAValidSignature) {
    const auto verdict = check_webhook(request_with(initiated(), kNowS), signed_options());
    const auto* accepted = std::get_if<AcceptedWebhook>(&verdict);
    ASSERT_NE(accepted, nullptr) << refusal(verdict)->body;
    EXPECT_EQ(accepted->event.id, "evt-1");
    EXPECT_EQ(accepted->event.type, protocol::WebhookEventType::CallInitiated);
    EXPECT_EQ(accepted->event.call_control_id, "v3:abc");
    EXPECT_EQ(accepted->public_base_url, "http://dvd.example");
}

TEST(CheckWebhook, RefusesAForgedSignature) {
    auto request = request_with(initiated(), kNowS);
    request.body = webhook_body("call.initiated", "evt-forged", "v3:abc", test::inbound_payload());
    const auto verdict = check_webhook(request, signed_options());
    ASSERT_NE(refusal(verdict), nullptr);
    EXPECT_EQ(refusal(verdict)->status, 401);
    EXPECT_NE(refusal(verdict)->body.find("invalid_signature"), std::string::npos);
}

TEST(CheckWebhook, RefusesASignatureByAnotherKey) {
    auto request = request_with(initiated(), kNowS);
    auto other = protocol::ed25519_generate_keypair().value();
    for (auto& [name, value] : request.headers) {
        if (name == "telnyx-signature-ed25519") {
            value = protocol::sign_webhook(std::to_string(kNowS), request.body, other);
        }
    }
    const auto verdict = check_webhook(request, signed_options());
    ASSERT_NE(refusal(verdict), nullptr);
    EXPECT_EQ(refusal(verdict)->status, 401);
}

TEST(CheckWebhook, RefusesStaleTimestampsBothWays) {
    for (const std::int64_t skew : {-301, 301}) {
        const auto verdict =
                check_webhook(request_with(initiated(), kNowS + skew), signed_options());
        ASSERT_NE(refusal(verdict), nullptr) << skew;
        EXPECT_EQ(refusal(verdict)->status, 401) << skew;
    }
    for (const std::int64_t skew : {-300, 300}) {
        const auto verdict =
                check_webhook(request_with(initiated(), kNowS + skew), signed_options());
        EXPECT_EQ(refusal(verdict), nullptr) << skew;
    }
}

TEST(CheckWebhook, RefusesMissingHeaders) {
    const auto unsigned_verdict =
            check_webhook(request_with(initiated(), kNowS, false), signed_options());
    ASSERT_NE(refusal(unsigned_verdict), nullptr);
    EXPECT_EQ(refusal(unsigned_verdict)->status, 401);

    auto request = request_with(initiated(), kNowS);
    std::erase_if(request.headers, [](const auto& h) { return h.first == "telnyx-timestamp"; });
    const auto verdict = check_webhook(request, signed_options());
    ASSERT_NE(refusal(verdict), nullptr);
    EXPECT_EQ(refusal(verdict)->status, 401);
}

TEST(CheckWebhook, SkipModeAcceptsUnsignedOnlyWithoutAKey) {
    WebhookOptions skip{.skip_verification = true};
    const auto verdict = check_webhook(request_with(initiated(), kNowS, false), skip);
    EXPECT_NE(std::get_if<AcceptedWebhook>(&verdict), nullptr);

    auto with_key = signed_options();
    with_key.skip_verification = true;  // a configured key is always enforced
    const auto refused = check_webhook(request_with(initiated(), kNowS, false), with_key);
    ASSERT_NE(refusal(refused), nullptr);
    EXPECT_EQ(refusal(refused)->status, 401);
}

TEST(CheckWebhook, NoKeyAndNoSkipIsAConfigurationError) {
    EXPECT_FALSE(WebhookChecker::create(WebhookOptions{}).has_value());
    EXPECT_FALSE(
            WebhookChecker::create(WebhookOptions{.public_key_base64 = "not-a-key"}).has_value());
    const auto verdict = check_webhook(request_with(initiated(), kNowS), WebhookOptions{});
    ASSERT_NE(refusal(verdict), nullptr);
    EXPECT_EQ(refusal(verdict)->status, 500);
}

TEST(CheckWebhook, MalformedBodiesGet400AfterTheSignatureCheck) {
    for (const std::string& body :
         {std::string("{not json"), std::string(R"({"data":{"event_type":"call.initiated"}})"),
          std::string(R"({"data":{"id":"x"}})"), std::string("[]")}) {
        const auto verdict = check_webhook(request_with(body, kNowS), signed_options());
        ASSERT_NE(refusal(verdict), nullptr) << body;
        EXPECT_EQ(refusal(verdict)->status, 400) << body;
        EXPECT_NE(refusal(verdict)->body.find("malformed_webhook"), std::string::npos);
    }
}

TEST(CheckWebhook, UnknownEventTypesAndFieldsAreAccepted) {
    auto body = webhook_body("call.something.new", "evt-2", "v3:abc", {{"novel", {1, 2}}});
    const auto verdict = check_webhook(request_with(body, kNowS), signed_options());
    const auto* accepted = std::get_if<AcceptedWebhook>(&verdict);
    ASSERT_NE(accepted, nullptr);
    EXPECT_EQ(accepted->event.type, protocol::WebhookEventType::Unknown);
}

TEST(PublicBaseUrl, FromHostAndForwardedHeaders) {
    net::Request request;
    EXPECT_EQ(public_base_url(request), "");
    request.headers = {{"host", "dvd.example:5000"}};
    EXPECT_EQ(public_base_url(request), "http://dvd.example:5000");
    request.headers = {{"host", "10.0.0.5:5000"}, {"x-forwarded-proto", "https"}};
    EXPECT_EQ(public_base_url(request), "https://10.0.0.5:5000");
    request.headers = {{"host", "10.0.0.5:5000"},
                       {"x-forwarded-proto", "HTTPS, http"},
                       {"x-forwarded-host", "abc.ngrok.app, proxy.internal"}};
    EXPECT_EQ(public_base_url(request), "https://abc.ngrok.app");
    request.headers = {{"host", "dvd.example"}, {"x-forwarded-proto", "gopher"}};
    EXPECT_EQ(public_base_url(request), "http://dvd.example");
    request.headers = {{"host", "[::1]:5000"}};
    EXPECT_EQ(public_base_url(request), "http://[::1]:5000");
    for (const char* bad : {"evil.example/path", "user@evil.example", "a b", ""}) {
        request.headers = {{"host", bad}};
        EXPECT_EQ(public_base_url(request), "") << bad;
    }
}

}  // namespace
}  // namespace dvd::calls

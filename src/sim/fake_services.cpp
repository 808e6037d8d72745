#include "sim/fake_services.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace dvd::sim {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kEvidencePrefix = "Evidence (JSON):";
constexpr std::array<std::string_view, 4> kLevels{"low", "medium", "high", "critical"};
constexpr std::array<std::string_view, 4> kActions{"none", "monitor", "verify_identity", "warn"};

Json parse_or_string(const std::string& body) {
    Json parsed = Json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
        return Json(body);
    }
    return parsed;
}

double number_at(const Json& object, std::string_view key, double fallback) {
    if (!object.is_object()) {
        return fallback;
    }
    const auto it = object.find(std::string(key));
    return it != object.end() && it->is_number() ? it->get<double>() : fallback;
}

std::string text_at(const Json& object, std::string_view key) {
    if (!object.is_object()) {
        return {};
    }
    const auto it = object.find(std::string(key));
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

}  // namespace

std::string_view to_string(FakeTarget target) noexcept {
    switch (target) {
        case FakeTarget::Slack:
            return "slack";
        case FakeTarget::Json:
            return "json";
        case FakeTarget::Inference:
            return "inference";
    }
    return "unknown";
}

std::optional<FakeTarget> parse_fake_target(std::string_view name) noexcept {
    for (const auto target : {FakeTarget::Slack, FakeTarget::Json, FakeTarget::Inference}) {
        if (to_string(target) == name) {
            return target;
        }
    }
    return std::nullopt;
}

void FakeServices::script(FakeTarget target, std::vector<FakeReply> replies) {
    const std::lock_guard lock(mutex_);
    auto& queue = scripts_[target];
    for (auto& reply : replies) {
        queue.push_back(std::move(reply));
    }
}

void FakeServices::reset() {
    const std::lock_guard lock(mutex_);
    scripts_.clear();
    requests_.clear();
}

std::vector<FakeRequest> FakeServices::requests(FakeTarget target) const {
    const std::lock_guard lock(mutex_);
    std::vector<FakeRequest> out;
    for (const auto& request : requests_) {
        if (request.target == target) {
            out.push_back(request);
        }
    }
    return out;
}

FakeReply FakeServices::handle(FakeTarget target, const net::Request& request, bool authorized,
                               std::int64_t now_ms) {
    FakeReply reply;
    bool scripted = false;
    {
        const std::lock_guard lock(mutex_);
        auto& queue = scripts_[target];
        if (!queue.empty()) {
            reply = std::move(queue.front());
            queue.pop_front();
            scripted = true;
        }
    }
    if (!scripted) {
        // The default answers; parsing happens outside the lock.
        const Json body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
        switch (target) {
            case FakeTarget::Slack:
                if (body.is_discarded() || !body.is_object()) {
                    reply = FakeReply{.status = 400, .body = "invalid_payload"};
                } else if (!body.contains("text") && !body.contains("blocks")) {
                    reply = FakeReply{.status = 400, .body = "no_text"};
                } else {
                    reply = FakeReply{.status = 200, .body = "ok"};
                }
                break;
            case FakeTarget::Json:
                reply = FakeReply{.status = 200, .body = R"({"status":"received"})"};
                break;
            case FakeTarget::Inference:
                if (body.is_discarded() || !body.is_object() || !body.contains("messages")) {
                    reply = FakeReply{
                            .status = 422,
                            .body = R"({"detail":[{"loc":["body","messages"],)"
                                    R"("msg":"field required","type":"value_error.missing"}]})"};
                } else {
                    reply = FakeReply{.status = 200,
                                      .content = default_completion(request.body)};
                }
                break;
        }
    }
    if (target == FakeTarget::Inference && !authorized && !scripted) {
        reply = FakeReply{.status = 401,
                          .body = R"({"errors":[{"code":"10009","title":"Authentication failed",)"
                                  R"("detail":"Could not understand the provided credentials."}]})"};
    }
    const std::lock_guard lock(mutex_);
    requests_.push_back(FakeRequest{.target = target,
                                    .path = request.path,
                                    .body = request.body,
                                    .authorized = authorized,
                                    .status = reply.status,
                                    .received_at_ms = now_ms});
    return reply;
}

net::Response FakeServices::to_response(FakeTarget target, const FakeReply& reply) {
    net::Response response;
    response.status = reply.status;
    if (target == FakeTarget::Inference && reply.content) {
        response.content_type = "application/json";
        response.body = completion(*reply.content, reply.finish_reason);
    } else if (target == FakeTarget::Slack) {
        response.content_type = "text/plain;charset=utf-8";  // Slack's own mock server
        response.body = reply.body;
    } else {
        response.content_type = "application/json";
        response.body = reply.body;
    }
    if (reply.retry_after_s) {
        response.headers.emplace_back("Retry-After", std::to_string(*reply.retry_after_s));
    }
    return response;
}

std::string FakeServices::completion(std::string_view content, std::string_view finish_reason) {
    return Json{{"id", "chatcmpl-simulated"},
                {"object", "chat.completion"},
                {"created", 1'767'225'600},
                {"model", "simulated"},
                {"choices",
                 Json::array({Json{{"index", 0},
                                   {"message", {{"role", "assistant"}, {"content", content}}},
                                   {"finish_reason", finish_reason}}})},
                {"usage", {{"prompt_tokens", 0}, {"completion_tokens", 0}, {"total_tokens", 0}}}}
            .dump();
}

std::string FakeServices::default_completion(std::string_view request_body) {
    Json evidence = Json::object();
    const Json body = Json::parse(request_body, nullptr, /*allow_exceptions=*/false);
    if (body.is_object() && body.contains("messages") && body["messages"].is_array()
        && !body["messages"].empty()) {
        const std::string content = text_at(body["messages"].back(), "content");
        if (const auto at = content.find(kEvidencePrefix); at != std::string::npos) {
            const Json parsed = Json::parse(content.substr(at + kEvidencePrefix.size()), nullptr,
                                            /*allow_exceptions=*/false);
            if (parsed.is_object()) {
                evidence = parsed;
            }
        }
    }
    const Json detector = evidence.value("detector", Json::object());
    const Json call = evidence.value("call", Json::object());
    const double p = number_at(detector, "probability_synthetic", 0.0);
    const double t = number_at(detector, "threshold", 0.75);
    std::size_t level = p >= 0.95 ? 3 : p >= t ? 2 : p >= 0.5 ? 1 : 0;
    std::string attestation = text_at(call, "stir_shaken_attestation");
    std::string telnyx;
    if (call.is_object() && call.contains("telnyx_deepfake_detector")
        && call["telnyx_deepfake_detector"].is_object()) {
        telnyx = text_at(call["telnyx_deepfake_detector"], "result");
    }
    const bool context = attestation == "C" || attestation == "none" || attestation.empty()
                         || telnyx == "fake";
    if (context) {
        level = std::min<std::size_t>(level + 1, 3);
    }
    std::vector<std::string> indicators{fmt::format("detector probability {:.2f}", p)};
    if (!attestation.empty()) {
        indicators.push_back(fmt::format("caller ID attestation {}", attestation));
    }
    if (!telnyx.empty()) {
        indicators.push_back(fmt::format("Telnyx detector: {}", telnyx));
    }
    const Json answer{
            {"risk_level", kLevels[level]},
            {"escalate", level >= 2},
            {"indicators", indicators},
            {"reasoning",
             fmt::format("Simulated analysis: the detector's probability is {:.2f} against a "
                         "threshold of {:.2f}; caller ID attestation {}{}.",
                         p, t, attestation.empty() ? "unknown" : attestation,
                         context ? ", which adds risk" : "")},
            {"recommended_action", kActions[level]}};
    return answer.dump();
}

base::Result<std::vector<FakeReply>> FakeServices::parse_script(std::string_view text) {
    const Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_array()) {
        return base::fail(base::Errc::InvalidArgument, "a script is a JSON array of replies");
    }
    std::vector<FakeReply> replies;
    for (const Json& item : parsed) {
        if (!item.is_object()) {
            return base::fail(base::Errc::InvalidArgument, "each reply is a JSON object");
        }
        FakeReply reply;
        reply.status = static_cast<int>(number_at(item, "status", 200.0));
        if (reply.status < 100 || reply.status > 599) {
            return base::fail(base::Errc::InvalidArgument, "status must be 100..599");
        }
        reply.body = text_at(item, "body");
        if (item.contains("content")) {
            const Json& content = item["content"];
            reply.content = content.is_string() ? content.get<std::string>() : content.dump();
        }
        if (const std::string finish = text_at(item, "finish_reason"); !finish.empty()) {
            reply.finish_reason = finish;
        }
        if (item.contains("retry_after")) {
            reply.retry_after_s = static_cast<int>(number_at(item, "retry_after", 1.0));
        }
        const double delay = number_at(item, "delay_ms", 0.0);
        if (!(delay >= 0.0) || delay > 600'000.0) {
            return base::fail(base::Errc::InvalidArgument, "delay_ms must be 0..600000");
        }
        reply.delay = std::chrono::milliseconds(static_cast<std::int64_t>(delay));
        replies.push_back(std::move(reply));
    }
    return replies;
}

std::string FakeServices::requests_json(const std::vector<FakeRequest>& requests) {
    Json out = Json::array();
    for (const auto& r : requests) {
        out.push_back(Json{{"path", r.path},
                           {"status", r.status},
                           {"authorized", r.authorized},
                           {"received_at_ms", r.received_at_ms},
                           {"body", parse_or_string(r.body)}});
    }
    return out.dump();
}

}  // namespace dvd::sim

#include "sim/service_client.hpp"

#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace dvd::sim {
namespace {

using Json = nlohmann::json;

constexpr std::chrono::milliseconds kPollInterval{200};
constexpr std::chrono::milliseconds kRequestTimeout{5000};

// The API's `{"error":{"message":...}}`, else the raw body (shortened).
std::string api_error(const http::HttpResponse& response) {
    const Json j = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("error") && j["error"].is_object()
        && j["error"].contains("message") && j["error"]["message"].is_string()) {
        return fmt::format("HTTP {}: {}", response.status,
                           j["error"]["message"].get<std::string>());
    }
    return fmt::format("HTTP {}: {}", response.status, response.body.substr(0, 200));
}

}  // namespace

ServiceClient::ServiceClient(std::string base_url, std::string api_token)
    : base_url_(std::move(base_url)), api_token_(std::move(api_token)) {
    while (!base_url_.empty() && base_url_.back() == '/') {
        base_url_.pop_back();
    }
    http::HttpClientOptions options;
    options.proxy = "";
    options.user_agent = "deepfake-voice-detector-simulate";
    client_ = std::make_unique<http::HttpClient>(options);
}

base::Result<http::HttpResponse> ServiceClient::get(const std::string& path) {
    http::HttpRequest request;
    request.url = base_url_ + path;
    request.timeout = kRequestTimeout;
    if (!api_token_.empty()) {
        request.headers.add("Authorization", "Bearer " + api_token_);
    }
    auto response = client_->send(request);
    if (!response) {
        return base::fail(base::Errc::Io, response.error().message);
    }
    return std::move(*response);
}

base::Result<void> ServiceClient::wait_healthy(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string last;
    while (true) {
        auto response = get("/health");
        if (response && response->status == 200) {
            return {};
        }
        last = response ? fmt::format("HTTP {}", response->status) : response.error().message;
        if (std::chrono::steady_clock::now() >= deadline) {
            return base::fail(base::Errc::Io,
                              fmt::format("service not healthy at {}/health: {}", base_url_, last));
        }
        std::this_thread::sleep_for(kPollInterval);
    }
}

base::Result<ServiceCallView> ServiceClient::call(std::string_view call_control_id) {
    auto response = get("/calls/" + std::string(call_control_id));
    if (!response) {
        return response.error();
    }
    if (response->status == 404) {
        return base::fail(base::Errc::NotFound, api_error(*response));
    }
    if (response->status != 200) {
        return base::fail(base::Errc::InvalidArgument, api_error(*response));
    }
    const Json j = Json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
        return base::fail(base::Errc::Corrupt, "GET /calls/{id}: the reply is not a JSON object");
    }
    const auto text = [&](const char* key) {
        const auto it = j.find(key);
        return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    const auto number = [&](const char* key) -> std::optional<double> {
        const auto it = j.find(key);
        return it != j.end() && it->is_number() ? std::optional<double>(it->get<double>())
                                                : std::nullopt;
    };
    ServiceCallView view;
    view.id = text("id");
    view.status = text("status");
    view.verdict = text("verdict");
    view.score = number("score");
    view.speech_seconds = number("speech_seconds");
    const auto flagged = j.find("flagged");
    view.flagged = flagged != j.end() && flagged->is_boolean() && flagged->get<bool>();
    const auto alerts = j.find("alerts");
    view.alerts = alerts != j.end() && alerts->is_array() ? alerts->size() : 0;
    const auto recordings = j.find("recordings");
    if (recordings != j.end() && recordings->is_array() && !recordings->empty()
        && recordings->back().is_object()) {
        const Json& archive = recordings->back().value("archive", Json::object());
        if (archive.is_object()) {
            const auto field = [&](const char* key) {
                const auto it = archive.find(key);
                return it != archive.end() && it->is_string() ? it->get<std::string>()
                                                              : std::string();
            };
            view.recording_copy = field("status");
            view.recording_sha256 = field("sha256");
            view.recording_error = field("last_error");
            const auto bytes = archive.find("bytes");
            if (bytes != archive.end() && bytes->is_number_integer()) {
                view.recording_bytes = bytes->get<std::int64_t>();
            }
        }
    }
    return view;
}

base::Result<ServiceCallView> ServiceClient::poll_call(
        std::string_view call_control_id, std::chrono::milliseconds timeout,
        const std::function<bool(const base::Result<ServiceCallView>&)>& again) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        auto view = call(call_control_id);
        if (!again(view) || std::chrono::steady_clock::now() >= deadline) {
            return view;
        }
        std::this_thread::sleep_for(kPollInterval);
    }
}

base::Result<ServiceCallView> ServiceClient::recording_settled(std::string_view call_control_id,
                                                               std::chrono::milliseconds timeout) {
    return poll_call(call_control_id, timeout, [](const base::Result<ServiceCallView>& view) {
        return view && (view->recording_copy.empty() || view->recording_copy == "pending");
    });
}

base::Result<ServiceCallView> ServiceClient::ended_call(std::string_view call_control_id,
                                                        std::chrono::milliseconds timeout) {
    return poll_call(call_control_id, timeout, [](const base::Result<ServiceCallView>& view) {
        return view ? view->status != "ended"
                    : view.error().code == base::make_error_code(base::Errc::NotFound);
    });
}

}  // namespace dvd::sim

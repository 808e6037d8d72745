#include "media/media_routes.hpp"

#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/log.hpp"
#include "media/media_session.hpp"
#include "protocol/errc.hpp"
#include "service/secrets.hpp"

namespace dvd::media {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kTokenHeader = "x-telnyx-streaming-auth-token";
/// Idle streams are looked for at most this often by `handle` (the sweep walks the whole table).
constexpr auto kSweepInterval = std::chrono::seconds(1);

/// The HTTP answer to a relayed stream that ended with an error.
net::Response error_response(const StreamClose& close, std::size_t frame_index) {
    const std::string message = fmt::format("frame [{}]: {}", frame_index, close.reason);
    if (close.kind == "unknown_call") {
        return net::Response::json_error(404, close.kind, message);
    }
    if (close.kind == "bad_stream_token") {
        return net::Response::json_error(401, close.kind, message);
    }
    if (close.kind == "frame_too_large") {
        return net::Response::json_error(413, close.kind, message);
    }
    if (close.kind == "malformed_frame") {
        return net::Response::json_error(400, close.kind, message);
    }
    if (close.kind == "internal_error") {
        return net::Response::json_error(500, close.kind, message);
    }
    // invalid_media, unsupported_media, media_before_start, ...
    return net::Response::json_error(422, close.kind.empty() ? "invalid_media" : close.kind,
                                     message);
}

/// The stream a frame belongs to; empty for `connected` (which has none).
std::string stream_id_of(const protocol::InboundMessage& message) {
    return std::visit(
            [](const auto& m) -> std::string {
                if constexpr (requires { m.stream_id; }) {
                    return m.stream_id;
                } else {
                    return {};
                }
            },
            message);
}

}  // namespace

struct MediaRelay::Entry {
    Entry(MediaDeps& deps, std::string presented_token)
        : token(presented_token), stream(deps, std::move(presented_token)) {}

    const std::string token;  ///< what the starting request presented
    std::mutex mutex;         ///< held while this stream's frames are handled
    MediaStream stream;       ///< guarded by mutex
    std::chrono::steady_clock::time_point last_used{};  ///< guarded by the relay's mutex_
};

MediaRelay::MediaRelay(MediaDeps& deps, MediaRelayOptions options, Clock clock)
    : deps_(deps), options_(options), clock_(std::move(clock)) {
    if (!clock_) {
        clock_ = [] {
            return std::chrono::steady_clock::now();
        };
    }
}

MediaRelay::~MediaRelay() {
    end_all("shutdown");
}

std::size_t MediaRelay::size() const {
    std::lock_guard lock(mutex_);
    return streams_.size();
}

std::shared_ptr<MediaRelay::Entry> MediaRelay::find(const std::string& stream_id) {
    std::lock_guard lock(mutex_);
    const auto it = streams_.find(stream_id);
    if (it == streams_.end()) {
        return nullptr;
    }
    it->second->last_used = clock_();
    return it->second;
}

void MediaRelay::erase(const std::string& stream_id, const Entry* entry) {
    std::lock_guard lock(mutex_);
    const auto it = streams_.find(stream_id);
    if (it != streams_.end() && it->second.get() == entry) {
        streams_.erase(it);
    }
}

bool MediaRelay::sweep_due() {
    std::lock_guard lock(mutex_);
    const auto now = clock_();
    if (now - last_sweep_ < kSweepInterval && now >= last_sweep_) {
        return false;
    }
    last_sweep_ = now;
    return true;
}

std::size_t MediaRelay::expire_idle() {
    std::vector<std::shared_ptr<Entry>> expired;
    {
        std::lock_guard lock(mutex_);
        const auto now = clock_();
        for (auto it = streams_.begin(); it != streams_.end();) {
            if (now - it->second->last_used >= options_.idle_timeout) {
                expired.push_back(std::move(it->second));
                it = streams_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (const auto& entry : expired) {
        std::lock_guard lock(entry->mutex);
        entry->stream.end("relay idle timeout", true, true);
    }
    return expired.size();
}

void MediaRelay::end_all(std::string_view reason) {
    std::unordered_map<std::string, std::shared_ptr<Entry>> all;
    {
        std::lock_guard lock(mutex_);
        all.swap(streams_);
    }
    for (auto& [id, entry] : all) {
        static_cast<void>(id);
        std::lock_guard lock(entry->mutex);
        entry->stream.end(std::string(reason), false, false);
    }
}

net::Response MediaRelay::handle(const net::Request& request) {
    if (sweep_due()) {
        expire_idle();
    }
    Json root = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded() || !(root.is_object() || root.is_array())) {
        return net::Response::json_error(400, "malformed_frame",
                                         "the body must be a media frame object or an array");
    }
    if (root.is_object()) {
        root = Json::array({std::move(root)});
    }
    if (root.size() > options_.max_frames_per_request) {
        return net::Response::json_error(413, "too_many_frames",
                                         fmt::format("{} frames in one request; at most {}",
                                                     root.size(), options_.max_frames_per_request));
    }
    // Parse every frame before applying any: a malformed batch changes nothing.
    std::vector<protocol::InboundMessage> frames;
    frames.reserve(root.size());
    for (std::size_t i = 0; i < root.size(); ++i) {
        auto parsed = protocol::parse_inbound_message(root[i].dump(), deps_.limits);
        if (!parsed) {
            if (parsed.error().code == protocol::Errc::UnknownEvent) {
                continue;
            }
            const bool too_large = parsed.error().code == protocol::Errc::TooLarge;
            return net::Response::json_error(
                    too_large ? 413 : 400, too_large ? "frame_too_large" : "malformed_frame",
                    fmt::format("frame [{}]: {}", i, parsed.error().message));
        }
        frames.push_back(std::move(*parsed));
    }

    std::string token(request.header(kTokenHeader).value_or(""));
    Json streams = Json::array();
    std::size_t applied = 0;
    for (std::size_t i = 0; i < frames.size(); ++i) {
        auto& frame = frames[i];
        if (const auto* connected = std::get_if<protocol::ConnectedMessage>(&frame)) {
            if (token.empty() && connected->auth_token) {
                token = *connected->auth_token;
            }
            ++applied;
            continue;
        }
        const std::string stream_id = stream_id_of(frame);
        std::shared_ptr<Entry> entry = find(stream_id);
        if (!entry) {
            if (!std::holds_alternative<protocol::StartMessage>(frame)) {
                return net::Response::json_error(
                        409, "stream_not_started",
                        fmt::format("frame [{}]: no open stream with stream_id '{}' (never "
                                    "started, stopped, or closed for an error)",
                                    i, stream_id));
            }
            {
                std::lock_guard lock(mutex_);
                if (streams_.size() >= options_.max_streams) {
                    net::Response busy = net::Response::json_error(
                            503, "too_many_streams", "too many relayed streams are open");
                    busy.headers.emplace_back("Retry-After", "1");
                    return busy;
                }
            }
            entry = std::make_shared<Entry>(deps_, token);
            std::unique_lock stream_lock(entry->mutex);
            if (auto close = entry->stream.handle(std::move(frame))) {
                return error_response(*close, i);
            }
            std::lock_guard lock(mutex_);
            entry->last_used = clock_();
            const auto [it, inserted] = streams_.emplace(stream_id, entry);
            if (!inserted) {
                // Another worker started the same stream_id meanwhile: keep theirs.
                stream_lock.unlock();
                entry->stream.end("duplicate relayed start", true, false);
                entry = it->second;
            }
            ++applied;
            continue;
        }
        if (!service::secrets_equal(token, entry->token)) {
            deps_.metrics.media_streams_rejected.add();
            return net::Response::json_error(
                    401, "bad_stream_token",
                    fmt::format("frame [{}]: the token differs from the one that started the "
                                "stream",
                                i));
        }
        std::optional<StreamClose> close;
        {
            std::lock_guard lock(entry->mutex);
            close = entry->stream.handle(std::move(frame));
        }
        if (close) {
            erase(stream_id, entry.get());
            if (close->error) {
                return error_response(*close, i);
            }
            streams.push_back(
                    Json{{"stream_id", stream_id}, {"state", "ended"}, {"reason", close->reason}});
        }
        ++applied;
    }
    return net::Response::json(
            200, Json{{"status", "ok"}, {"frames", applied}, {"ended", std::move(streams)}}.dump());
}

void add_media_routes(net::Router& router, MediaDeps& deps, MediaRelay& relay) {
    for (const char* path : {"/media", "/webhooks/media"}) {
        router.add_websocket(path, [&deps](const net::Request& upgrade) {
            return accept_media_session(deps, upgrade);
        });
    }
    router.add(net::Method::Post, "/webhooks/media",
               [&relay](net::Request request, net::Responder responder) {
                   std::move(responder).send(relay.handle(request));
               });
}

}  // namespace dvd::media

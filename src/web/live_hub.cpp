#include "web/live_hub.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/log.hpp"

namespace dvd::web {
namespace {

using Json = nlohmann::ordered_json;

Json score_json(const service::ScoreChanged& event, bool flagged) {
    return Json{
            {"call_id", event.call_id},
            {"call_control_id", event.call_control_id},
            {"at_ms", event.at_ms},
            {"call_score", event.score.probability},
            {"call_llr", event.score.llr},
            {"window_score", event.window.probability},
            {"window_llr", event.window.llr},
            {"verdict", pipeline::to_string(event.score.verdict)},
            {"speech_seconds", event.score.speech_seconds},
            {"windows", event.score.windows},
            {"flagged", flagged},
            {"crossed_threshold", event.crossed_threshold},
    };
}

// A dump that never throws: invalid UTF-8 in an id coming from the wire is replaced, not fatal.
std::string dump(const Json& json) {
    return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

LiveHub::LiveHub(service::CallEventSink& next, LiveHubOptions options)
    : next_(next), options_(std::move(options)) {}

LiveHub::~LiveHub() {
    close_all();
}

std::int64_t LiveHub::now_ms() const {
    if (options_.now_ms) {
        return options_.now_ms();
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
}

void LiveHub::on_stream_started(service::StreamStarted event) {
    const std::int64_t started_at_ms = now_ms();
    const std::string data = dump(Json{
            {"call_id", event.call_id},
            {"call_control_id", event.call_control_id},
            {"stream_id", event.stream_id},
            {"encoding", event.encoding},
            {"sample_rate_hz", event.sample_rate_hz},
            {"started_at_ms", started_at_ms},
    });
    LiveCall call;
    call.call_id = event.call_id;
    call.call_control_id = event.call_control_id;
    call.stream_id = event.stream_id;
    call.encoding = event.encoding;
    call.sample_rate_hz = event.sample_rate_hz;
    call.started_at_ms = started_at_ms;

    next_.on_stream_started(std::move(event));

    std::lock_guard lock(mutex_);
    auto found = live_.find(call.call_id);
    if (found != live_.end()) {
        // The same call streams again (a reconnect): keep its points and flag, take the new
        // stream's identity.
        found->second.stream_id = call.stream_id;
        found->second.encoding = call.encoding;
        found->second.sample_rate_hz = call.sample_rate_hz;
    } else if (live_.size() < options_.max_live_calls) {
        std::string key = call.call_id;
        live_.emplace(std::move(key), std::move(call));
    }
    publish_locked("stream_started", data);
}

void LiveHub::on_score_changed(service::ScoreChanged event) {
    const service::ScoreChanged copy = event;
    next_.on_score_changed(std::move(event));

    std::lock_guard lock(mutex_);
    bool flagged = copy.crossed_threshold;
    auto found = live_.find(copy.call_id);
    if (found != live_.end()) {
        LiveCall& call = found->second;
        call.flagged = call.flagged || copy.crossed_threshold;
        flagged = call.flagged;
        call.has_score = true;
        call.latest = copy;
        const Point point{copy.at_ms, copy.score.probability, copy.window.probability,
                          copy.score.speech_seconds};
        if (options_.max_points_per_call > 0) {
            if (call.points.size() < options_.max_points_per_call) {
                call.points.push_back(point);
            } else {
                call.points[call.next_point] = point;
                call.next_point = (call.next_point + 1) % call.points.size();
            }
        }
    }
    publish_locked("score", dump(score_json(copy, flagged)));
}

void LiveHub::on_stream_ended(service::StreamEnded event) {
    Json json{
            {"call_id", event.call_id},
            {"call_control_id", event.call_control_id},
            {"stream_id", event.stream_id},
            {"reason", event.reason},
            {"error", event.error},
            {"call_score", event.score.probability},
            {"call_llr", event.score.llr},
            {"verdict", pipeline::to_string(event.score.verdict)},
            {"speech_seconds", event.score.speech_seconds},
            {"flagged", false},
            {"ended_at_ms", now_ms()},
    };
    const std::string call_id = event.call_id;
    const std::string stream_id = event.stream_id;
    next_.on_stream_ended(std::move(event));

    std::lock_guard lock(mutex_);
    auto found = live_.find(call_id);
    // A late end of an earlier stream of the same call leaves the newer stream's entry alone.
    if (found != live_.end() && found->second.stream_id == stream_id) {
        json["flagged"] = found->second.flagged;
        live_.erase(found);
    }
    publish_locked("stream_ended", dump(json));
}

void LiveHub::publish_locked(std::string_view event, const std::string& data) {
    ++events_published_;
    std::erase_if(subscribers_, [&](const std::shared_ptr<net::Responder::EventStream>& stream) {
        if (stream->send(event, data)) {
            return false;
        }
        if (stream->is_open()) {
            // Its queue is full: a client that does not keep up is cut off rather than fed a
            // stream with holes; its EventSource reconnects and starts from a new snapshot.
            ++subscribers_dropped_;
            stream->close();
            DVD_LOG_RATE_LIMITED(Api, Warn,
                                 "dashboard event stream closed: client too slow (queue full)");
        }
        return true;
    });
}

bool LiveHub::has_room() const {
    std::lock_guard lock(mutex_);
    return !closed_ && subscribers_.size() < options_.max_subscribers;
}

bool LiveHub::subscribe(std::shared_ptr<net::Responder::EventStream> stream) {
    if (!stream) {
        return false;
    }
    std::lock_guard lock(mutex_);
    // Streams whose clients left are noticed here too, not only when an event is published.
    std::erase_if(subscribers_, [](const auto& existing) { return !existing->is_open(); });
    if (closed_ || subscribers_.size() >= options_.max_subscribers) {
        stream->close();
        return false;
    }
    if (!stream->send("snapshot", snapshot_json_locked())) {
        stream->close();
        return false;
    }
    ++subscribed_total_;
    subscribers_.push_back(std::move(stream));
    return true;
}

void LiveHub::close_all() {
    std::vector<std::shared_ptr<net::Responder::EventStream>> streams;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        streams.swap(subscribers_);
    }
    for (const auto& stream : streams) {
        stream->close();
    }
}

std::string LiveHub::snapshot_json() const {
    std::lock_guard lock(mutex_);
    return snapshot_json_locked();
}

std::string LiveHub::snapshot_json_locked() const {
    std::vector<const LiveCall*> calls;
    calls.reserve(live_.size());
    for (const auto& [id, call] : live_) {
        calls.push_back(&call);
    }
    std::sort(calls.begin(), calls.end(), [](const LiveCall* a, const LiveCall* b) {
        return a->started_at_ms != b->started_at_ms ? a->started_at_ms < b->started_at_ms
                                                    : a->call_id < b->call_id;
    });
    Json list = Json::array();
    for (const LiveCall* call : calls) {
        Json points = Json::array();
        const std::size_t count = call->points.size();
        for (std::size_t i = 0; i < count; ++i) {
            const Point& point = call->points[(call->next_point + i) % count];
            points.push_back(Json{{"at_ms", point.at_ms},
                                  {"call_score", point.call_score},
                                  {"window_score", point.window_score},
                                  {"speech_seconds", point.speech_seconds}});
        }
        list.push_back(Json{
                {"call_id", call->call_id},
                {"call_control_id", call->call_control_id},
                {"stream_id", call->stream_id},
                {"encoding", call->encoding},
                {"sample_rate_hz", call->sample_rate_hz},
                {"started_at_ms", call->started_at_ms},
                {"flagged", call->flagged},
                {"latest", call->has_score ? score_json(call->latest, call->flagged) : Json()},
                {"points", std::move(points)},
        });
    }
    return dump(Json{{"threshold", options_.detection_threshold},
                     {"server_time_ms", now_ms()},
                     {"calls", std::move(list)}});
}

LiveHubStats LiveHub::stats() const {
    std::lock_guard lock(mutex_);
    LiveHubStats stats;
    stats.subscribers = static_cast<std::uint64_t>(
            std::count_if(subscribers_.begin(), subscribers_.end(),
                          [](const auto& stream) { return stream->is_open(); }));
    stats.subscribed_total = subscribed_total_;
    stats.events_published = events_published_;
    stats.subscribers_dropped = subscribers_dropped_;
    stats.live_calls = live_.size();
    return stats;
}

}  // namespace dvd::web

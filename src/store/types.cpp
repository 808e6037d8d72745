#include "store/types.hpp"

#include <array>
#include <utility>

#include <fmt/format.h>

namespace dvd::store {
namespace {

template <class Enum, std::size_t N>
base::Result<Enum> parse_name(std::string_view text,
                              const std::array<std::pair<Enum, std::string_view>, N>& names,
                              std::string_view what) {
    for (const auto& [value, name] : names) {
        if (name == text) {
            return value;
        }
    }
    return base::fail(base::Errc::InvalidArgument, fmt::format("unknown {} '{}'", what, text));
}

template <class Enum, std::size_t N>
std::string_view name_of(Enum value,
                         const std::array<std::pair<Enum, std::string_view>, N>& names) {
    for (const auto& [candidate, name] : names) {
        if (candidate == value) {
            return name;
        }
    }
    return "unknown";
}

constexpr std::array<std::pair<CallDirection, std::string_view>, 2> kDirections{{
        {CallDirection::Inbound, "inbound"},
        {CallDirection::Outbound, "outbound"},
}};

constexpr std::array<std::pair<CallState, std::string_view>, 5> kStates{{
        {CallState::Initiated, "initiated"},
        {CallState::Answered, "answered"},
        {CallState::Streaming, "streaming"},
        {CallState::Ended, "ended"},
        {CallState::Failed, "failed"},
}};

constexpr std::array<std::pair<AlertChannel, std::string_view>, 2> kChannels{{
        {AlertChannel::Slack, "slack"},
        {AlertChannel::Json, "json"},
}};

constexpr std::array<std::pair<AlertStatus, std::string_view>, 3> kAlertStatuses{{
        {AlertStatus::Pending, "pending"},
        {AlertStatus::Sent, "sent"},
        {AlertStatus::Failed, "failed"},
}};

constexpr std::array<std::pair<ArchiveStatus, std::string_view>, 4> kArchiveStatuses{{
        {ArchiveStatus::Pending, "pending"},
        {ArchiveStatus::Stored, "stored"},
        {ArchiveStatus::Failed, "failed"},
        {ArchiveStatus::Deleted, "deleted"},
}};

constexpr std::array<std::pair<AnalysisTrigger, std::string_view>, 3> kTriggers{{
        {AnalysisTrigger::Threshold, "threshold"},
        {AnalysisTrigger::Hangup, "hangup"},
        {AnalysisTrigger::Api, "api"},
}};

}  // namespace

std::string_view to_string(AnalysisTrigger trigger) {
    return name_of(trigger, kTriggers);
}

base::Result<AnalysisTrigger> parse_analysis_trigger(std::string_view text) {
    return parse_name(text, kTriggers, "analysis trigger");
}

std::string_view to_string(CallDirection direction) {
    return name_of(direction, kDirections);
}

std::string_view to_string(CallState state) {
    return name_of(state, kStates);
}

std::string_view to_string(AlertChannel channel) {
    return name_of(channel, kChannels);
}

std::string_view to_string(AlertStatus status) {
    return name_of(status, kAlertStatuses);
}

base::Result<CallDirection> parse_call_direction(std::string_view text) {
    return parse_name(text, kDirections, "call direction");
}

base::Result<CallState> parse_call_state(std::string_view text) {
    return parse_name(text, kStates, "call state");
}

base::Result<AlertChannel> parse_alert_channel(std::string_view text) {
    return parse_name(text, kChannels, "alert channel");
}

base::Result<AlertStatus> parse_alert_status(std::string_view text) {
    return parse_name(text, kAlertStatuses, "alert status");
}

std::string_view to_string(ArchiveStatus status) {
    return name_of(status, kArchiveStatuses);
}

base::Result<ArchiveStatus> parse_archive_status(std::string_view text) {
    return parse_name(text, kArchiveStatuses, "recording archive status");
}

bool is_terminal(CallState state) {
    return state == CallState::Ended || state == CallState::Failed;
}

}  // namespace dvd::store

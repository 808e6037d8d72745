#include "telnyx/call_control_client.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "base/check.hpp"

namespace dvd::telnyx {
namespace {

using protocol::CommandRequest;

bool is_http_url(std::string_view url) noexcept {
    return url.starts_with("https://") || url.starts_with("http://");
}

bool is_printable_token(std::string_view text) noexcept {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7F;
    });
}

std::string_view strip_trailing_slashes(std::string_view base) noexcept {
    while (base.ends_with('/')) {
        base.remove_suffix(1);
    }
    return base;
}

// Derives independent engines for ids and jitter from one seed.
std::uint64_t derive(std::uint64_t seed, std::uint32_t stream) {
    std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32U),
                      stream};
    std::mt19937_64 engine(seq);
    return engine();
}

http::RetryDecision classify(const http::HttpResponse& response) {
    return protocol::classify_command_response(response.status, response.body)
                           == protocol::CommandOutcome::Retry
                   ? http::RetryDecision::Retry
                   : http::RetryDecision::Final;
}

void take_first_error(const http::HttpResponse& response, CommandOutcome& outcome) {
    if (auto errors = protocol::parse_error_response(response.body);
        errors && !errors->errors.empty()) {
        const auto& first = errors->errors.front();
        outcome.error_code = first.code;
        outcome.error_title = first.title;
        outcome.error_detail = first.detail;
    }
}

std::string attempts_text(int attempts) {
    return fmt::format("after {} attempt{}", attempts, attempts == 1 ? "" : "s");
}

std::string describe_reply(const CommandOutcome& o) {
    std::string text = fmt::format("{}: HTTP {}", o.action, o.http_status);
    if (!o.error_code.empty()) {
        text += fmt::format(" {} {}", o.error_code, o.error_title);
    }
    return text;
}

}  // namespace

base::Result<void> validate(const CallControlOptions& options) {
    const auto base = strip_trailing_slashes(options.api_base);
    if (!is_http_url(base) || !is_printable_token(base) || base.find("://") + 3 >= base.size()) {
        return base::fail(base::Errc::InvalidArgument,
                          "Call Control api_base must be an http(s) URL without spaces");
    }
    if (!is_printable_token(options.api_key)) {
        return base::fail(base::Errc::InvalidArgument,
                          "Call Control api_key must be non-empty printable ASCII without spaces");
    }
    if (options.request_timeout.count() <= 0) {
        return base::fail(base::Errc::InvalidArgument,
                          "Call Control request_timeout must be positive");
    }
    return http::validate(options.retry);
}

std::string_view to_string(CommandStatus status) noexcept {
    switch (status) {
        case CommandStatus::Ok:
            return "ok";
        case CommandStatus::CallEnded:
            return "call_ended";
        case CommandStatus::Rejected:
            return "rejected";
        case CommandStatus::RetriesExhausted:
            return "retries_exhausted";
        case CommandStatus::TransportError:
            return "transport_error";
        case CommandStatus::InvalidCommand:
            return "invalid_command";
        case CommandStatus::BadReply:
            return "bad_reply";
        case CommandStatus::Cancelled:
            return "cancelled";
    }
    return "unknown";
}

CallControlClient::CallControlClient(CallControlOptions options, http::HttpSender& sender,
                                     http::Sleeper& sleeper, std::uint64_t seed)
    : options_(std::move(options)),
      sender_(sender),
      sleeper_(sleeper),
      retry_(options_.retry, derive(seed, 1)),
      ids_(derive(seed, 2)) {
    DVD_CHECK(validate(options_).has_value(), "CallControlOptions must be validated first");
    options_.api_base = std::string(strip_trailing_slashes(options_.api_base));
}

std::string CallControlClient::next_command_id() {
    std::uint64_t hi = ids_();
    std::uint64_t lo = ids_();
    hi = (hi & ~std::uint64_t{0xF000}) | std::uint64_t{0x4000};         // version 4
    lo = (lo & (~std::uint64_t{0} >> 2U)) | (std::uint64_t{1} << 63U);  // variant 0b10
    return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32U, (hi >> 16U) & 0xFFFFU,
                       hi & 0xFFFFU, lo >> 48U, lo & 0xFFFF'FFFF'FFFFU);
}

template <class Command, class Build>
CommandOutcome CallControlClient::run(std::string_view action, Command& command, Build&& build,
                                      const ReplyReader& read_ok) {
    if (command.command_id.empty()) {
        command.command_id = next_command_id();
    }
    auto request = std::forward<Build>(build)(command);
    if (!request) {
        CommandOutcome outcome;
        outcome.status = CommandStatus::InvalidCommand;
        outcome.action = std::string(action);
        outcome.command_id = command.command_id;
        outcome.message = fmt::format("{}: not sent: {}", action, request.error().message);
        return outcome;
    }
    return execute(action, command.command_id, *request, read_ok);
}

CommandOutcome CallControlClient::execute(std::string_view action, std::string command_id,
                                          const CommandRequest& request,
                                          const ReplyReader& read_ok) {
    CommandOutcome outcome;
    outcome.action = std::string(action);
    outcome.command_id = std::move(command_id);

    http::HttpRequest http_request{.method = request.method,
                                   .url = options_.api_base + request.path,
                                   .headers = {{"Authorization", "Bearer " + options_.api_key},
                                               {"Content-Type", "application/json"},
                                               {"Accept", "application/json"}},
                                   .body = request.body,
                                   .timeout = options_.request_timeout};
    const auto sent = http::send_with_retries(sender_, http_request, retry_, classify, sleeper_);
    outcome.attempts = sent.attempts;
    outcome.server_delay = sent.server_delay;
    const bool cancelled = sent.stop_reason == http::StopReason::Cancelled;

    if (!sent.response) {
        outcome.status = cancelled ? CommandStatus::Cancelled : CommandStatus::TransportError;
        outcome.message = fmt::format("{}: {} {}", action, sent.response.error().message,
                                      attempts_text(sent.attempts));
        return outcome;
    }
    const http::HttpResponse& response = *sent.response;
    outcome.http_status = response.status;
    switch (protocol::classify_command_response(response.status, response.body)) {
        case protocol::CommandOutcome::Ok:
            outcome.status = CommandStatus::Ok;
            outcome.message = fmt::format("{}: ok {}", action, attempts_text(sent.attempts));
            if (read_ok) {
                if (auto read = read_ok(response.body); !read) {
                    outcome.status = CommandStatus::BadReply;
                    outcome.message = fmt::format("{}: HTTP {} but {}", action, response.status,
                                                  read.error().message);
                    return outcome;
                }
            } else if (auto result = protocol::parse_command_result(response.body)) {
                outcome.recording_id = result->recording_id;
            }
            return outcome;
        case protocol::CommandOutcome::CallEnded:
            outcome.status = CommandStatus::CallEnded;
            break;
        case protocol::CommandOutcome::Retry:
            outcome.status = cancelled ? CommandStatus::Cancelled : CommandStatus::RetriesExhausted;
            break;
        case protocol::CommandOutcome::Fail:
            outcome.status = CommandStatus::Rejected;
            break;
    }
    take_first_error(response, outcome);
    outcome.message = fmt::format("{} {}", describe_reply(outcome), attempts_text(sent.attempts));
    if (sent.stop_reason == http::StopReason::ServerDelayTooLong && outcome.server_delay) {
        outcome.message +=
                fmt::format(" (Telnyx asked to wait {} ms)", outcome.server_delay->count());
    }
    return outcome;
}

CommandOutcome CallControlClient::answer(std::string_view call_control_id,
                                         protocol::AnswerCommand command) {
    return run("answer", command,
               [&](const auto& c) { return protocol::build_answer(call_control_id, c); });
}

CommandOutcome CallControlClient::speak(std::string_view call_control_id,
                                        protocol::SpeakCommand command) {
    return run("speak", command,
               [&](const auto& c) { return protocol::build_speak(call_control_id, c); });
}

CommandOutcome CallControlClient::streaming_start(std::string_view call_control_id,
                                                  protocol::StreamingStartCommand command) {
    return run("streaming_start", command,
               [&](const auto& c) { return protocol::build_streaming_start(call_control_id, c); });
}

CommandOutcome CallControlClient::streaming_stop(std::string_view call_control_id,
                                                 protocol::StreamingStopCommand command) {
    return run("streaming_stop", command,
               [&](const auto& c) { return protocol::build_streaming_stop(call_control_id, c); });
}

CommandOutcome CallControlClient::record_start(std::string_view call_control_id,
                                               protocol::RecordStartCommand command) {
    return run("record_start", command,
               [&](const auto& c) { return protocol::build_record_start(call_control_id, c); });
}

CommandOutcome CallControlClient::record_stop(std::string_view call_control_id,
                                              protocol::RecordStopCommand command) {
    return run("record_stop", command,
               [&](const auto& c) { return protocol::build_record_stop(call_control_id, c); });
}

CommandOutcome CallControlClient::hangup(std::string_view call_control_id,
                                         protocol::HangupCommand command) {
    return run("hangup", command,
               [&](const auto& c) { return protocol::build_hangup(call_control_id, c); });
}

CommandOutcome CallControlClient::transfer(std::string_view call_control_id,
                                           protocol::TransferCommand command) {
    return run("transfer", command,
               [&](const auto& c) { return protocol::build_transfer(call_control_id, c); });
}

CommandOutcome CallControlClient::playback_start(std::string_view call_control_id,
                                                 protocol::PlaybackStartCommand command) {
    return run("playback_start", command,
               [&](const auto& c) { return protocol::build_playback_start(call_control_id, c); });
}

DialOutcome CallControlClient::dial(protocol::DialCommand command) {
    DialOutcome result;
    result.outcome = run(
            "dial", command, [](const auto& c) { return protocol::build_dial(c); },
            [&result](std::string_view body) -> base::Result<void> {
                auto call = protocol::parse_dial_result(body);
                if (!call) {
                    return call.error();
                }
                result.call = std::move(*call);
                return {};
            });
    return result;
}

CallStatusOutcome CallControlClient::call_status(std::string_view call_control_id) {
    CallStatusOutcome result;
    auto request = protocol::build_call_status(call_control_id);
    if (!request) {
        result.outcome.status = CommandStatus::InvalidCommand;
        result.outcome.action = "call_status";
        result.outcome.message = fmt::format("call_status: not sent: {}", request.error().message);
        return result;
    }
    result.outcome = execute("call_status", "", *request,
                             [&result](std::string_view body) -> base::Result<void> {
                                 auto status = protocol::parse_call_status(body);
                                 if (!status) {
                                     return status.error();
                                 }
                                 result.call = std::move(*status);
                                 return {};
                             });
    return result;
}

}  // namespace dvd::telnyx

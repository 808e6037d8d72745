// Runs every example of docs/api.md against the real handlers: each ```http request block is
// sent to the ApiService (or the media relay) over the data set of api_test_support.hpp, and the
// response block after it must match: exactly (JSON equality), or in shape when the doc says
// "(shape)" (same keys and JSON types, recursively). ```json frame blocks after a "Frame" line
// must parse as media-stream frames. Set DVD_API_DOCS_DUMP=1 to print the actual responses.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api_test_support.hpp"
#include "media/audio_archive.hpp"
#include "media/media_routes.hpp"

namespace dvd::api {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kToken = "docs-token-0123456789";

struct Example {
    int line = 0;
    std::string request;
    int status = 0;
    bool shape_only = false;
    std::string kind;  ///< json, text
    std::string body;
};

struct Frame {
    int line = 0;
    std::string text;
};

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

/// The fenced block starting after line `i` (which is the opening fence); advances `i` past it.
std::string block(const std::vector<std::string>& lines, std::size_t& i) {
    std::string text;
    for (++i; i < lines.size() && lines[i] != "```"; ++i) {
        text += lines[i] + "\n";
    }
    return text;
}

void parse_doc(const std::vector<std::string>& lines, std::vector<Example>& examples,
               std::vector<Frame>& frames) {
    static const std::regex response_line(R"(^Response: `(\d{3})`( \(shape\))?)");
    bool frame_next = false;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string& line = lines[i];
        std::smatch m;
        if (line == "```http") {
            Example example;
            example.line = static_cast<int>(i) + 1;
            example.request = block(lines, i);
            examples.push_back(std::move(example));
        } else if (std::regex_search(line, m, response_line)) {
            EXPECT_FALSE(examples.empty())
                    << "docs/api.md:" << i + 1 << ": response before request";
            if (!examples.empty()) {
                examples.back().status = std::stoi(m[1]);
                examples.back().shape_only = m[2].matched;
            }
        } else if (line.rfind("Frame", 0) == 0) {
            frame_next = true;
        } else if ((line == "```json" || line == "```text") && !examples.empty()
                   && examples.back().status != 0 && examples.back().kind.empty() && !frame_next) {
            examples.back().kind = line.substr(3);
            examples.back().body = block(lines, i);
        } else if (line == "```json" && frame_next) {
            frames.push_back(Frame{static_cast<int>(i) + 1, block(lines, i)});
            frame_next = false;
        }
    }
}

net::Request to_request(const std::string& text) {
    std::istringstream in(text);
    std::string first;
    std::getline(in, first);
    std::istringstream parts(first);
    std::string method;
    std::string target;
    parts >> method >> target;
    net::Request request;
    request.method_name = method;
    request.method = method == "POST" ? net::Method::Post : net::Method::Get;
    request.target = target;
    const auto q = target.find('?');
    request.path = target.substr(0, q);
    if (q != std::string::npos) {
        auto query = net::parse_query(target.substr(q + 1));
        EXPECT_TRUE(query) << target;
        request.query = query.value_or(std::vector<net::Field>{});
    }
    std::string line;
    while (std::getline(in, line) && !line.empty()) {
        const auto colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (auto& c : name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        std::string value = line.substr(colon + 2);
        if (const auto t = value.find("<API_TOKEN>"); t != std::string::npos) {
            value.replace(t, 11, kToken);
        }
        request.headers.emplace_back(name, value);
    }
    std::string body;
    for (std::string rest; std::getline(in, rest);) {
        body += rest + "\n";
    }
    request.body = body;
    return request;
}

/// Same keys (in any order) and JSON types; arrays: every expected element against the first
/// actual one.
void expect_same_shape(const Json& expected, const Json& actual, const std::string& where) {
    const auto type = [](const Json& j) {
        return j.is_number() ? std::string("number") : std::string(j.type_name());
    };
    if (expected.is_null() || actual.is_null()) {
        return;  // nullable fields may be either
    }
    ASSERT_EQ(type(expected), type(actual)) << where;
    if (expected.is_object()) {
        for (auto it = expected.begin(); it != expected.end(); ++it) {
            ASSERT_TRUE(actual.contains(it.key())) << where << "." << it.key() << " missing";
            expect_same_shape(it.value(), actual[it.key()], where + "." + it.key());
        }
        for (auto it = actual.begin(); it != actual.end(); ++it) {
            EXPECT_TRUE(expected.contains(it.key()))
                    << where << "." << it.key() << " is not documented";
        }
    } else if (expected.is_array() && !actual.empty()) {
        for (const auto& e : expected) {
            expect_same_shape(e, actual[0], where + "[]");
        }
    }
}

class ApiDocsTest : public ::testing::Test {
protected:
    void SetUp() override {
        const std::string path = (dir_.path() / "docs.db").string();
        {
            auto writable = store::SqliteStore::open(path);
            ASSERT_TRUE(writable);
            test::seed(**writable);
        }
        ASSERT_TRUE(archive_.start());
        std::vector<std::int16_t> pcm;
        media::to_int16(dvd::test::speech_like_signal(4.0, 5), pcm);
        ASSERT_TRUE(archive_.append("call-a", pcm));
        auto reader = store::SqliteStore::open(path, store::StoreOptions{.read_only = true});
        ASSERT_TRUE(reader);
        // A writer for GET /ready's store_writer check, on a file of its own and never started:
        // what the analyses push stays queued, so the examples keep reading the data set as shown.
        auto writer_store = store::SqliteStore::open((dir_.path() / "writer.db").string());
        ASSERT_TRUE(writer_store);
        writer_ = std::make_unique<store::StoreWriter>(std::move(*writer_store),
                                                       store::StoreWriterOptions{});
        service_ = std::make_unique<ApiService>(
                ApiOptions{.api_token = kToken,
                           .version = "0.1.0",
                           .recordings_dir = dir_.path() / "recordings"}, std::move(*reader),
                ApiDeps{.model = media::test::test_model().model,
                        .tables = media::test::test_model().tables,
                        .archive = archive_,
                        .metrics = metrics_,
                        .active_sessions = [] { return std::int64_t{1}; },
                        .dial =
                                [](std::string to, std::string, Reply done) {
                                    done(net::Response::json(201, Json{{"call_id", "call-0001"},
                                                                       {"status", "initiated"},
                                                                       {"from", "+13125550199"},
                                                                       {"to", to}}
                                                                          .dump()));
                                },
                        .risk =
                                [](RiskRequest request, std::function<void(RiskResult)> done) {
                                    // What risk::RiskCoordinator answers for an analysis that
                                    // agreed with the detector (docs/risk-analysis.md).
                                    done(RiskResult{
                                            .status = "done",
                                            .record = store::AnalysisRecord{
                                                    .id = 2,
                                                    .call_id = request.call_id,
                                                    .trigger = store::AnalysisTrigger::Api,
                                                    .source = "detector+analysis",
                                                    .risk_level = "high",
                                                    .flagged = true,
                                                    .escalate = true,
                                                    .recommended_action = "verify_identity",
                                                    .reason = "analysis agreed with the detector",
                                                    .reasoning = "High detector score over the "
                                                                 "whole call.",
                                                    .indicators_json =
                                                            R"(["detector probability 0.93"])",
                                                    .detector_risk_level = "high",
                                                    .analysis_risk_level = "high",
                                                    .detector_probability =
                                                            request.probability,
                                                    .detector_llr = request.llr,
                                                    .detector_verdict = request.verdict,
                                                    .speech_seconds = request.speech_seconds,
                                                    .model = "moonshotai/Kimi-K2.6",
                                                    .prompt_version = "risk-v1",
                                                    .attempts = 1,
                                                    .http_status = 200,
                                                    .elapsed_ms = 1320,
                                                    .created_at_ms = test::kT0 + 3'600'000}});
                                },
                        .writer = writer_.get(),
                        .now_ms =
                                [] {
                                    return test::kT0 + 3'600'000;
                                }});
        harness_.add_call("call-relay", "v3:ctl-relay", "relay-token");
    }

    net::Response dispatch(net::Request request) {
        test::ReplyWaiter waiter;
        const std::string& p = request.path;
        static const std::regex analyze(R"(^/calls/([^/]+)/analyze$)");
        static const std::regex one(R"(^/calls/([^/]+)$)");
        static const std::regex audio(R"(^/calls/([^/]+)/recordings/([^/]+)/audio$)");
        std::smatch m;
        const bool post = request.method == net::Method::Post;
        if (p == "/webhooks/media" && post) {
            return relay_.handle(request);
        }
        if (p == "/calls") {
            post ? service_->create_call(std::move(request), waiter.reply())
                 : service_->list_calls(std::move(request), waiter.reply());
        } else if (std::regex_match(p, m, analyze) && post) {
            request.path_params = {{"id", m[1]}};
            service_->analyze_call(std::move(request), waiter.reply());
        } else if (std::regex_match(p, m, audio)) {
            request.path_params = {{"id", m[1]}, {"recording", m[2]}};
            service_->recording_audio(std::move(request), waiter.reply());
        } else if (std::regex_match(p, m, one)) {
            request.path_params = {{"id", m[1]}};
            service_->get_call(std::move(request), waiter.reply());
        } else if (p == "/health") {
            service_->health(request, waiter.reply());
        } else if (p == "/ready") {
            service_->ready(request, waiter.reply());
        } else if (p == "/metrics") {
            service_->metrics(request, waiter.reply());
        } else {
            ADD_FAILURE() << "no route for " << p;
            return {};
        }
        return waiter.wait();
    }

    media::test::TempDir dir_;
    service::Metrics metrics_;
    media::AudioArchive archive_{dir_.path() / "audio"};
    std::unique_ptr<store::StoreWriter> writer_;
    std::unique_ptr<ApiService> service_;
    media::test::Harness harness_;
    media::MediaRelay relay_{harness_.deps};
};

TEST_F(ApiDocsTest, EveryExampleMatchesTheHandlers) {
    const auto lines = read_lines(std::string(DVD_SOURCE_DIR) + "/docs/api.md");
    ASSERT_FALSE(lines.empty()) << "docs/api.md not found";
    std::vector<Example> examples;
    std::vector<Frame> frames;
    parse_doc(lines, examples, frames);
    ASSERT_GE(examples.size(), 15u);
    const bool dump = std::getenv("DVD_API_DOCS_DUMP") != nullptr;
    for (const auto& example : examples) {
        SCOPED_TRACE("docs/api.md:" + std::to_string(example.line) + "\n" + example.request);
        ASSERT_NE(example.status, 0) << "no Response line";
        const net::Response actual = dispatch(to_request(example.request));
        if (dump) {
            std::cout << "=== docs/api.md:" << example.line << " -> " << actual.status << "\n"
                      << (actual.content_type == "application/json"
                                  ? Json::parse(actual.body).dump(2)
                                  : actual.body)
                      << "\n";
        }
        EXPECT_EQ(actual.status, example.status) << actual.body;
        if (example.kind == "text") {
            std::istringstream in(example.body);
            for (std::string line; std::getline(in, line);) {
                if (line.rfind("# TYPE", 0) == 0) {
                    EXPECT_NE(actual.body.find(line), std::string::npos) << line;
                }
                // A header line of a non-JSON response ("Content-Type: audio/wav").
                const auto colon = line.find(": ");
                if (line.empty() || line[0] == '#' || colon == std::string::npos ||
                    line.find(' ') < colon) {
                    continue;
                }
                std::string name = line.substr(0, colon);
                std::transform(name.begin(), name.end(), name.begin(),
                               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
                const std::string value = line.substr(colon + 2);
                if (name == "content-type") {
                    EXPECT_EQ(actual.content_type, value);
                    continue;
                }
                const auto header = std::find_if(actual.headers.begin(), actual.headers.end(),
                                                  [&](const auto& h) { return h.first == name; });
                ASSERT_NE(header, actual.headers.end()) << line;
                EXPECT_EQ(header->second, value) << line;
            }
            continue;
        }
        ASSERT_EQ(example.kind, "json") << "no response body block";
        const Json expected = Json::parse(example.body, nullptr, false);
        ASSERT_FALSE(expected.is_discarded()) << "the example is not JSON";
        const Json got = Json::parse(actual.body, nullptr, false);
        ASSERT_FALSE(got.is_discarded()) << actual.body;
        if (example.shape_only) {
            expect_same_shape(expected, got, "$");
        } else {
            EXPECT_EQ(expected, got) << "actual:\n" << got.dump(2);
        }
    }
    ASSERT_GE(frames.size(), 4u);
    for (const auto& frame : frames) {
        auto parsed = protocol::parse_inbound_message(frame.text);
        EXPECT_TRUE(parsed) << "docs/api.md:" << frame.line << ": "
                            << (parsed ? "" : parsed.error().message);
    }
}

}  // namespace
}  // namespace dvd::api

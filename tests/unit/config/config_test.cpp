#include "config/config.hpp"

#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace dvd::config {
namespace {

using Vars = std::map<std::string, std::string, std::less<>>;

EnvLookup lookup(const Vars& vars) {
    return [vars](std::string_view name) -> std::optional<std::string> {
        if (const auto it = vars.find(name); it != vars.end()) {
            return it->second;
        }
        return std::nullopt;
    };
}

Config load_ok(const Vars& vars) {
    auto r = load_config(lookup(vars));
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : Config{};
}

// The load fails, the message starts with `variable` and (for secrets) does not echo `hidden`.
void expect_rejected(const Vars& vars, std::string_view variable, std::string_view hidden = {}) {
    const auto r = load_config(lookup(vars));
    ASSERT_FALSE(r) << "accepted: " << vars.begin()->first << "=" << vars.begin()->second;
    EXPECT_EQ(r.error().code, base::make_error_code(base::Errc::InvalidArgument));
    EXPECT_TRUE(r.error().message.starts_with(std::string(variable) + ": ")) << r.error().message;
    if (!hidden.empty()) {
        EXPECT_EQ(r.error().message.find(hidden), std::string::npos) << r.error().message;
    }
}

bool has_warning(const Config& c, std::string_view text) {
    for (const auto& w : c.warnings) {
        if (w.find(text) != std::string::npos) {
            return true;
        }
    }
    return false;
}

constexpr std::string_view kPublicKey = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

using dvd::test::TempDir;

// ---- defaults and a full configuration ----

TEST(LoadConfig, DefaultsWhenNothingIsSet) {
    const Config c = load_ok({});
    EXPECT_TRUE(c.is_demo_mode());
    EXPECT_FALSE(c.can_dial());
    EXPECT_EQ(c.ai_model, "moonshotai/Kimi-K2.6");
    EXPECT_DOUBLE_EQ(c.detection_threshold, 0.75);
    EXPECT_EQ(c.port, 5000);
    EXPECT_EQ(c.telnyx_api_base, "https://api.telnyx.com/v2");
    EXPECT_EQ(c.ai_inference_url, "https://api.telnyx.com/v2/ai/openai/chat/completions");
    EXPECT_EQ(c.database_url, "sqlite://./var/dvd.db");
    EXPECT_EQ(c.log_level, LogLevel::Info);
    EXPECT_EQ(c.escalation_policy, EscalationPolicy::None);
    EXPECT_FALSE(c.telnyx_deepfake_detection);
    EXPECT_TRUE(c.alert_webhook.empty());
    EXPECT_TRUE(c.api_token.empty());
    EXPECT_TRUE(c.recording_download);
    EXPECT_TRUE(c.recordings_dir.empty());
    EXPECT_EQ(c.recording_retention_days, 30);
    EXPECT_TRUE(c.warnings.empty());
}

TEST(LoadConfig, EveryVariableIsRead) {
    const Config c = load_ok({
            {"TELNYX_API_KEY", "KEY0123456789ABCDEF"},
            {"TELNYX_PUBLIC_KEY", std::string(kPublicKey)},
            {"TELNYX_API_BASE", "https://api.telnyx.com/v2/"},
            {"MAIN_NUMBER", "+18005551234"},
            {"CONNECTION_ID", "1494404757140276705"},
            {"MEDIA_STREAM_URL", "wss://abc.ngrok.app/media"},
            {"TELNYX_DEEPFAKE_DETECTION", "true"},
            {"DETECTION_THRESHOLD", "0.6"},
            {"AI_MODEL", "zai-org/GLM-5.1-FP8"},
            {"AI_INFERENCE_URL", "https://llm.example/v1/chat/completions"},
            {"ALERT_WEBHOOK", "https://hooks.slack.com/services/T000/B000/XXXXSECRET"},
            {"ALERT_WEBHOOK_JSON", "https://siem.example/hook?token=abc"},
            {"ESCALATION_POLICY", "transfer"},
            {"SECURITY_NUMBER", "+13125550100"},
            {"PORT", "8080"},
            {"DATABASE_URL", "sqlite:///var/lib/dvd/dvd.db"},
            {"API_TOKEN", "0123456789abcdef0123"},
            {"RECORDING_DOWNLOAD", "off"},
            {"RECORDINGS_DIR", "/srv/dvd/recordings"},
            {"RECORDING_RETENTION_DAYS", "365"},
            {"LOG_LEVEL", "DEBUG"},
    });
    EXPECT_FALSE(c.is_demo_mode());
    EXPECT_TRUE(c.can_dial());
    EXPECT_EQ(c.telnyx_api_key, "KEY0123456789ABCDEF");
    EXPECT_EQ(c.telnyx_public_key, kPublicKey);
    EXPECT_EQ(c.telnyx_api_base, "https://api.telnyx.com/v2");  // trailing '/' dropped
    EXPECT_EQ(c.main_number, "+18005551234");
    EXPECT_EQ(c.connection_id, "1494404757140276705");
    EXPECT_EQ(c.media_stream_url, "wss://abc.ngrok.app/media");
    EXPECT_TRUE(c.telnyx_deepfake_detection);
    EXPECT_DOUBLE_EQ(c.detection_threshold, 0.6);
    EXPECT_EQ(c.ai_model, "zai-org/GLM-5.1-FP8");
    EXPECT_EQ(c.ai_inference_url, "https://llm.example/v1/chat/completions");
    EXPECT_EQ(c.alert_webhook, "https://hooks.slack.com/services/T000/B000/XXXXSECRET");
    EXPECT_EQ(c.alert_webhook_json, "https://siem.example/hook?token=abc");
    EXPECT_EQ(c.escalation_policy, EscalationPolicy::Transfer);
    EXPECT_EQ(c.security_number, "+13125550100");
    EXPECT_EQ(c.port, 8080);
    EXPECT_EQ(c.database_url, "sqlite:///var/lib/dvd/dvd.db");
    EXPECT_EQ(c.api_token, "0123456789abcdef0123");
    EXPECT_EQ(c.log_level, LogLevel::Debug);
    EXPECT_FALSE(c.recording_download);
    EXPECT_EQ(c.recordings_dir, "/srv/dvd/recordings");
    EXPECT_EQ(c.recording_retention_days, 365);
    EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
}

TEST(LoadConfig, ValuesAreTrimmedAndEmptyMeansUnset) {
    const Config c = load_ok({{"PORT", "  6000 "}, {"AI_MODEL", ""}, {"LOG_LEVEL", "   "}});
    EXPECT_EQ(c.port, 6000);
    EXPECT_EQ(c.ai_model, "moonshotai/Kimi-K2.6");
    EXPECT_EQ(c.log_level, LogLevel::Info);
}

// ---- .env file ----

TEST(LoadConfig, RealEnvironmentWinsOverTheEnvFile) {
    TempDir dir;
    const auto file = dir.write(".env", "PORT=6000\nLOG_LEVEL=debug\nAI_MODEL=from-file\n");
    const auto r = load_config(lookup({{"PORT", "7000"}, {"AI_MODEL", ""}}), file);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->port, 7000);                  // environment wins
    EXPECT_EQ(r->log_level, LogLevel::Debug);  // only in the file
    EXPECT_EQ(r->ai_model, "from-file");       // empty in the environment counts as unset
}

TEST(LoadConfig, LaterAssignmentInTheFileWins) {
    TempDir dir;
    const auto file = dir.write(".env", "PORT=6000\nPORT=6001\n");
    const auto r = load_config(lookup({}), file);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->port, 6001);
}

TEST(LoadConfig, InvalidValueInTheFileIsRejectedByName) {
    TempDir dir;
    const auto file = dir.write(".env", "export DETECTION_THRESHOLD=1.5\n");
    const auto r = load_config(lookup({}), file);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().message.starts_with("DETECTION_THRESHOLD: ")) << r.error().message;
}

TEST(LoadConfig, UnknownKeysInTheFileAreWarnings) {
    TempDir dir;
    const auto file = dir.write(".env", "PORT=6000\nDETECTON_THRESHOLD=0.5\n");
    const auto r = load_config(lookup({}), file);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->warnings.size(), 1u);
    EXPECT_NE(r->warnings[0].find("line 2: unknown variable DETECTON_THRESHOLD"), std::string::npos)
            << r->warnings[0];
    EXPECT_DOUBLE_EQ(r->detection_threshold, 0.75);
}

TEST(LoadConfig, MalformedOrMissingEnvFileIsAnError) {
    TempDir dir;
    const auto bad = load_config(lookup({}), dir.write(".env", "PORT 5000\n"));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("line 1"), std::string::npos) << bad.error().message;
    const auto missing = load_config(lookup({}), std::filesystem::path("/nonexistent/.env"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, base::make_error_code(base::Errc::NotFound));
}

TEST(LoadConfig, ShippedEnvExampleLoadsCleanlyAndDocumentsEveryVariable) {
    const std::filesystem::path example = std::filesystem::path(DVD_SOURCE_DIR) / ".env.example";
    const auto r = load_config(lookup({}), example);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->warnings.empty()) << r->warnings.front();
    std::ifstream in(example);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto name : variable_names()) {
        EXPECT_NE(text.find("\n" + std::string(name) + "="), std::string::npos) << name;
    }
}

// ---- one test per rule ----

TEST(LoadConfig, RecordingDownloadIsABooleanAndTheDirectoryHasNoControlCharacters) {
    expect_rejected({{"RECORDING_DOWNLOAD", "sometimes"}}, "RECORDING_DOWNLOAD");
    expect_rejected({{"RECORDINGS_DIR", "var/rec\x01"}}, "RECORDINGS_DIR");
    EXPECT_TRUE(load_ok({{"RECORDING_DOWNLOAD", "YES"}}).recording_download);
    for (const char* bad : {"-1", "1.5", "ten", "999999"}) {
        expect_rejected({{"RECORDING_RETENTION_DAYS", bad}}, "RECORDING_RETENTION_DAYS");
    }
    EXPECT_EQ(load_ok({{"RECORDING_RETENTION_DAYS", "0"}}).recording_retention_days, 0);
}

TEST(LoadConfig, PortMustBeATcpPort) {
    for (const char* bad : {"0", "65536", "70000", "-1", "50a", "5000.0", "0x50", "123456"}) {
        expect_rejected({{"PORT", bad}}, "PORT");
    }
    EXPECT_EQ(load_ok({{"PORT", "1"}}).port, 1);
    EXPECT_EQ(load_ok({{"PORT", "65535"}}).port, 65535);
}

TEST(LoadConfig, ThresholdMustBeStrictlyBetweenZeroAndOne) {
    for (const char* bad :
         {"0", "1", "0.0", "1.0", "1.5", "-0.1", "abc", "nan", "inf", "0.5x", "75%"}) {
        expect_rejected({{"DETECTION_THRESHOLD", bad}}, "DETECTION_THRESHOLD");
    }
    EXPECT_DOUBLE_EQ(load_ok({{"DETECTION_THRESHOLD", "0.9"}}).detection_threshold, 0.9);
    EXPECT_DOUBLE_EQ(load_ok({{"DETECTION_THRESHOLD", "1e-1"}}).detection_threshold, 0.1);
    EXPECT_DOUBLE_EQ(load_ok({{"DETECTION_THRESHOLD", "0.001"}}).detection_threshold, 0.001);
}

TEST(LoadConfig, PhoneNumbersMustBeE164) {
    for (const char* variable : {"MAIN_NUMBER", "SECURITY_NUMBER"}) {
        for (const char* bad : {"18005551234", "+0123456", "+1 800 555 1234", "+1-800-555-1234",
                                "+1234567890123456", "+1", "+", "sip:a@b"}) {
            expect_rejected({{variable, bad}}, variable);
        }
    }
    EXPECT_EQ(load_ok({{"MAIN_NUMBER", "+442071838750"}}).main_number, "+442071838750");
    EXPECT_EQ(load_ok({{"SECURITY_NUMBER", "+123456789012345"}}).security_number,
              "+123456789012345");
}

TEST(LoadConfig, HttpUrlsMustBeHttpOrHttps) {
    for (const char* variable :
         {"TELNYX_API_BASE", "AI_INFERENCE_URL", "ALERT_WEBHOOK", "ALERT_WEBHOOK_JSON"}) {
        for (const char* bad : {"ftp://example.com/x", "api.telnyx.com/v2", "https://",
                                "https://exa mple.com/", "https://host:99999/", "https://host:/x",
                                "wss://example.com/", "https://a..b/", "//example.com/x"}) {
            expect_rejected({{variable, bad}}, variable);
        }
    }
    const Config c = load_ok({{"TELNYX_API_BASE", "http://127.0.0.1:8081/v2"},
                              {"ALERT_WEBHOOK", "HTTPS://hooks.slack.com/services/T/B/x"},
                              {"ALERT_WEBHOOK_JSON", "http://[::1]:9000/hook"}});
    EXPECT_EQ(c.telnyx_api_base, "http://127.0.0.1:8081/v2");
    EXPECT_TRUE(c.warnings.empty());  // plain http to loopback is fine
}

TEST(LoadConfig, SecretUrlsAreNeverEchoed) {
    expect_rejected({{"ALERT_WEBHOOK", "hooks.slack.com/services/T/B/TOPSECRET"}}, "ALERT_WEBHOOK",
                    "TOPSECRET");
    expect_rejected({{"ALERT_WEBHOOK_JSON", "ftp://siem/TOPSECRET"}}, "ALERT_WEBHOOK_JSON",
                    "TOPSECRET");
    expect_rejected({{"AI_INFERENCE_URL", "ftp://user:TOPSECRET@llm/x"}}, "AI_INFERENCE_URL",
                    "TOPSECRET");
}

TEST(LoadConfig, PlainHttpToARemoteHostIsAWarning) {
    const Config c = load_ok({{"ALERT_WEBHOOK", "http://alerts.example.com/hook"}});
    EXPECT_TRUE(has_warning(c, "ALERT_WEBHOOK uses http://")) << c.warnings.size();
}

TEST(LoadConfig, MediaStreamUrlMustBeAWebSocketUrl) {
    for (const char* bad : {"https://abc.ngrok.app/media", "abc.ngrok.app/media", "wss://"}) {
        expect_rejected({{"MEDIA_STREAM_URL", bad}}, "MEDIA_STREAM_URL");
    }
    EXPECT_EQ(load_ok({{"MEDIA_STREAM_URL", "ws://127.0.0.1:5000/media"}}).media_stream_url,
              "ws://127.0.0.1:5000/media");
    const Config remote = load_ok({{"MEDIA_STREAM_URL", "ws://abc.ngrok.app/media"}});
    EXPECT_TRUE(has_warning(remote, "MEDIA_STREAM_URL uses ws://"));
}

TEST(LoadConfig, InferenceUrlDefaultsToTheApiBase) {
    EXPECT_EQ(load_ok({{"TELNYX_API_BASE", "http://127.0.0.1:9/v2/"}}).ai_inference_url,
              "http://127.0.0.1:9/v2/ai/openai/chat/completions");
    EXPECT_EQ(load_ok({{"TELNYX_API_BASE", "http://127.0.0.1:9/v2"},
                       {"AI_INFERENCE_URL", "http://127.0.0.1:10/chat"}})
                      .ai_inference_url,
              "http://127.0.0.1:10/chat");
}

TEST(LoadConfig, EscalationPolicyIsOneOfFour) {
    EXPECT_EQ(load_ok({{"ESCALATION_POLICY", "none"}}).escalation_policy, EscalationPolicy::None);
    EXPECT_EQ(load_ok({{"ESCALATION_POLICY", "Warn"}}).escalation_policy, EscalationPolicy::Warn);
    EXPECT_EQ(load_ok({{"ESCALATION_POLICY", "HANGUP"}}).escalation_policy,
              EscalationPolicy::Hangup);
    expect_rejected({{"ESCALATION_POLICY", "block"}}, "ESCALATION_POLICY");
    const auto r = load_config(lookup({{"ESCALATION_POLICY", "block"}}));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("none|warn|transfer|hangup"), std::string::npos);
}

TEST(LoadConfig, TransferNeedsASecurityNumberOtherThanTheMainNumber) {
    expect_rejected({{"ESCALATION_POLICY", "transfer"}}, "SECURITY_NUMBER");
    expect_rejected({{"ESCALATION_POLICY", "transfer"},
                     {"MAIN_NUMBER", "+18005551234"},
                     {"SECURITY_NUMBER", "+18005551234"}},
                    "SECURITY_NUMBER");
    const Config c =
            load_ok({{"ESCALATION_POLICY", "transfer"}, {"SECURITY_NUMBER", "+13125550100"}});
    EXPECT_EQ(c.escalation_policy, EscalationPolicy::Transfer);
}

TEST(LoadConfig, DeepfakeDetectionIsABoolean) {
    for (const char* yes : {"true", "TRUE", "1", "yes", "on"}) {
        EXPECT_TRUE(load_ok({{"TELNYX_DEEPFAKE_DETECTION", yes}}).telnyx_deepfake_detection);
    }
    for (const char* no : {"false", "0", "No", "off"}) {
        EXPECT_FALSE(load_ok({{"TELNYX_DEEPFAKE_DETECTION", no}}).telnyx_deepfake_detection);
    }
    expect_rejected({{"TELNYX_DEEPFAKE_DETECTION", "maybe"}}, "TELNYX_DEEPFAKE_DETECTION");
    expect_rejected({{"TELNYX_DEEPFAKE_DETECTION", "2"}}, "TELNYX_DEEPFAKE_DETECTION");
}

TEST(LoadConfig, LogLevelIsKnown) {
    EXPECT_EQ(load_ok({{"LOG_LEVEL", "trace"}}).log_level, LogLevel::Trace);
    EXPECT_EQ(load_ok({{"LOG_LEVEL", "warning"}}).log_level, LogLevel::Warn);
    EXPECT_EQ(load_ok({{"LOG_LEVEL", "off"}}).log_level, LogLevel::Off);
    expect_rejected({{"LOG_LEVEL", "verbose"}}, "LOG_LEVEL");
}

TEST(LoadConfig, PublicKeyMustBeBase64OfThirtyTwoBytes) {
    EXPECT_EQ(load_ok({{"TELNYX_PUBLIC_KEY", std::string(kPublicKey)}}).telnyx_public_key,
              kPublicKey);
    const std::string unpadded(kPublicKey.substr(0, kPublicKey.size() - 1));
    EXPECT_EQ(load_ok({{"TELNYX_PUBLIC_KEY", unpadded}}).telnyx_public_key, unpadded);
    const std::vector<std::string> bad_keys = {
            std::string(42, 'A') + "==",                      // 31 bytes
            std::string(44, 'A'),                             // 33 bytes
            "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR",     // 42 characters: 31 bytes
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=",   // URL-safe alphabet
            "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURp=",   // non-canonical last character
            "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo==",  // too much padding
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",  // hex
    };
    for (const auto& bad : bad_keys) {
        expect_rejected({{"TELNYX_PUBLIC_KEY", bad}}, "TELNYX_PUBLIC_KEY");
    }
}

TEST(LoadConfig, ApiKeyMustBeAWordAndIsNeverEchoed) {
    expect_rejected({{"TELNYX_API_KEY", "KEY abc SECRETPART"}}, "TELNYX_API_KEY", "SECRETPART");
    expect_rejected({{"TELNYX_API_KEY", "KEY\x01SECRETPART"}}, "TELNYX_API_KEY", "SECRETPART");
    const Config odd = load_ok({{"TELNYX_API_KEY", "notakey"}});
    EXPECT_TRUE(has_warning(odd, "does not start with 'KEY'"));
}

TEST(LoadConfig, ApiTokenMustBeLongEnoughAndIsNeverEchoed) {
    expect_rejected({{"API_TOKEN", "SHORTSECRET"}}, "API_TOKEN", "SHORTSECRET");
    expect_rejected({{"API_TOKEN", "LONG ENOUGH BUT SPACED"}}, "API_TOKEN", "SPACED");
    EXPECT_EQ(load_ok({{"API_TOKEN", "abcdefghijklmnop"}}).api_token, "abcdefghijklmnop");
}

TEST(LoadConfig, IdentifiersHaveNoSpaces) {
    expect_rejected({{"CONNECTION_ID", "149 440"}}, "CONNECTION_ID");
    expect_rejected({{"AI_MODEL", "moonshotai/Kimi K2"}}, "AI_MODEL");
    expect_rejected({{"AI_MODEL", std::string(300, 'm')}}, "AI_MODEL");
}

TEST(LoadConfig, DatabaseUrlIsSqliteOrPostgres) {
    for (const char* ok :
         {"sqlite://./var/dvd.db", "sqlite:///tmp/dvd.db", "./data/dvd.db", "/var/lib/dvd.db",
          ":memory:", "sqlite://:memory:", "my calls.db", "postgresql://u:pw@db/dvd",
          "postgres://db:5432/dvd?sslmode=require", "postgresql:///dvd?host=/run/postgresql"}) {
        EXPECT_EQ(load_ok({{"DATABASE_URL", ok}}).database_url, ok);
    }
    expect_rejected({{"DATABASE_URL", "postgresql://u:pw@db/dvd\x01"}}, "DATABASE_URL", "pw@");
    expect_rejected({{"DATABASE_URL", "mysql://db/dvd"}}, "DATABASE_URL");
    expect_rejected({{"DATABASE_URL", "sqlite://"}}, "DATABASE_URL");
    expect_rejected({{"DATABASE_URL", "sqlite:///"}}, "DATABASE_URL");
    expect_rejected({{"DATABASE_URL", "SQLITE://x.db"}}, "DATABASE_URL");  // as the store does
    expect_rejected({{"DATABASE_URL", "a\x01.db"}}, "DATABASE_URL");
}

TEST(LoadConfig, FirstProblemWinsInDocumentedOrder) {
    expect_rejected({{"PORT", "0"}, {"MAIN_NUMBER", "123"}}, "MAIN_NUMBER");
}

TEST(LoadConfig, LiveModeWarnsAboutMissingVerificationAndDialSettings) {
    const Config c = load_ok({{"TELNYX_API_KEY", "KEY123"}});
    EXPECT_TRUE(has_warning(c, "TELNYX_PUBLIC_KEY is unset"));
    EXPECT_TRUE(has_warning(c, "outbound verification calls are off"));
}

// ---- redacted() ----

TEST(Redacted, ShowsSettingsButNoSecrets) {
    const Config c = load_ok({
            {"TELNYX_API_KEY", "KEYSECRETAPIKEY"},
            {"TELNYX_PUBLIC_KEY", std::string(kPublicKey)},
            {"MAIN_NUMBER", "+18005551234"},
            {"MEDIA_STREAM_URL", "wss://abc.ngrok.app/media?token=STREAMSECRET"},
            {"ALERT_WEBHOOK", "https://hooks.slack.com/services/T000/B000/SLACKSECRET"},
            {"ALERT_WEBHOOK_JSON", "https://user:JSONPASS@siem.example:8443/hook"},
            {"AI_INFERENCE_URL", "https://key:INFERENCEPASS@llm.example/v1/chat"},
            {"API_TOKEN", "APITOKENSECRET0123456789"},
    });
    const std::string line = redacted(c);
    for (const char* secret : {"KEYSECRETAPIKEY", "STREAMSECRET", "SLACKSECRET", "T000", "JSONPASS",
                               "INFERENCEPASS", "APITOKENSECRET"}) {
        EXPECT_EQ(line.find(secret), std::string::npos) << secret << " in " << line;
    }
    for (const char* shown :
         {"TELNYX_API_KEY=<set>", "API_TOKEN=<set>", "MAIN_NUMBER=+18005551234",
          "MEDIA_STREAM_URL=wss://abc.ngrok.app/media ",
          "ALERT_WEBHOOK=https://hooks.slack.com/<redacted>",
          "ALERT_WEBHOOK_JSON=https://siem.example:8443/<redacted>",
          "AI_INFERENCE_URL=https://llm.example/v1/chat", "PORT=5000", "DETECTION_THRESHOLD=0.75",
          "ESCALATION_POLICY=none", "LOG_LEVEL=info", "SECURITY_NUMBER=<unset>",
          "TELNYX_DEEPFAKE_DETECTION=false", "DATABASE_URL=sqlite://./var/dvd.db"}) {
        EXPECT_NE(line.find(shown), std::string::npos) << shown << " not in " << line;
    }
    EXPECT_NE(line.find(std::string("TELNYX_PUBLIC_KEY=") + std::string(kPublicKey)),
              std::string::npos);
    for (const auto name : variable_names()) {
        EXPECT_NE(line.find(std::string(name) + "="), std::string::npos) << name;
    }
    EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Redacted, PostgresUrlsWithCredentialsAreHidden) {
    for (const char* url : {"postgresql://dvd:DBPASS@db.example/dvd",
                            "postgresql:///dvd?host=db.example&password=DBPASS"}) {
        const std::string line = redacted(load_ok({{"DATABASE_URL", url}}));
        EXPECT_EQ(line.find("DBPASS"), std::string::npos) << line;
        EXPECT_NE(line.find("DATABASE_URL=<redacted>"), std::string::npos) << line;
    }
    const std::string plain = redacted(load_ok({{"DATABASE_URL", "postgresql:///dvd"}}));
    EXPECT_NE(plain.find("DATABASE_URL=postgresql:///dvd "), std::string::npos) << plain;
}

TEST(Redacted, UnsetSecretsSayUnset) {
    const std::string line = redacted(load_ok({}));
    EXPECT_NE(line.find("TELNYX_API_KEY=<unset>"), std::string::npos) << line;
    EXPECT_NE(line.find("ALERT_WEBHOOK=<unset>"), std::string::npos) << line;
    EXPECT_NE(line.find("API_TOKEN=<unset>"), std::string::npos) << line;
}

TEST(ProcessEnvironment, ReadsRealVariables) {
    const auto env = process_environment();
    EXPECT_FALSE(env("DVD_SURELY_UNSET_VARIABLE_1234"));
    ::setenv("DVD_CONFIG_TEST_VARIABLE", "x", 1);
    EXPECT_EQ(env("DVD_CONFIG_TEST_VARIABLE"), "x");
    ::unsetenv("DVD_CONFIG_TEST_VARIABLE");
}

TEST(Names, EnumsHaveLowerCaseNames) {
    EXPECT_EQ(to_string(EscalationPolicy::Transfer), "transfer");
    EXPECT_EQ(to_string(LogLevel::Critical), "critical");
}

}  // namespace
}  // namespace dvd::config

#include "config/env_file.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace dvd::config {
namespace {

std::vector<EnvEntry> parse_ok(std::string_view text) {
    auto r = parse_env_file(text);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : std::vector<EnvEntry>{};
}

std::string single_value(std::string_view text) {
    const auto entries = parse_ok(text);
    EXPECT_EQ(entries.size(), 1u) << text;
    return entries.empty() ? std::string("<none>") : entries[0].value;
}

void expect_error(std::string_view text, std::string_view mention, std::string_view secret = {}) {
    const auto r = parse_env_file(text, ".env");
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, base::make_error_code(base::Errc::Corrupt));
    EXPECT_NE(r.error().message.find(mention), std::string::npos) << r.error().message;
    if (!secret.empty()) {
        EXPECT_EQ(r.error().message.find(secret), std::string::npos) << r.error().message;
    }
}

TEST(EnvFile, KeyValueLinesCommentsAndBlanks) {
    const auto entries = parse_ok("# a comment\n\nPORT=5000\n   # indented comment\nAI_MODEL=m\n");
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].key, "PORT");
    EXPECT_EQ(entries[0].value, "5000");
    EXPECT_EQ(entries[0].line, 3);
    EXPECT_EQ(entries[1].key, "AI_MODEL");
    EXPECT_EQ(entries[1].line, 5);
}

TEST(EnvFile, SpacesAroundKeyEqualsAndUnquotedValueAreDropped) {
    const auto entries = parse_ok("  PORT =  5000  \n");
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].key, "PORT");
    EXPECT_EQ(entries[0].value, "5000");
}

TEST(EnvFile, ExportPrefixIsIgnored) {
    const auto entries = parse_ok("export TELNYX_API_KEY=KEY123\nexport\tPORT=1\nexported=2\n");
    ASSERT_EQ(entries.size(), 3u);
    EXPECT_EQ(entries[0].key, "TELNYX_API_KEY");
    EXPECT_EQ(entries[1].key, "PORT");
    EXPECT_EQ(entries[2].key, "exported");
}

TEST(EnvFile, InlineCommentsNeedABlankBeforeTheHash) {
    EXPECT_EQ(single_value("A=value # comment"), "value");
    EXPECT_EQ(single_value("A=value\t# comment"), "value");
    EXPECT_EQ(single_value("A=https://x/#frag"), "https://x/#frag");
    EXPECT_EQ(single_value("A=#notacomment"), "#notacomment");
}

TEST(EnvFile, SingleQuotesAreLiteral) {
    EXPECT_EQ(single_value(R"(A='a # b \n "c"')"), R"(a # b \n "c")");
    EXPECT_EQ(single_value("A='  padded  '  # comment"), "  padded  ");
}

TEST(EnvFile, DoubleQuotesUnderstandEscapes) {
    EXPECT_EQ(single_value(R"(A="line1\nline2\t\"q\" \\ \x")"),
              std::string("line1\nline2\t\"q\" \\ \\x"));
    EXPECT_EQ(single_value(R"(A="has # hash")"), "has # hash");
}

TEST(EnvFile, EmptyValues) {
    EXPECT_EQ(single_value("A="), "");
    EXPECT_EQ(single_value("A=   "), "");
    EXPECT_EQ(single_value("A=''"), "");
    EXPECT_EQ(single_value("A=\"\""), "");
    EXPECT_EQ(single_value("A= # only a comment"), "");
}

TEST(EnvFile, CrlfAndByteOrderMarkAreAccepted) {
    const auto entries = parse_ok("\xEF\xBB\xBFPORT=1\r\nLOG_LEVEL=debug\r\n");
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].key, "PORT");
    EXPECT_EQ(entries[0].value, "1");
    EXPECT_EQ(entries[1].value, "debug");
}

TEST(EnvFile, RepeatedKeysAreKeptInOrder) {
    const auto entries = parse_ok("PORT=1\nPORT=2\n");
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[1].value, "2");
}

TEST(EnvFile, VariablesAreNotExpanded) {
    EXPECT_EQ(single_value("A=${HOME}/x"), "${HOME}/x");
}

TEST(EnvFile, MalformedLinesNameTheLineButNotTheValue) {
    expect_error("PORT=1\nTELNYX_API_KEY KEYsecret\n", "line 2", "KEYsecret");
    expect_error("1PORT=1\n", "line 1: expected KEY=VALUE");
    expect_error("=value\n", "expected KEY=VALUE");
    expect_error("A-B=1\n", "expected '=' after A");
    expect_error("API_TOKEN=\"unterminated secret\n", "unterminated double quote", "secret");
    expect_error("API_TOKEN='unterminated secret\n", "unterminated single quote", "secret");
    expect_error("A=\"quoted\" trailing\n", "after the closing quote");
    expect_error("A='quoted'trailing\n", "after the closing quote");
    // "export" with nothing after it (a fuzz finding: it read past the line).
    expect_error("export \n", "line 1: expected KEY=VALUE");
    expect_error("PORT=1\nexport\t  ", "line 2: expected KEY=VALUE");
}

TEST(EnvFile, ReadsAFileAndReportsAMissingOne) {
    const auto dir = std::filesystem::temp_directory_path() / "dvd_env_file_test";
    std::filesystem::create_directories(dir);
    const auto path = dir / "test.env";
    {
        std::ofstream out(path);
        out << "PORT=6000\n";
    }
    const auto r = read_env_file(path);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].value, "6000");

    const auto missing = read_env_file(dir / "absent.env");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, base::make_error_code(base::Errc::NotFound));
    std::filesystem::remove_all(dir);
}

TEST(EnvFile, ErrorsInAFileNameTheFile) {
    const auto dir = std::filesystem::temp_directory_path() / "dvd_env_file_test_bad";
    std::filesystem::create_directories(dir);
    const auto path = dir / "bad.env";
    {
        std::ofstream out(path);
        out << "OK=1\nnot a line\n";
    }
    const auto r = read_env_file(path);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("bad.env line 2"), std::string::npos) << r.error().message;
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dvd::config

#include "web/static_site.hpp"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "unit/web/web_test_support.hpp"

namespace dvd::web::test {
namespace {

TEST(StaticSite, ContentTypeByExtension) {
    EXPECT_EQ(content_type_for("index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(content_type_for("app-ABCDEFGH.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(content_type_for("app.mjs"), "text/javascript; charset=utf-8");
    EXPECT_EQ(content_type_for("app-ABCDEFGH.css"), "text/css; charset=utf-8");
    EXPECT_EQ(content_type_for("favicon.svg"), "image/svg+xml");
    EXPECT_EQ(content_type_for("logo.png"), "image/png");
    EXPECT_EQ(content_type_for("app.js.map"), "application/json");
    EXPECT_EQ(content_type_for("font.woff2"), "font/woff2");
    EXPECT_EQ(content_type_for("LICENSE"), "application/octet-stream");
    EXPECT_EQ(content_type_for("archive.tar.gz"), "application/octet-stream");
}

TEST(StaticSite, OnlyPlainFileNamesAreSafe) {
    EXPECT_TRUE(is_safe_asset_name("app-ABCDEFGH.js"));
    EXPECT_TRUE(is_safe_asset_name("uPlot_1.6.css"));
    EXPECT_FALSE(is_safe_asset_name(""));
    EXPECT_FALSE(is_safe_asset_name("."));
    EXPECT_FALSE(is_safe_asset_name(".."));
    EXPECT_FALSE(is_safe_asset_name(".env"));
    EXPECT_FALSE(is_safe_asset_name("../index.html"));
    EXPECT_FALSE(is_safe_asset_name("..%2Fsecret"));
    EXPECT_FALSE(is_safe_asset_name("a/b.js"));
    EXPECT_FALSE(is_safe_asset_name("a\\b.js"));
    EXPECT_FALSE(is_safe_asset_name("a..b"));
    EXPECT_FALSE(is_safe_asset_name("a b.js"));
    EXPECT_FALSE(is_safe_asset_name(std::string("a\0b", 3)));
    EXPECT_FALSE(is_safe_asset_name(std::string(129, 'a')));
}

TEST(StaticSite, RecognisesContentHashedNames) {
    EXPECT_TRUE(is_content_hashed_name("app-5KX3Q2ZB.js"));
    EXPECT_TRUE(is_content_hashed_name("main-ABCDEFGH.css"));
    EXPECT_FALSE(is_content_hashed_name("favicon.svg"));
    EXPECT_FALSE(is_content_hashed_name("app-5kx3q2zb.js"));
    EXPECT_FALSE(is_content_hashed_name("app_5KX3Q2ZB.js"));
    EXPECT_FALSE(is_content_hashed_name("5KX3Q2ZB.js"));
    EXPECT_FALSE(is_content_hashed_name("app-5KX3Q2Z.js"));
}

TEST(StaticSite, EtagIsAQuotedContentHash) {
    EXPECT_EQ(etag_for(""), "\"cbf29ce484222325\"");   // FNV-1a 64 offset basis
    EXPECT_EQ(etag_for("a"), "\"af63dc4c8601ec8c\"");  // published FNV-1a 64 test vector
    EXPECT_NE(etag_for("abc"), etag_for("abd"));
}

TEST(StaticSite, MissingIndexIsNotFound) {
    TempDir dir;
    const auto site = StaticSite::load(dir.path() / "dist");
    ASSERT_FALSE(site.has_value());
    EXPECT_EQ(site.error().code, base::make_error_code(base::Errc::NotFound));
    EXPECT_NE(site.error().message.find("index.html"), std::string::npos);
}

TEST(StaticSite, LoadsIndexAndFlatAssets) {
    TempDir dir;
    dir.write("index.html", "<!doctype html><title>t</title>");
    dir.write("assets/app-ABCDEFGH.js", "console.log(1);");
    dir.write("assets/favicon.svg", "<svg/>");
    dir.write("assets/.hidden", "secret");
    dir.write("assets/sub/deep.js", "nested");
    dir.write("secret.txt", "outside assets");
    const auto site = StaticSite::load(dir.path());
    ASSERT_TRUE(site.has_value()) << site.error().message;
    const StaticSite& s = **site;
    EXPECT_EQ(s.index().body, "<!doctype html><title>t</title>");
    EXPECT_EQ(s.index().content_type, "text/html; charset=utf-8");
    EXPECT_EQ(s.index().cache_control, "no-cache");
    EXPECT_EQ(s.asset_count(), 2U);
    const StaticFile* js = s.asset("app-ABCDEFGH.js");
    ASSERT_NE(js, nullptr);
    EXPECT_EQ(js->body, "console.log(1);");
    EXPECT_EQ(js->cache_control, "public, max-age=31536000, immutable");
    EXPECT_EQ(js->etag, etag_for("console.log(1);"));
    const StaticFile* svg = s.asset("favicon.svg");
    ASSERT_NE(svg, nullptr);
    EXPECT_EQ(svg->cache_control, "no-cache");
    EXPECT_EQ(s.asset(".hidden"), nullptr);
    EXPECT_EQ(s.asset("sub"), nullptr);
    EXPECT_EQ(s.asset("../secret.txt"), nullptr);
    EXPECT_EQ(s.asset("../index.html"), nullptr);
    EXPECT_EQ(s.asset("index.html"), nullptr) << "index is served at /, not as an asset";
}

TEST(StaticSite, SymbolicLinksAreNotFollowed) {
    TempDir dir;
    dir.write("index.html", "x");
    dir.write("outside.txt", "secret");
    std::filesystem::create_directories(dir.path() / "assets");
    std::filesystem::create_symlink(dir.path() / "outside.txt", dir.path() / "assets" / "l.txt");
    const auto site = StaticSite::load(dir.path());
    ASSERT_TRUE(site.has_value());
    EXPECT_EQ((*site)->asset("l.txt"), nullptr);
}

TEST(StaticSite, LimitsSkipOversizedAndExcessFiles) {
    TempDir dir;
    dir.write("index.html", "0123456789");
    dir.write("assets/a.js", std::string(100, 'a'));
    dir.write("assets/b.js", std::string(5000, 'b'));
    dir.write("assets/c.js", std::string(100, 'c'));
    dir.write("assets/d.js", std::string(100, 'd'));
    StaticSiteLimits limits;
    limits.max_file_bytes = 1000;
    limits.max_total_bytes = 10 + 250;
    limits.max_files = 10;
    const auto site = StaticSite::load(dir.path(), limits);
    ASSERT_TRUE(site.has_value());
    EXPECT_NE((*site)->asset("a.js"), nullptr);
    EXPECT_EQ((*site)->asset("b.js"), nullptr) << "over max_file_bytes";
    EXPECT_NE((*site)->asset("c.js"), nullptr);
    EXPECT_EQ((*site)->asset("d.js"), nullptr) << "over max_total_bytes";
    EXPECT_EQ((*site)->total_bytes(), 210U);
}

}  // namespace
}  // namespace dvd::web::test

#include "net/http_types.hpp"

#include <gtest/gtest.h>

namespace dvd::net {
namespace {

TEST(PercentDecode, DecodesEscapesAndOptionallyPlus) {
    EXPECT_EQ(percent_decode("a%20b%2Fc", false), "a b/c");
    EXPECT_EQ(percent_decode("a+b", false), "a+b");
    EXPECT_EQ(percent_decode("a+b", true), "a b");
    EXPECT_EQ(percent_decode("%e2%82%AC", false), "\xE2\x82\xAC");
    EXPECT_EQ(percent_decode("", false), "");
    EXPECT_EQ(percent_decode("%00", false), std::string(1, '\0'));
}

TEST(PercentDecode, RejectsMalformedEscapes) {
    EXPECT_EQ(percent_decode("%", false), std::nullopt);
    EXPECT_EQ(percent_decode("%2", false), std::nullopt);
    EXPECT_EQ(percent_decode("abc%", false), std::nullopt);
    EXPECT_EQ(percent_decode("%zz", false), std::nullopt);
    EXPECT_EQ(percent_decode("%2g", false), std::nullopt);
}

TEST(ParseQuery, SplitsDecodesAndKeepsRepeats) {
    const auto fields = parse_query("a=1&b=x%20y&a=2&flag&c=&d=p+q&&");
    ASSERT_TRUE(fields.has_value());
    const std::vector<Field> expected{{"a", "1"},   {"b", "x y"}, {"a", "2"},
                                      {"flag", ""}, {"c", ""},    {"d", "p q"}};
    EXPECT_EQ(*fields, expected);
    EXPECT_EQ(parse_query(""), std::vector<Field>{});
    EXPECT_EQ(parse_query("a=%zz"), std::nullopt);
    EXPECT_EQ(parse_query("%=1"), std::nullopt);
}

TEST(Request, HeaderLookupIsCaseInsensitiveAndTakesTheFirst) {
    Request request;
    request.headers = {{"content-type", "application/json"},
                       {"x-telnyx-streaming-auth-token", "t1"},
                       {"x-telnyx-streaming-auth-token", "t2"}};
    EXPECT_EQ(request.header("Content-Type"), "application/json");
    EXPECT_EQ(request.header("CONTENT-TYPE"), "application/json");
    EXPECT_EQ(request.header("X-Telnyx-Streaming-Auth-Token"), "t1");
    EXPECT_EQ(request.header("authorization"), std::nullopt);
}

TEST(Request, QueryAndPathParams) {
    Request request;
    request.query = {{"limit", "5"}, {"limit", "7"}};
    request.path_params = {{"id", "abc"}};
    EXPECT_EQ(request.query_param("limit"), "5");
    EXPECT_EQ(request.query_param("offset"), std::nullopt);
    EXPECT_EQ(request.path_param("id"), "abc");
    EXPECT_EQ(request.path_param("other"), "");
}

TEST(Response, JsonErrorEscapesTheMessage) {
    const Response response = Response::json_error(400, "bad_request",
                                                   "quote \" backslash \\ newline \n tab \t \x01");
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(response.content_type, "application/json");
    EXPECT_EQ(
            response.body,
            R"({"error":{"code":"bad_request","message":"quote \" backslash \\ newline \n tab \t \u0001"}})");
}

TEST(Response, Factories) {
    const Response json = Response::json(201, R"({"ok":true})");
    EXPECT_EQ(json.status, 201);
    EXPECT_EQ(json.content_type, "application/json");
    const Response text = Response::text(200, "hello");
    EXPECT_EQ(text.content_type, "text/plain; charset=utf-8");
    EXPECT_EQ(text.body, "hello");
    EXPECT_EQ(Response::text(200, "# x", "text/plain; version=0.0.4").content_type,
              "text/plain; version=0.0.4");
}

TEST(Method, Names) {
    EXPECT_EQ(to_string(Method::Get), "GET");
    EXPECT_EQ(to_string(Method::Delete), "DELETE");
    EXPECT_EQ(to_string(Method::Other), "OTHER");
}

}  // namespace
}  // namespace dvd::net

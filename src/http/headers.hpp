#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dvd::http {

/// ASCII case-insensitive equality (HTTP field names are case-insensitive, RFC 9110 section 5.1).
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

struct Header {
    std::string name;
    std::string value;
};

/// An ordered list of HTTP header fields with case-insensitive lookup. Repeated names are kept
/// (in arrival order); `find` returns the first. A value type: no thread affinity.
class Headers {
public:
    Headers() = default;

    Headers(std::initializer_list<Header> headers) : entries_(headers) {}

    /// Appends a field (does not replace an existing one of the same name).
    void add(std::string name, std::string value);

    /// Replaces every field named `name` by one with `value`.
    void set(std::string_view name, std::string value);

    /// Removes every field named `name`.
    void remove(std::string_view name);

    /// The first value of `name` (any case), or nullopt.
    [[nodiscard]] std::optional<std::string_view> find(std::string_view name) const noexcept;

    [[nodiscard]] bool contains(std::string_view name) const noexcept {
        return find(name).has_value();
    }

    [[nodiscard]] const std::vector<Header>& entries() const noexcept { return entries_; }

    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

    [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

    [[nodiscard]] auto begin() const noexcept { return entries_.begin(); }

    [[nodiscard]] auto end() const noexcept { return entries_.end(); }

private:
    std::vector<Header> entries_;
};

}  // namespace dvd::http

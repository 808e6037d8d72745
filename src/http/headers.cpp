#include "http/headers.hpp"

#include <algorithm>
#include <utility>

namespace dvd::http {
namespace {

constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

void Headers::add(std::string name, std::string value) {
    entries_.push_back(Header{std::move(name), std::move(value)});
}

void Headers::set(std::string_view name, std::string value) {
    remove(name);
    entries_.push_back(Header{std::string(name), std::move(value)});
}

void Headers::remove(std::string_view name) {
    std::erase_if(entries_, [name](const Header& h) { return iequals(h.name, name); });
}

std::optional<std::string_view> Headers::find(std::string_view name) const noexcept {
    const auto it = std::find_if(entries_.begin(), entries_.end(),
                                 [name](const Header& h) { return iequals(h.name, name); });
    if (it == entries_.end()) {
        return std::nullopt;
    }
    return std::string_view(it->value);
}

}  // namespace dvd::http

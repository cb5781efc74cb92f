#ifndef SLUICE_TESTS_MOCK_SUPPORT_HPP
#define SLUICE_TESTS_MOCK_SUPPORT_HPP

#include "answer.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <utility>
#include <vector>

namespace sluice::mock::test {

/// A request read from JSON, which must be valid.
inline mock_request read_ok(api kind, std::string_view body) {
    auto r = read_request(kind, body);
    return std::get<mock_request>(r);
}

inline std::string openai_chat(std::string_view user_text, std::string_view extra = "") {
    std::string b = R"({"model":"gpt-test","messages":[{"role":"user","content":")";
    b += user_text;
    b += "\"}]";
    b += extra;
    b += '}';
    return b;
}

inline std::string anthropic_messages(std::string_view user_text, std::string_view extra = "") {
    std::string b = R"({"model":"claude-test","max_tokens":64,"messages":[{"role":"user","content":")";
    b += user_text;
    b += "\"}]";
    b += extra;
    b += '}';
    return b;
}

/// Every event of a stream, in order.
template <class Encoder>
std::vector<stream_event> collect(const answer_plan& plan) {
    Encoder enc(plan);
    std::vector<stream_event> out;
    stream_event ev;
    while (enc.next(ev)) out.push_back(ev);
    return out;
}

inline boost::json::value json(std::string_view s) { return boost::json::parse(s); }

} // namespace sluice::mock::test

#endif

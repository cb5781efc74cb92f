// A provider that speaks a toy dialect, to drive the host through the whole interface:
// the body is {"model", "text"}; the answer is plain text; a stream is one text line per
// fragment and ends with a "[DONE]" line.

#include <sluice/plugin/provider.hpp>

#include <boost/json/serialize.hpp>

#include <stdexcept>

#ifndef ECHO_PLUGIN_NAME
#define ECHO_PLUGIN_NAME "echo"
#endif

namespace {

using namespace sluice;

class echo_stream_decoder final : public plugin::stream_decoder {
public:
    void feed(std::string_view bytes, std::vector<core::event>& out) override {
        pending_ += bytes;
        for (auto nl = pending_.find('\n'); nl != std::string::npos; nl = pending_.find('\n')) {
            std::string line = pending_.substr(0, nl);
            pending_.erase(0, nl + 1);
            on_line(line, out);
        }
    }
    void finish(std::vector<core::event>& out) override {
        if (pending_ == "boom") throw std::runtime_error("decoder exploded");
        if (!done_) out.emplace_back(core::error{core::error_kind::upstream, "stream ended before [DONE]", {}, {}});
    }

private:
    void on_line(const std::string& line, std::vector<core::event>& out) {
        if (!started_) {
            out.emplace_back(core::message_start{"echo-1", "echo-model"});
            out.push_back(core::text_start(0));
            started_ = true;
        }
        if (line == "[DONE]") {
            out.emplace_back(core::block_stop{0});
            out.emplace_back(core::message_stop{core::finish_reason::stop, {}});
            done_ = true;
            return;
        }
        out.push_back(core::text_delta(0, line));
    }

    std::string pending_;
    bool started_ = false;
    bool done_ = false;
};

class echo_provider final : public plugin::provider {
public:
    explicit echo_provider(const plugin::provider_config& config) : config_(config) {}

    plugin::provider_info describe() const override {
        return {ECHO_PLUGIN_NAME, "1.2.3", {core::endpoint::chat}, plugin::auth_scheme::bearer, {}};
    }

    plugin::result<plugin::upstream_request> build_request(const core::envelope& request) const override {
        if (request.model == "throw") throw std::runtime_error("cannot translate model 'throw'");
        if (request.messages.empty())
            return core::error{core::error_kind::invalid_request, "messages must not be empty", "messages", {}};
        plugin::upstream_request out;
        out.path = "/echo";
        out.headers = config_.headers;
        out.headers.emplace_back("authorization", "Bearer " + config_.api_key);
        out.body = boost::json::serialize(boost::json::object{
            {"model", request.model}, {"text", core::text_of(request.messages.back().content)}});
        return out;
    }

    plugin::result<std::vector<core::event>> decode_response(std::string_view body) const override {
        return std::vector<core::event>{core::message_start{"echo-1", "echo-model"},
                                        core::text_start(0),
                                        core::text_delta(0, std::string(body)),
                                        core::block_stop{0},
                                        core::usage{3, 1, 0, 0, 0},
                                        core::message_stop{core::finish_reason::stop, {}}};
    }

    plugin::result<std::unique_ptr<plugin::stream_decoder>> make_stream_decoder(const core::envelope&) const override {
        return std::unique_ptr<plugin::stream_decoder>(std::make_unique<echo_stream_decoder>());
    }

    core::error map_error(unsigned status, std::string_view body) const override {
        if (status == 418) throw 42; // not even a std::exception
        auto kind = status == 429 ? core::error_kind::rate_limit : core::error_kind::upstream;
        return core::error{kind, std::string(body), {}, {}};
    }

private:
    plugin::provider_config config_;
};

} // namespace

SLUICE_PROVIDER_PLUGIN(echo_provider, ECHO_PLUGIN_NAME, "1.2.3")

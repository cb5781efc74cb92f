#ifndef SLUICE_CONFIG_LOAD_HPP
#define SLUICE_CONFIG_LOAD_HPP

// Reads a gateway config file into a checked gateway_config, or throws config_error at the
// first thing wrong. `sluice-gateway --check --config FILE` is load_file and nothing more.
//
//   auto cfg = sluice::config::load_file("gateway.yaml");
//   auto cfg = sluice::config::load_string(embedded_default_yaml, "default.yaml");

#include <sluice/config/config.hpp>
#include <sluice/config/json.hpp>

#include <boost/url/parse.hpp>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>
#include <thread>

namespace sluice::config {

inline constexpr std::array<std::string_view, 13> top_level_keys{
    "listen", "threads",  "server", "plugin_path", "providers", "models",
    "auth",   "accounts", "limits", "metering",    "metrics",   "routers", "jobs"};

inline constexpr unsigned max_threads = 1024;

namespace load_detail {

inline bool is_provider_name(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

inline bool is_header_name(std::string_view s) {
    constexpr std::string_view extra = "!#$%&'*+-.^_`|~"; // RFC 9110 token characters
    return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
    });
}

/// An http(s) URL with a host and no query, fragment or credentials, without its trailing '/'.
inline std::string read_base_url(const node& n) {
    auto text = n.as_nonempty_string();
    auto url = boost::urls::parse_absolute_uri(text);
    if (!url) n.fail("expected an http or https URL like https://api.openai.com/v1");
    if (url->scheme_id() != boost::urls::scheme::http && url->scheme_id() != boost::urls::scheme::https)
        n.fail("the scheme must be http or https");
    if (!url->has_authority() || url->host().empty()) n.fail("the URL has no host");
    if (url->has_port()) {
        // Parsed here: Boost.URL's port_number() wraps a port above 65535 round to a valid one.
        std::string_view port = url->port();
        unsigned long number = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
        if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number == 0 ||
            number > 65535)
            n.fail("the port must be a number from 1 to 65535");
    }
    // Credentials in a URL end up in logs; they belong in api_key or headers.
    if (url->has_userinfo()) n.fail("put credentials in api_key or headers, not in the URL");
    if (url->has_query() || url->has_fragment()) n.fail("a base URL has no query or fragment");
    while (text.size() > 1 && text.back() == '/') text.pop_back();
    return text;
}

inline server_settings read_server(const node& n) {
    server_settings s;
    auto m = n.as_mapping({"header_timeout", "body_timeout", "idle_timeout", "write_timeout", "drain_timeout",
                           "body_limit", "header_limit", "tls"});
    if (auto v = m.find("header_timeout")) s.header_timeout = v->as_duration();
    if (auto v = m.find("body_timeout")) s.body_timeout = v->as_duration();
    if (auto v = m.find("idle_timeout")) s.idle_timeout = v->as_duration();
    if (auto v = m.find("write_timeout")) s.write_timeout = v->as_duration();
    if (auto v = m.find("drain_timeout")) s.drain_timeout = v->as_duration(/*zero_ok=*/true);
    if (auto v = m.find("body_limit")) s.body_limit = v->as_size();
    if (auto v = m.find("header_limit")) s.header_limit = std::uint32_t(v->as_size(1ull << 30));
    if (auto v = m.find("tls")) {
        auto t = v->as_mapping({"cert_file", "key_file"});
        s.tls =
            server_tls{t.required("cert_file").as_existing_file(), t.required("key_file").as_existing_file()};
    }
    return s;
}

inline upstream_timeouts read_upstream_timeouts(const node& n) {
    upstream_timeouts t;
    auto m = n.as_mapping({"connect", "first_byte", "total"});
    if (auto v = m.find("connect")) t.connect = v->as_duration();
    if (auto v = m.find("first_byte")) t.first_byte = v->as_duration();
    if (auto v = m.find("total")) t.total = v->as_duration();
    for (auto [key, value] : {std::pair{"connect", t.connect}, std::pair{"first_byte", t.first_byte}})
        if (value > t.total) {
            auto at = m.find(key);
            (at ? *at : n)
                .fail(std::string(key) + " (" + format_duration(value) + ") must not exceed total (" +
                      format_duration(t.total) + ")");
        }
    return t;
}

/// earlier: the providers before this one, to refuse a second of the same name.
inline provider_config read_provider(const node& n, const std::vector<provider_config>& earlier) {
    auto m = n.as_mapping(
        {"name", "plugin", "base_url", "api_key", "headers", "timeouts", "max_connections", "tls", "options"});
    provider_config p;
    auto name = m.required("name");
    p.name = name.as_nonempty_string();
    p.line = name.line();
    if (!is_provider_name(p.name)) name.fail("a provider name uses only a-z, 0-9, '_' and '-'");
    for (const auto& e : earlier)
        if (e.name == p.name)
            name.fail("duplicate provider name '" + p.name + "' (first at line " + std::to_string(e.line) +
                      ")");
    auto plugin = m.required("plugin");
    p.plugin = plugin.as_nonempty_string();
    if (p.plugin_is_path())
        p.plugin = plugin.as_path().string();
    else if (!is_provider_name(p.plugin))
        plugin.fail("expected a plugin name (a-z, 0-9, '_', '-') or a path to a .so file");
    p.base_url = read_base_url(m.required("base_url"));
    if (auto v = m.find("api_key")) p.api_key = v->as_string();
    if (auto v = m.find("headers"))
        for (auto& [header, value] : v->as_free_mapping()) {
            if (!is_header_name(header)) value.fail("not a valid HTTP header name");
            auto text = value.as_string();
            // A CR or LF would let a value (perhaps from the environment) inject headers.
            if (text.find_first_of("\r\n") != std::string::npos || text.find('\0') != std::string::npos)
                value.fail("a header value must not contain line breaks");
            p.headers.emplace_back(header, std::move(text));
        }
    if (auto v = m.find("timeouts")) p.timeouts = read_upstream_timeouts(*v);
    if (auto v = m.find("options")) {
        if (!v->is_mapping() && !v->is_null()) v->fail_expected("a mapping of plugin options");
        if (v->is_mapping()) p.options = to_json(*v).as_object();
    }
    if (auto v = m.find("max_connections")) p.max_connections = unsigned(v->as_integer(1, 65536));
    if (auto v = m.find("tls")) {
        auto t = v->as_mapping({"verify", "ca_file"});
        if (auto f = t.find("verify")) p.tls.verify = f->as_bool();
        if (auto f = t.find("ca_file")) p.tls.ca_file = f->as_existing_file();
    }
    return p;
}

inline token_price read_price(const node& n) {
    auto m = n.as_mapping({"input", "output", "cached_input", "cache_write", "image", "video_second"});
    token_price price;
    // `video_second: X` (USD per second of video) for video models: seconds are metered as
    // output units, like images.
    if (auto v = m.find("video_second")) {
        price.output = v->as_number(0) * 1e6;
        for (auto other : {"output", "image"})
            if (auto o = m.find(other)) o->fail(std::string("give either video_second or ") + other + ", not both");
        if (auto i = m.find("input")) price.input = i->as_number(0);
        price.cached_input = price.cache_write = price.input;
        return price;
    }
    // `image: X` (USD per image) for image models: images are metered as output units, so it is
    // an output price of X per unit, and input/output may be left out.
    if (auto v = m.find("image")) {
        price.output = v->as_number(0) * 1e6;
        if (auto o = m.find("output")) o->fail("give either image or output, not both");
        if (auto i = m.find("input")) price.input = i->as_number(0);
        price.cached_input = price.cache_write = price.input;
        return price;
    }
    price.input = m.required("input").as_number(0);
    price.output = m.required("output").as_number(0);
    price.cached_input = price.input;
    price.cache_write = price.input;
    if (auto v = m.find("cached_input")) price.cached_input = v->as_number(0);
    if (auto v = m.find("cache_write")) price.cache_write = v->as_number(0);
    return price;
}

inline core::endpoint_set read_endpoints(const node& n) {
    core::endpoint_set set;
    for (const auto& item : n.items()) {
        auto name = item.as_nonempty_string();
        auto e = core::endpoint_from_string(name);
        if (!e) {
            auto hint = did_you_mean(name, core::endpoint_names);
            item.fail("unknown endpoint '" + name + "'" +
                      (hint.empty() ? " (known: " + joined_names(core::endpoint_names) + ")" : hint));
        }
        set.insert(*e);
    }
    return set;
}

/// `kernel: { plugin, path, options }`. The files are looked for when the gateway starts, where
/// a missing one can be reported with every place tried.
inline kernel_model_config read_kernel(const node& n) {
    auto m = n.as_mapping({"plugin", "path", "options"});
    kernel_model_config k;
    k.line = n.line();
    k.plugin = m.required("plugin").as_nonempty_string();
    if (auto v = m.find("path")) {
        k.path = std::filesystem::path(v->as_nonempty_string()).lexically_normal();
        k.base_dir = n.doc().base_dir;
    }
    if (auto v = m.find("options")) {
        if (!v->is_mapping() && !v->is_null()) v->fail_expected("a mapping of kernel options");
        if (v->is_mapping()) k.options = to_json(*v).as_object();
    }
    return k;
}

inline void read_model_provider(const node& provider, const std::vector<provider_config>& providers,
                                model_config& model);
inline void read_model_details(const mapping& m, model_config& model);

/// earlier: the models before this one, to refuse a second of the same id.
inline model_config read_model(const node& n, const std::vector<provider_config>& providers,
                               const std::vector<model_config>& earlier) {
    auto m = n.as_mapping({"id", "provider", "kernel", "upstream_model", "endpoints", "context_window",
                           "max_output_tokens", "open_weight", "owned_by", "created", "price", "supports"});
    model_config model;
    auto id = m.required("id");
    model.id = id.as_nonempty_string();
    model.line = id.line();
    for (const auto& e : earlier)
        if (e.id == model.id)
            id.fail("duplicate model id '" + model.id + "' (first at line " + std::to_string(e.line) + ")");
    if (std::any_of(model.id.begin(), model.id.end(), [](char c) {
            return std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c));
        }))
        id.fail("a model id must not contain spaces or control characters");
    // Clients name a router as "router:NAME" in the model field, so no model may look like one.
    if (model.id.starts_with("router:")) id.fail("'router:' begins router names, not model ids");

    // Served by an upstream (provider) or in process (kernel): exactly one of the two.
    auto kernel = m.find("kernel");
    if (kernel && m.find("provider"))
        kernel->fail("a model is served by a provider or by a kernel, not both: remove 'provider' or 'kernel'");
    if (kernel) {
        model.kernel = read_kernel(*kernel);
        model.upstream_model = model.id;
        model.owned_by = "local";
    } else {
        read_model_provider(m.required("provider"), providers, model);
    }
    read_model_details(m, model);
    return model;
}

inline void read_model_provider(const node& provider, const std::vector<provider_config>& providers,
                                model_config& model) {
    model.provider = provider.as_nonempty_string();
    if (std::none_of(providers.begin(), providers.end(),
                     [&](const auto& p) { return p.name == model.provider; })) {
        std::vector<std::string_view> names;
        for (const auto& p : providers) names.push_back(p.name);
        auto hint = did_you_mean(model.provider, names);
        provider.fail("unknown provider '" + model.provider + "'" +
                      (!hint.empty()   ? hint
                       : names.empty() ? std::string(" (no providers are declared)")
                                       : " (declared: " + joined_names(names) + ")"));
    }
    model.upstream_model = model.id;
    model.owned_by = model.provider;
}

inline void read_model_details(const mapping& m, model_config& model) {
    if (auto v = m.find("upstream_model")) model.upstream_model = v->as_nonempty_string();
    if (auto v = m.find("endpoints")) {
        auto set = read_endpoints(*v);
        if (!set.empty()) model.endpoints = set;
    }
    if (auto v = m.find("supports")) {
        auto f = v->as_mapping({"tools", "vision", "reasoning", "response_format"});
        if (auto x = f.find("tools")) model.supports.tools = x->as_bool();
        if (auto x = f.find("vision")) model.supports.vision = x->as_bool();
        if (auto x = f.find("reasoning")) model.supports.reasoning = x->as_bool();
        if (auto x = f.find("response_format")) model.supports.response_format = x->as_bool();
    }
    if (auto v = m.find("context_window")) model.context_window = std::uint64_t(v->as_integer(1));
    if (auto v = m.find("max_output_tokens")) {
        model.max_output_tokens = std::uint64_t(v->as_integer(1));
        if (model.context_window && *model.max_output_tokens > *model.context_window)
            v->fail("must not exceed context_window (" + std::to_string(*model.context_window) + ")");
    }
    if (auto v = m.find("open_weight")) model.open_weight = v->as_bool();
    if (auto v = m.find("owned_by")) model.owned_by = v->as_nonempty_string();
    if (auto v = m.find("created")) model.created = v->as_integer(0);
    if (auto v = m.find("price")) model.price = read_price(*v);
}

/// Reads documents without building them, keeping where the last one's content starts.
struct second_document final : YAML::EventHandler {
    YAML::Mark at;
    bool fresh = false; // no node of the current document seen yet
    void mark(const YAML::Mark& m) {
        if (fresh) at = m;
        fresh = false;
    }
    void OnDocumentStart(const YAML::Mark& m) override { at = m, fresh = true; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& m, YAML::anchor_t) override { mark(m); }
    void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { mark(m); }
    void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string&) override { mark(m); }
    void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        mark(m);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        mark(m);
    }
    void OnMapEnd() override {}
};

} // namespace load_detail

/// Reads a parsed document; load_file and load_string parse and call this.
inline gateway_config load_document(const node& root) {
    if (!root.is_null() && !root.is_mapping()) root.fail("expected a mapping of settings at the top level");
    auto m = root.as_mapping(top_level_keys);
    gateway_config cfg;
    cfg.source = root.doc().name;

    if (auto v = m.find("listen")) {
        std::string why;
        auto address = parse_listen_address(v->scalar("HOST:PORT"), &why);
        if (!address) v->fail(why + ", got " + v->described());
        cfg.listen = *address;
    }
    cfg.threads = std::clamp(std::thread::hardware_concurrency(), 1u, max_threads);
    if (auto v = m.find("threads")) cfg.threads = unsigned(v->as_integer(1, max_threads));
    if (auto v = m.find("server")) cfg.server = load_detail::read_server(*v);
    if (auto v = m.find("plugin_path"))
        for (const auto& dir : v->items()) cfg.plugin_path.push_back(dir.as_path());

    if (auto v = m.find("providers"))
        for (const auto& item : v->items())
            cfg.providers.push_back(load_detail::read_provider(item, cfg.providers));
    if (auto v = m.find("models"))
        for (const auto& item : v->items())
            cfg.models.push_back(load_detail::read_model(item, cfg.providers, cfg.models));

    auto accounts = m.find("accounts");
    if (accounts && !accounts->is_null())
        cfg.accounts = read_accounts(*accounts, [&](std::string_view id) { return cfg.find_model(id) != nullptr; });
    auto auth = m.find("auth");
    cfg.auth = read_auth(auth ? &*auth : nullptr, cfg.listen, cfg.accounts, accounts.has_value(), root.doc().base_dir);
    if (auto v = m.find("limits")) cfg.limits = read_limits(*v);
    if (auto v = m.find("metering")) cfg.metering = read_metering(*v);
    if (auto v = m.find("metrics")) cfg.metrics = read_metrics(*v);
    cfg.routers = m.find("routers");
    auto jobs = m.find("jobs");
    cfg.jobs = read_jobs(jobs ? &*jobs : nullptr, root.doc().base_dir);
    return cfg;
}

/// Parses YAML text; source_name stands for the file in errors, and relative paths in it are
/// taken from base_dir (empty: as written, from the working directory).
inline gateway_config load_string(std::string_view yaml, std::string_view source_name,
                                  env_lookup env = process_env(), std::filesystem::path base_dir = {}) {
    auto doc = std::make_shared<const document>(
        document{std::string(source_name), std::move(base_dir), std::move(env)});
    YAML::Node root;
    std::optional<YAML::Mark> second;
    try {
        const std::string text(yaml);
        root = YAML::Load(text);
        // Not YAML::LoadAll: it loops forever, allocating, on a stray ',' (yaml-cpp #1040, fixed
        // after 0.8). Two parser steps at most tell whether a second document follows.
        std::istringstream in(text);
        YAML::Parser parser(in);
        load_detail::second_document probe;
        if (parser.HandleNextDocument(probe) && parser.HandleNextDocument(probe)) second = probe.at;
    } catch (const YAML::Exception& e) {
        const int line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
        const int column = e.mark.column >= 0 ? e.mark.column + 1 : 0;
        throw config_error(doc->name, line, column, "", "invalid YAML: " + e.msg);
    }
    if (second)
        throw config_error(doc->name, second->line + 1, second->column + 1, "",
                           "expected one YAML document, found a second");
    return load_document(node(root, "", doc));
}

/// Reads and checks a config file; relative paths in it are taken from the file's folder.
inline gateway_config load_file(const std::filesystem::path& file, env_lookup env = process_env()) {
    const std::string name = file.string();
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) throw config_error(name, 0, 0, "", "no such file");
    if (!std::filesystem::is_regular_file(file, ec)) throw config_error(name, 0, 0, "", "not a regular file");
    std::ifstream in(file, std::ios::binary);
    if (!in) throw config_error(name, 0, 0, "", "cannot open the file for reading");
    std::ostringstream text;
    text << in.rdbuf();
    return load_string(text.str(), name, std::move(env), file.parent_path());
}

} // namespace sluice::config

#endif

// sluice-lm-bench: the lm kernel's figures in one run on one machine, each beside its reference
// (../../shared/design/PERFORMANCE.md, "The lm kernel"):
//   1. memory bandwidth, STREAM-style copy and triad with the model's thread count;
//   2. decode tokens/s at batch 1 per model, as a share of the bandwidth limit
//      (copy bandwidth / bytes of every weight tensor: a decode step reads each weight once);
//   3. the same GGUF on llama.cpp (node-llama-cpp, llama-peer.mjs), same threads, prompt and tokens;
//   4. aggregate tokens/s of N concurrent requests against the same requests one at a time;
//   5. time to first token after a long shared prefix, cached against cold.
// The kernel runs in process through sluice::plugin::host (no HTTP: bench/run's gateway benchmark
// covers that); times are steady_clock around submit and the events the sink receives.
//
//   sluice-lm-bench --model FILE [--model FILE]... [--threads N] [--quick] [--out DIR]
//                   [--plugin NAME|PATH] [--plugin-dir DIR] [--option KEY=VALUE]...
//                   [--peer "COMMAND" | --no-peer] [--tokens N] [--runs N]
//                   [--concurrency N] [--batch-tokens N] [--sequential N]
//                   [--prefix-tokens N] [--stream-mib N] [--stream-runs N]
//
// Batching and prefix figures run on the first model. The table goes to stdout (and summary.md
// under --out, with results.json); progress goes to stderr. Exit 1 when the kernel cannot be
// loaded or a request fails: a timing of failures is no timing. Goals missed are reported, not
// an error.

#include "bandwidth.hpp"
#include "gguf_summary.hpp"

#include <sluice/core/envelope.hpp>
#include <sluice/core/event.hpp>
#include <sluice/plugin/host.hpp>
#include <sluice/plugin/kernel.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace sluice;
namespace lmb = sluice::bench::lm;
using clock_type = std::chrono::steady_clock;
namespace json = boost::json;

double seconds_since(clock_type::time_point start, clock_type::time_point t) {
    return std::chrono::duration<double>(t - start).count();
}

void progress(const std::string& line) {
    std::time_t now = std::time(nullptr);
    char stamp[16];
    std::strftime(stamp, sizeof stamp, "%H:%M:%S", std::localtime(&now));
    std::fprintf(stderr, "[lm-bench %s] %s\n", stamp, line.c_str());
}

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

// ---------------------------------------------------------------- options

struct options {
    std::vector<std::string> models;
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    bool quick = false;
    std::string plugin = "lm";
    std::vector<std::filesystem::path> plugin_dirs;
    json::object kernel_options;
    std::optional<std::string> peer; // command; empty optional: the default peer
    bool no_peer = false;
    std::string out;
    // Counts; 0 means "the mode's default", filled in by finish().
    unsigned tokens = 0, runs = 0, concurrency = 0, batch_tokens = 0, sequential = 0, prefix_tokens = 0;
    unsigned stream_mib = 0, stream_runs = 0;

    void finish() {
        auto pick = [&](unsigned& v, unsigned full, unsigned small) { if (!v) v = quick ? small : full; };
        pick(tokens, 64, 8);
        pick(runs, 3, 1);
        pick(concurrency, 16, 4);
        pick(batch_tokens, 32, 4);
        pick(sequential, 4, 2);
        pick(prefix_tokens, 1000, 200);
        pick(stream_mib, 1024, 64);
        pick(stream_runs, 10, 3);
    }
};

[[noreturn]] void usage_error(const std::string& why) {
    std::fprintf(stderr, "sluice-lm-bench: %s\n(see the comment at the top of bench/lm/main.cpp)\n", why.c_str());
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage_error("missing value after " + std::string(a));
            return argv[++i];
        };
        auto number = [&]() {
            auto v = next();
            char* end = nullptr;
            auto n = std::strtoul(v.c_str(), &end, 10);
            if (!end || *end || n == 0) usage_error(std::string(a) + " wants a positive number, not " + v);
            return unsigned(n);
        };
        if (a == "--model") o.models.push_back(next());
        else if (a == "--threads") o.threads = number();
        else if (a == "--quick") o.quick = true;
        else if (a == "--plugin") o.plugin = next();
        else if (a == "--plugin-dir") o.plugin_dirs.emplace_back(next());
        else if (a == "--peer") o.peer = next();
        else if (a == "--no-peer") o.no_peer = true;
        else if (a == "--out") o.out = next();
        else if (a == "--tokens") o.tokens = number();
        else if (a == "--runs") o.runs = number();
        else if (a == "--concurrency") o.concurrency = number();
        else if (a == "--batch-tokens") o.batch_tokens = number();
        else if (a == "--sequential") o.sequential = number();
        else if (a == "--prefix-tokens") o.prefix_tokens = number();
        else if (a == "--stream-mib") o.stream_mib = number();
        else if (a == "--stream-runs") o.stream_runs = number();
        else if (a == "--option") {
            auto kv = next();
            auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) usage_error("--option wants KEY=VALUE, not " + kv);
            json::error_code ec;
            auto v = json::parse(kv.substr(eq + 1), ec); // numbers and booleans as JSON, else a string
            o.kernel_options[kv.substr(0, eq)] = ec ? json::value(kv.substr(eq + 1)) : v;
        } else if (a == "-h" || a == "--help") {
            std::printf("see the comment at the top of bench/lm/main.cpp\n");
            std::exit(0);
        } else usage_error("unknown option " + std::string(a));
    }
    if (o.models.empty()) usage_error("no --model");
    o.finish();
    if (!o.kernel_options.contains("threads")) o.kernel_options["threads"] = o.threads;
    if (!o.kernel_options.contains("max_batch")) o.kernel_options["max_batch"] = std::max(16u, o.concurrency);
    return o;
}

// ---------------------------------------------------------------- driving a kernel

// One request's life as the sink saw it.
struct outcome {
    clock_type::time_point submitted, first_delta, ended;
    bool got_delta = false;
    core::usage usage;
    std::optional<core::error> error;
    core::finish_reason finish = core::finish_reason::error;
    std::string text;

    double ttft() const { return seconds_since(submitted, got_delta ? first_delta : ended); }
    double total() const { return seconds_since(submitted, ended); }
    /// Tokens after the first, over the time from the first token's text to the end.
    double decode_rate() const {
        const double t = seconds_since(first_delta, ended);
        return got_delta && usage.output > 1 && t > 0 ? double(usage.output - 1) / t : 0;
    }
};

// Requests in flight and their outcomes; sinks run on the kernel's threads.
class tracker {
public:
    std::size_t submit(plugin::kernel& k, core::envelope e) {
        std::size_t slot;
        {
            std::lock_guard lock(mutex_);
            slot = outcomes_.size();
            outcomes_.emplace_back();
            outcomes_[slot].submitted = clock_type::now();
            ++pending_;
        }
        auto sink = [this, slot](core::event&& ev) { on_event(slot, std::move(ev)); };
        auto id = k.submit(std::move(e), std::move(sink));
        if (!id) {
            std::lock_guard lock(mutex_);
            outcomes_[slot].error = id.error();
            outcomes_[slot].ended = clock_type::now();
            --pending_;
        }
        return slot;
    }
    /// Waits for every request submitted so far; false after `limit`.
    bool wait(std::chrono::seconds limit) {
        std::unique_lock lock(mutex_);
        return done_.wait_for(lock, limit, [this] { return pending_ == 0; });
    }
    std::vector<outcome> take() {
        std::lock_guard lock(mutex_);
        return std::exchange(outcomes_, {});
    }

private:
    void on_event(std::size_t slot, core::event&& ev) {
        const auto now = clock_type::now();
        std::lock_guard lock(mutex_);
        auto& o = outcomes_[slot];
        if (auto* d = std::get_if<core::block_delta>(&ev)) {
            if (!o.got_delta) o.first_delta = now, o.got_delta = true;
            o.text += d->text;
        } else if (auto* u = std::get_if<core::usage>(&ev)) {
            o.usage += *u;
        } else if (auto* s = std::get_if<core::message_stop>(&ev)) {
            o.finish = s->finish;
        } else if (auto* err = std::get_if<core::error>(&ev)) {
            o.error = *err;
        }
        if (core::is_terminal(ev)) {
            o.ended = now;
            if (--pending_ == 0) done_.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable done_;
    std::vector<outcome> outcomes_; // by slot (an index: the vector may grow while sinks run)
    std::size_t pending_ = 0;
};

core::envelope chat(const std::string& model, std::string system, std::string user, unsigned max_tokens) {
    core::envelope e;
    e.endpoint = core::endpoint::chat;
    e.api = core::front_api::internal;
    e.model = model;
    if (!system.empty()) e.system.push_back(core::text_part{std::move(system), {}});
    e.messages.push_back(core::message::user(std::move(user)));
    e.sampling.temperature = 0.0; // greedy
    e.sampling.max_output_tokens = max_tokens;
    e.stream = true;
    return e;
}

// Runs `envelopes` all at once (concurrent) or one after another; exits on a failed request.
std::vector<outcome> run(plugin::kernel& k, std::vector<core::envelope> envelopes, bool concurrent,
                         const std::string& what) {
    tracker t;
    std::vector<outcome> all;
    auto check = [&](std::vector<outcome> got) {
        for (auto& o : got) {
            if (o.error) {
                std::fprintf(stderr, "sluice-lm-bench: %s: a request failed: %s\n", what.c_str(), o.error->message.c_str());
                std::exit(1);
            }
            all.push_back(std::move(o));
        }
    };
    if (concurrent) {
        for (auto& e : envelopes) t.submit(k, std::move(e));
        if (!t.wait(std::chrono::seconds(900))) {
            std::fprintf(stderr, "sluice-lm-bench: %s: no answer in 900 s\n", what.c_str());
            std::exit(1);
        }
        check(t.take());
    } else {
        for (auto& e : envelopes) {
            t.submit(k, std::move(e));
            if (!t.wait(std::chrono::seconds(900))) {
                std::fprintf(stderr, "sluice-lm-bench: %s: no answer in 900 s\n", what.c_str());
                std::exit(1);
            }
            check(t.take());
        }
    }
    return all;
}

// ---------------------------------------------------------------- prompts

constexpr std::string_view decode_prompt = "Write a long story about a lighthouse keeper and the sea.";

// Deterministic filler text for a long prefix: words drawn from a fixed list by a seeded generator,
// with `nonce` first so that two prefixes differ from their first tokens on.
std::string filler(unsigned words, std::uint32_t nonce) {
    static constexpr std::string_view list[] = {
        "the", "river", "carried", "small", "boats", "past", "old", "stone", "houses", "where", "people",
        "worked", "late", "into", "evening", "and", "children", "watched", "lights", "moving", "across",
        "water", "while", "a", "quiet", "wind", "came", "from", "northern", "hills", "over", "fields",
        "of", "wheat", "market", "bread", "tower", "bridge", "winter", "summer", "letters", "history"};
    std::mt19937 gen(nonce);
    std::string out = "Document " + std::to_string(nonce) + ":";
    for (unsigned i = 0; i < words; ++i) {
        out += ' ';
        out += list[gen() % std::size(list)];
        if (i % 12 == 11) out += '.';
    }
    return out;
}

// ---------------------------------------------------------------- the peer

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// The peer's JSON answer, or {"ok":false,"reason":...}.
json::object run_peer(const std::string& command, const std::string& model, unsigned threads, unsigned tokens,
                      unsigned runs) {
    const std::string line = command + " --model " + shell_quote(model) + " --threads " + std::to_string(threads) +
                             " --tokens " + std::to_string(tokens) + " --runs " + std::to_string(runs) +
                             " --prompt " + shell_quote(std::string(decode_prompt)) +
                             (threads > 1 ? " --also-threads 1" : "") + " 2>&1";
    std::FILE* p = ::popen(line.c_str(), "r");
    if (!p) return {{"ok", false}, {"reason", "cannot start the peer command"}};
    std::string output;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, p)) output += buf;
    const int status = ::pclose(p);
    // The answer is the last {"ok":... line; llama.cpp's log, on the same pipe, may share its line.
    std::string answer;
    if (auto at = output.rfind("{\"ok\":"); at != std::string::npos)
        answer = output.substr(at, output.find('\n', at) - at);
    json::error_code ec;
    auto v = json::parse(answer, ec);
    if (!ec && v.is_object()) return v.as_object();
    auto tail = output.size() > 300 ? output.substr(output.size() - 300) : output;
    std::replace(tail.begin(), tail.end(), '\n', ' ');
    return {{"ok", false}, {"reason", "the peer exited " + std::to_string(status) + " without an answer: " + tail}};
}

// ---------------------------------------------------------------- the report

struct row {
    std::string figure, ours, reference, ratio, goal, verdict;
};

std::string goal_verdict(double value, double goal) { return value >= goal ? "goal met" : "goal missed"; }

std::string markdown(const std::vector<row>& rows) {
    std::string out = "| figure | sluice | reference | ratio | goal | |\n|---|---:|---:|---:|---|---|\n";
    for (const auto& r : rows)
        out += "| " + r.figure + " | " + r.ours + " | " + r.reference + " | " + r.ratio + " | " + r.goal + " | " +
               r.verdict + " |\n";
    return out;
}

// The 1-, 5- and 15-minute load averages: a shared machine's business shows in every figure.
std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return in ? a + " " + b + " " + c : "unknown";
}

std::string mb(std::uint64_t bytes) { return fixed(double(bytes) / 1e6, 1) + " MB"; }

} // namespace

int main(int argc, char** argv) {
    options opt = parse(argc, argv);
    const auto started = clock_type::now();
    std::vector<row> rows;
    json::object results;
    results["mode"] = opt.quick ? "quick" : "full";
    results["threads"] = opt.threads;
    results["plugin"] = opt.plugin;
    results["kernel_options"] = opt.kernel_options;
    results["load_average_start"] = load_average();

    // 1. Memory bandwidth.
    progress("memory bandwidth: 3 arrays of " + std::to_string(opt.stream_mib) + " MiB, " + std::to_string(opt.threads) +
        " threads, best of " + std::to_string(opt.stream_runs));
    const auto bw = lmb::measure_bandwidth(std::size_t(opt.stream_mib) << 20, opt.threads, opt.stream_runs);
    progress("copy " + fixed(bw.copy_gbs, 2) + " GB/s, triad " + fixed(bw.triad_gbs, 2) + " GB/s, read " +
        fixed(bw.read_gbs, 2) + " GB/s");
    results["bandwidth"] = {{"copy_gbs", bw.copy_gbs}, {"triad_gbs", bw.triad_gbs}, {"read_gbs", bw.read_gbs},
                            {"array_bytes", bw.array_bytes}, {"threads", bw.threads}, {"runs", bw.runs}};
    const std::string bw_setup = std::to_string(bw.threads) + " threads, 3 x " + std::to_string(opt.stream_mib) +
                                 " MiB, best of " + std::to_string(bw.runs);
    rows.push_back({"memory bandwidth, copy (" + bw_setup + ")", fixed(bw.copy_gbs, 2) + " GB/s", "", "", "", ""});
    rows.push_back({"memory bandwidth, triad", fixed(bw.triad_gbs, 2) + " GB/s", "", "", "", ""});
    rows.push_back({"memory bandwidth, read (sum)", fixed(bw.read_gbs, 2) + " GB/s", "", "", "", ""});

    plugin::host host(opt.plugin_dirs, std::filesystem::path(SLUICE_BUILD_PLUGIN_DIR));
    const std::string peer_command = opt.peer.value_or("node " + shell_quote(SLUICE_LM_BENCH_PEER));

    json::array model_results;
    for (std::size_t m = 0; m < opt.models.size(); ++m) {
        const std::string& path = opt.models[m];
        const bool first = m == 0;
        json::object mr;
        mr["path"] = path;

        std::optional<lmb::gguf_summary> gguf;
        std::string label = std::filesystem::path(path).stem().string();
        try {
            gguf = lmb::summarise_gguf(path);
            label += " (" + gguf->main_type() + ")";
            mr["weight_bytes"] = gguf->weight_bytes;
            mr["parameters"] = gguf->parameters;
            mr["tensors"] = gguf->tensors;
            mr["tied_embeddings"] = gguf->tied_embeddings;
            mr["type"] = gguf->main_type();
            progress(path + ": " + gguf->architecture + ", " + std::to_string(gguf->parameters) + " parameters in " +
                std::to_string(gguf->tensors) + " tensors, " + mb(gguf->weight_bytes) + " of weights (" +
                gguf->main_type() + ")" + (gguf->tied_embeddings ? ", tied embeddings" : ""));
        } catch (const std::exception& e) {
            progress(path + ": no weight size (" + e.what() + ")");
            mr["weight_bytes_error"] = e.what();
        }

        // Load.
        auto made = host.create_kernel(opt.plugin);
        if (!made) {
            std::fprintf(stderr, "sluice-lm-bench: %s\n", made.error().message.c_str());
            return 1;
        }
        std::shared_ptr<plugin::kernel> kernel = std::move(made).value();
        const auto load_start = clock_type::now();
        auto loaded = kernel->load({"bench", path, opt.kernel_options});
        if (!loaded) {
            std::fprintf(stderr, "sluice-lm-bench: loading %s: %s\n", path.c_str(), loaded.error().message.c_str());
            return 1;
        }
        const auto info = kernel->describe();
        mr["load_seconds"] = seconds_since(load_start, clock_type::now());
        mr["kernel"] = info.name + " " + info.version;
        progress("loaded " + path + " with " + info.name + " " + info.version + " in " +
            fixed(mr["load_seconds"].as_double(), 2) + " s");

        // 2. Decode at batch 1: a warm-up, then the best of `runs`.
        run(*kernel, {chat("bench", "", std::string(decode_prompt), std::min(opt.tokens, 8u))}, false, "warm-up");
        double best = 0;
        std::uint64_t decoded = 0;
        json::array rates;
        for (unsigned r = 0; r < opt.runs; ++r) {
            auto o = run(*kernel, {chat("bench", "", std::string(decode_prompt), opt.tokens)}, false, "decode");
            const double rate = o[0].decode_rate();
            rates.push_back(rate);
            decoded = o[0].usage.output;
            best = std::max(best, rate);
            progress("decode " + label + ": " + std::to_string(o[0].usage.output) + " tokens (prompt " +
                std::to_string(o[0].usage.prompt()) + "), " + fixed(rate, 2) + " tokens/s");
        }
        mr["decode_tps"] = best;
        mr["decode_runs"] = rates;
        mr["decode_tokens"] = decoded;
        const std::string tokens_note = decoded < opt.tokens ? ", ended early at " + std::to_string(decoded) : "";
        if (gguf) {
            const double limit = bw.copy_gbs * 1e9 / double(gguf->weight_bytes);
            const double share = best / limit;
            mr["limit_tps"] = limit;
            mr["share_of_limit"] = share;
            rows.push_back({"decode, batch 1, " + label + ": share of the bandwidth limit (copy GB/s / " +
                                mb(gguf->weight_bytes) + ", every weight tensor" +
                                (gguf->tied_embeddings ? "; tied embeddings: the embedding table is the output matrix"
                                                       : "") +
                                "; best of " + std::to_string(opt.runs) + " x " + std::to_string(opt.tokens) +
                                " tokens" + tokens_note + ")",
                            fixed(best, 2) + " tok/s", "limit " + fixed(limit, 2) + " tok/s",
                            fixed(100 * share, 1) + " %", ">= 60 %", goal_verdict(share, 0.6)});
        } else {
            rows.push_back({"decode, batch 1, " + label + tokens_note, fixed(best, 2) + " tok/s",
                            "no limit: not a GGUF this tool can size", "", ">= 60 %", "not judged"});
        }

        // 4. and 5. on the first model.
        if (first) {
            // 4. Batching: the same requests (distinct prompts, so no prefix is shared) one at a time,
            // then all at once. Aggregate = generated tokens / wall time, prefill included in both.
            auto batch = [&](unsigned count, unsigned base) {
                std::vector<core::envelope> v;
                for (unsigned i = 0; i < count; ++i)
                    v.push_back(chat("bench", "", "Request " + std::to_string(base + i) + ": " + std::string(decode_prompt),
                                     opt.batch_tokens));
                return v;
            };
            progress("batching: " + std::to_string(opt.sequential) + " requests one at a time, then " +
                std::to_string(opt.concurrency) + " at once, " + std::to_string(opt.batch_tokens) + " tokens each");
            auto seq = run(*kernel, batch(opt.sequential, 1000), false, "one at a time");
            double seq_tokens = 0, seq_time = 0;
            for (auto& o : seq) seq_tokens += double(o.usage.output), seq_time += o.total();
            const double seq_rate = seq_time > 0 ? seq_tokens / seq_time : 0;
            const auto conc_start = clock_type::now();
            auto conc = run(*kernel, batch(opt.concurrency, 2000), true, "concurrent");
            double conc_tokens = 0;
            auto conc_end = conc_start;
            for (auto& o : conc) conc_tokens += double(o.usage.output), conc_end = std::max(conc_end, o.ended);
            const double conc_time = seconds_since(conc_start, conc_end);
            const double conc_rate = conc_time > 0 ? conc_tokens / conc_time : 0;
            const double speedup = seq_rate > 0 ? conc_rate / seq_rate : 0;
            progress("one at a time " + fixed(seq_rate, 2) + " tok/s (" + fixed(seq_tokens, 0) + " tokens), " +
                std::to_string(opt.concurrency) + " at once " + fixed(conc_rate, 2) + " tok/s (" +
                fixed(conc_tokens, 0) + " tokens in " + fixed(conc_time, 2) + " s): " + fixed(speedup, 2) + "x");
            results["batching"] = {{"model", path},
                                   {"concurrency", opt.concurrency},
                                   {"tokens_each", opt.batch_tokens},
                                   {"sequential_requests", opt.sequential},
                                   {"sequential_tps", seq_rate},
                                   {"concurrent_tps", conc_rate},
                                   {"concurrent_tokens", conc_tokens},
                                   {"speedup", speedup}};
            rows.push_back({"aggregate decode, " + std::to_string(opt.concurrency) + " concurrent vs one at a time (" +
                                label + ", " + std::to_string(opt.batch_tokens) + " tokens each, prefill included)",
                            fixed(conc_rate, 2) + " tok/s", fixed(seq_rate, 2) + " tok/s", fixed(speedup, 2) + "x",
                            ">= 5x", goal_verdict(speedup, 5)});

            // 5. Prefix cache. Calibrate words per token with a short probe, then: cold = a prefix
            // never seen (a nonce of its own), cached = the first cold prefix again with another
            // suffix. Each request generates one token, so its end is its first token.
            const unsigned probe_words = 100;
            auto probe = run(*kernel, {chat("bench", filler(probe_words, 7), "Summarise.", 1)}, false, "probe");
            auto bare = run(*kernel, {chat("bench", "Document 8:", "Summarise.", 1)}, false, "probe");
            const double per_word =
                std::max(0.2, double(probe[0].usage.prompt()) - double(bare[0].usage.prompt())) / probe_words;
            const unsigned words = unsigned(std::clamp((opt.prefix_tokens - double(bare[0].usage.prompt())) / per_word, 1.0,
                                                       8.0 * opt.prefix_tokens));
            // One cold run: a long measurement, and the largest cost of the whole run.
            const unsigned colds = 1, cached_runs = opt.quick ? 1 : 3;
            progress("prefix cache: " + std::to_string(words) + " filler words for about " +
                std::to_string(opt.prefix_tokens) + " prompt tokens; " + std::to_string(colds) + " cold, " +
                std::to_string(cached_runs) + " cached");
            double cold_best = 1e30, cached_best = 1e30;
            std::uint64_t prompt_tokens = 0, cache_read = 0;
            json::array cold_times, cached_times;
            for (unsigned c = 0; c < colds; ++c) {
                auto o = run(*kernel, {chat("bench", filler(words, 100 + c), "Question 0: what is this about?", 1)},
                             false, "cold prefix");
                cold_best = std::min(cold_best, o[0].total());
                cold_times.push_back(o[0].total());
                prompt_tokens = o[0].usage.prompt();
                progress("cold: " + fixed(o[0].total() * 1e3, 1) + " ms, " + std::to_string(o[0].usage.prompt()) +
                    " prompt tokens, " + std::to_string(o[0].usage.cache_read) + " from the cache");
            }
            for (unsigned c = 0; c < cached_runs; ++c) {
                auto o = run(*kernel,
                             {chat("bench", filler(words, 100), "Question " + std::to_string(c + 1) + ": who wrote it?", 1)},
                             false, "cached prefix");
                cached_best = std::min(cached_best, o[0].total());
                cached_times.push_back(o[0].total());
                cache_read = o[0].usage.cache_read;
                progress("cached: " + fixed(o[0].total() * 1e3, 1) + " ms, " + std::to_string(o[0].usage.prompt()) +
                    " prompt tokens, " + std::to_string(o[0].usage.cache_read) + " from the cache");
            }
            const double prefix_speedup = cached_best > 0 ? cold_best / cached_best : 0;
            results["prefix_cache"] = {{"model", path},           {"prompt_tokens", prompt_tokens},
                                       {"cache_read_tokens", cache_read}, {"cold_seconds", cold_times},
                                       {"cached_seconds", cached_times},  {"speedup", prefix_speedup}};
            rows.push_back({"time to first token, " + std::to_string(prompt_tokens) + "-token prompt with a shared prefix, cached (" +
                                std::to_string(cache_read) + " tokens from the cache) vs cold (" + label + ")",
                            fixed(cached_best * 1e3, 1) + " ms", fixed(cold_best * 1e3, 1) + " ms",
                            fixed(prefix_speedup, 1) + "x", ">= 10x", goal_verdict(prefix_speedup, 10)});
            const auto load = kernel->current_load();
            results["load_after"] = {{"kv_blocks_used", load.kv_blocks_used},
                                     {"kv_blocks_total", load.kv_blocks_total},
                                     {"prefix_cache_hit_rate", load.prefix_cache_hit_rate}};
        }
        kernel.reset(); // the peer gets the machine to itself

        // 3. The peer on the same file, same threads, prompt and token count.
        std::string peer_row = "not run: --no-peer";
        json::object peer;
        if (!opt.no_peer) {
            progress("llama.cpp peer on " + path);
            peer = run_peer(peer_command, path, opt.threads, opt.tokens, opt.runs);
            if (peer["ok"].is_bool() && peer["ok"].as_bool()) {
                const double theirs = peer["decode_tps"].to_number<double>();
                const double ratio = theirs > 0 ? best / theirs : 0;
                // llama.cpp's thread pool spins at its barriers: on a machine busier than its cores,
                // a descheduled thread stalls the others and N threads fall far below 1. Then the
                // same-thread figure says more about the machine than about llama.cpp, and the peer
                // is also held at its best thread count up to N (an advantage to the peer).
                double peer_best = theirs, one_thread = 0;
                if (auto* one = peer["by_threads"].is_object() ? peer["by_threads"].as_object().if_contains("1") : nullptr)
                    one_thread = one->to_number<double>(), peer_best = std::max(peer_best, one_thread);
                const bool collapsed = one_thread > theirs;
                mr["peer_tps"] = theirs;
                mr["ratio_to_peer"] = ratio;
                mr["peer_best_tps"] = peer_best;
                mr["ratio_to_peer_best"] = peer_best > 0 ? best / peer_best : 0;
                std::string version = peer["version"].is_string() ? std::string(peer["version"].as_string()) : "?";
                const bool cut = peer["cut_short_after_seconds"].is_number();
                progress("llama.cpp " + fixed(theirs, 2) + " tokens/s; sluice / llama.cpp " + fixed(ratio, 2) +
                         (one_thread > 0 ? "; llama.cpp at 1 thread " + fixed(one_thread, 2) + " tokens/s" : ""));
                rows.push_back({"decode, batch 1, " + label + ": sluice / llama.cpp (node-llama-cpp " + version + ", " +
                                    std::to_string(opt.threads) + " threads, greedy, same prompt, " +
                                    std::to_string(opt.tokens) + " tokens" +
                                    (cut ? "; the peer's runs were cut short after " +
                                               fixed(peer["cut_short_after_seconds"].to_number<double>(), 0) + " s"
                                         : std::string()) +
                                    ")",
                                fixed(best, 2) + " tok/s", fixed(theirs, 2) + " tok/s", fixed(ratio, 2), ">= 1",
                                collapsed ? "not judged: llama.cpp was faster at 1 thread (a busy machine)"
                                          : goal_verdict(ratio, 1)});
                if (one_thread > 0) {
                    const double r1 = best / peer_best;
                    rows.push_back({"decode, batch 1, " + label + ": sluice / llama.cpp at its best of 1 and " +
                                        std::to_string(opt.threads) + " threads (sluice at " +
                                        std::to_string(opt.threads) + ")",
                                    fixed(best, 2) + " tok/s",
                                    fixed(peer_best, 2) + " tok/s (" + (collapsed ? "1 thread" : std::to_string(opt.threads) + " threads") + ")",
                                    fixed(r1, 2), ">= 1", goal_verdict(r1, 1)});
                }
                peer_row.clear();
            } else {
                peer_row = "not run: " + (peer["reason"].is_string() ? std::string(peer["reason"].as_string()) : "?");
                progress("llama.cpp peer " + peer_row);
            }
        }
        if (!peer_row.empty())
            rows.push_back({"decode, batch 1, " + label + ": sluice / llama.cpp", fixed(best, 2) + " tok/s", peer_row,
                            "", ">= 1", "not judged"});
        mr["peer"] = peer;
        model_results.push_back(std::move(mr));
    }
    results["models"] = std::move(model_results);
    results["seconds"] = seconds_since(started, clock_type::now());
    results["load_average_end"] = load_average();

    // The table, rows in the order of the issue: bandwidth, decode share, peer, batching, prefix.
    std::stable_sort(rows.begin(), rows.end(), [](const row& a, const row& b) {
        auto rank = [](const row& r) {
            if (r.figure.starts_with("memory")) return 0;
            if (r.figure.find("share of the bandwidth") != std::string::npos || r.reference.starts_with("no limit"))
                return 1;
            if (r.figure.find("llama.cpp") != std::string::npos) return 2;
            if (r.figure.starts_with("aggregate")) return 3;
            return 4;
        };
        return rank(a) < rank(b);
    });
    std::ostringstream table;
    table << "## sluice lm kernel (" << (opt.quick ? "quick" : "full") << " run, " << opt.threads << " threads, "
          << fixed(seconds_since(started, clock_type::now()), 0) << " s, load average "
          << results["load_average_start"].as_string().c_str() << " at the start, " << load_average() << " at the end)\n\n"
          << markdown(rows);
    std::cout << table.str() << std::flush;

    if (!opt.out.empty()) {
        std::filesystem::create_directories(opt.out);
        std::ofstream(std::filesystem::path(opt.out) / "summary.md") << table.str();
        std::ofstream(std::filesystem::path(opt.out) / "results.json") << json::serialize(results) << "\n";
        progress("results: " + opt.out);
    }
    return 0;
}

#include <sluice/metering/spool.hpp>
#include <sluice/metering/event.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

using namespace sluice::metering;
using namespace metering_test;

namespace {

std::unique_ptr<spool> open_spool(const fs::path& dir, std::vector<std::string> readers = {"sink-a"},
                                  std::uint64_t segment_bytes = std::uint64_t(64) << 20) {
    spool_options opt;
    opt.dir = dir;
    opt.segment_bytes = segment_bytes;
    auto s = spool::open(opt, std::move(readers));
    if (!s) FAIL("spool::open: " << s.error().message);
    return std::move(*s);
}

std::vector<std::string> read_all(const spool& s, spool_position from, std::size_t batch = 1000) {
    std::vector<std::string> out;
    for (;;) {
        auto b = s.read(from, batch);
        REQUIRE(b);
        if (b->payloads.empty()) return out;
        out.insert(out.end(), b->payloads.begin(), b->payloads.end());
        from = b->next;
    }
}

std::string payload(int i) { return to_json(make_event("req-" + std::to_string(i), std::uint64_t(i))); }

void append_n(spool& s, int from, int to) {
    for (int i = from; i < to; ++i) REQUIRE(s.append(payload(i)));
    REQUIRE(s.sync());
}

std::vector<std::string> payloads(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) out.push_back(payload(i));
    return out;
}

void append_raw(const fs::path& file, const std::string& bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::app);
    out << bytes;
}

std::size_t files_ending(const fs::path& dir, std::string_view suffix) {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().ends_with(suffix)) ++n;
    return n;
}

const std::string first_segment = "00000000000000000000.seg";

} // namespace

TEST_CASE("usage_event is one compact JSON object with a stable field order", "[metering][event]") {
    usage_event e;
    e.request_id = "req-1";
    e.account = "acct \"A\"\n";
    e.key_id = "k1";
    e.model = "claude-sonnet";
    e.provider = "anthropic";
    e.endpoint = "messages";
    e.route = "router:fast";
    e.input_tokens = 10;
    e.output_tokens = 20;
    e.cached_tokens = 3;
    e.cache_write_tokens = 4;
    e.reasoning_tokens = 5;
    e.cost_usd = 0.0125;
    e.latency_ms = 250.5;
    e.ttft_ms = 30.25;
    e.status = 200;
    e.stream = true;
    e.ts_ms = 1760000000123;
    CHECK(to_json(e) ==
          R"({"request_id":"req-1","account":"acct \"A\"\n","key_id":"k1","model":"claude-sonnet",)"
          R"("provider":"anthropic","endpoint":"messages","route":"router:fast","input_tokens":10,)"
          R"("output_tokens":20,"cached_tokens":3,"cache_write_tokens":4,"reasoning_tokens":5,)"
          R"("cost_usd":0.0125,"latency_ms":250.5,"ttft_ms":30.25,"status":200,"stream":true,)"
          R"("ts_ms":1760000000123})");

    SECTION("and reads back to the same event") {
        auto back = from_json(to_json(e));
        REQUIRE(back);
        CHECK(*back == e);
    }
    SECTION("an event without a time to first token reads back without one") {
        e.ttft_ms.reset();
        e.stream = false;
        e.cost_usd = 1.0 / 3.0; // every bit of a double survives
        e.route.clear();
        e.account = "ünïcode ☃";
        const auto text = to_json(e);
        CHECK(text.find(R"("ttft_ms":null)") != std::string::npos);
        auto back = from_json(text);
        REQUIRE(back);
        CHECK(*back == e);
    }
}

TEST_CASE("usage_event prices its tokens at the catalog price", "[metering][event]") {
    usage_event e;
    set_usage(e, sluice::core::usage{1'000'000, 100'000, 500'000, 0, 40'000},
              sluice::core::price{3.0, 15.0, 0.30, {}});
    CHECK(e.input_tokens == 1'000'000);
    CHECK(e.output_tokens == 100'000);
    CHECK(e.cached_tokens == 500'000);
    CHECK(e.reasoning_tokens == 40'000);
    CHECK(e.cost_usd == Approx(3.0 + 1.5 + 0.15));
    set_usage(e, sluice::core::usage{10, 10, 0, 0, 0}, std::nullopt);
    CHECK(e.cost_usd == 0.0);
}

TEST_CASE("from_json refuses what is not a usage event and names the field", "[metering][event]") {
    CHECK_FALSE(from_json("not json"));
    CHECK_FALSE(from_json("[1,2]"));
    auto no_id = from_json(R"({"model":"m"})");
    REQUIRE_FALSE(no_id);
    CHECK(no_id.error().param == "request_id");
    auto negative = from_json(R"({"request_id":"r","input_tokens":-1})");
    REQUIRE_FALSE(negative);
    CHECK(negative.error().param == "input_tokens");
    auto wrong = from_json(R"({"request_id":"r","stream":"yes"})");
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().param == "stream");

    SECTION("unknown fields are ignored and missing ones keep their defaults") {
        auto e = from_json(R"({"request_id":"r","future_field":{"x":1},"status":429})");
        REQUIRE(e);
        CHECK(e->request_id == "r");
        CHECK(e->status == 429);
        CHECK(e->input_tokens == 0);
        CHECK_FALSE(e->ttft_ms);
    }
}

TEST_CASE("crc32c matches the published check values", "[metering][spool]") {
    CHECK(crc32c("123456789") == 0xE3069283u);
    CHECK(crc32c("") == 0u);
    CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAu); // RFC 3720 B.4
    CHECK(crc32c("56789", crc32c("1234")) == crc32c("123456789"));
}

TEST_CASE("spool records become readable once synced and survive a reopen", "[metering][spool]") {
    scratch_dir dir;
    {
        auto s = open_spool(dir.path());
        REQUIRE(s->append(payload(0)));
        REQUIRE(s->append(payload(1)));
        CHECK(s->appended() == 2);
        CHECK(s->durable() == 0);
        CHECK(read_all(*s, s->cursor(0)).empty()); // not acknowledged, not offered to sinks
        REQUIRE(s->sync());
        CHECK(s->durable() == 2);
        append_n(*s, 2, 50);
        CHECK(s->durable() == 50);
        CHECK(read_all(*s, s->cursor(0)) == payloads(0, 50));
        CHECK(s->backlog() == 50);
    }
    auto s = open_spool(dir.path());
    CHECK(s->recovered() == 50);
    CHECK(s->durable() == 0);
    CHECK(read_all(*s, s->cursor(0)) == payloads(0, 50));
    append_n(*s, 50, 60);
    CHECK(read_all(*s, s->cursor(0)) == payloads(0, 60));
    CHECK(s->backlog() == 60);
}

TEST_CASE("spool rolls segments at the configured size and reads across them in order", "[metering][spool]") {
    scratch_dir dir;
    auto s = open_spool(dir.path(), {"sink-a"}, 2048);
    append_n(*s, 0, 200);
    CHECK(s->segment_count() > 5);
    CHECK(files_ending(dir.path(), ".seg") == s->segment_count());
    CHECK(read_all(*s, s->cursor(0), 7) == payloads(0, 200));

    SECTION("segments are named by the sequence number of their first record") {
        auto b = s->read(s->cursor(0), 1000);
        REQUIRE(b);
        CHECK(b->next.seq == 200);
        CHECK(fs::exists(dir / detail::segment_name(b->next.segment)));
        CHECK(b->next.segment > 0);
        CHECK(b->next.segment < 200);
    }
    SECTION("a reopen goes on numbering after the last record") {
        s.reset();
        auto again = open_spool(dir.path(), {"sink-a"}, 2048);
        append_n(*again, 200, 230);
        auto all = read_all(*again, again->cursor(0), 13);
        CHECK(all == payloads(0, 230));
        auto b = again->read(again->cursor(0), 1000);
        REQUIRE(b);
        CHECK(b->next.seq == 230);
    }
}

TEST_CASE("a torn tail is cut off on reopen, earlier records kept, and appends go on", "[metering][spool]") {
    scratch_dir dir;
    std::uint64_t good_size = 0;
    {
        auto s = open_spool(dir.path());
        append_n(*s, 0, 20);
        good_size = fs::file_size(dir / first_segment);
    }
    const auto seg = dir / first_segment;
    const auto last_len = payload(19).size() + 8;
    int kept = 20;

    SECTION("half a record") {
        const std::string rec = payload(20);
        std::string bytes;
        detail::store_le32(bytes, std::uint32_t(rec.size()));
        detail::store_le32(bytes, crc32c(rec));
        bytes += rec.substr(0, rec.size() / 2);
        append_raw(seg, bytes);
    }
    SECTION("half a header") { append_raw(seg, std::string("\x40\x00\x00", 3)); }
    SECTION("a length no record has") {
        std::string bytes;
        detail::store_le32(bytes, 0xFFFFFFF0u);
        detail::store_le32(bytes, 0);
        append_raw(seg, bytes + "garbage");
    }
    SECTION("a zero-filled tail") { append_raw(seg, std::string(4096, '\0')); }
    SECTION("a flipped crc byte in the last record") {
        int fd = ::open(seg.c_str(), O_RDWR);
        REQUIRE(fd >= 0);
        const off_t at = off_t(good_size - last_len + 4);
        unsigned char b = 0;
        REQUIRE(::pread(fd, &b, 1, at) == 1);
        b ^= 0x5A;
        REQUIRE(::pwrite(fd, &b, 1, at) == 1);
        ::close(fd);
        kept = 19;
    }

    {
        auto s = open_spool(dir.path());
        CHECK(s->recovered() == std::uint64_t(kept));
        CHECK(read_all(*s, s->cursor(0)) == payloads(0, kept));
        CHECK(fs::file_size(seg) == (kept == 20 ? good_size : good_size - last_len));
        append_n(*s, 100, 105);
        auto want = payloads(0, kept);
        for (auto& p : payloads(100, 105)) want.push_back(p);
        CHECK(read_all(*s, s->cursor(0)) == want);
    }
    auto s = open_spool(dir.path());
    CHECK(s->recovered() == std::uint64_t(kept + 5));
    auto all = read_all(*s, s->cursor(0));
    REQUIRE(all.size() == std::size_t(kept + 5));
    CHECK(all.back() == payload(104));
}

TEST_CASE("cursors persist across a reopen and fully delivered segments are deleted", "[metering][spool]") {
    scratch_dir dir;
    spool_position b_at;
    std::size_t segments_before = 0;
    {
        auto s = open_spool(dir.path(), {"sink-a", "sink-b"}, 1024);
        append_n(*s, 0, 100);
        segments_before = s->segment_count();
        REQUIRE(segments_before > 4);
        CHECK(s->backlog() == 100);

        auto a = s->read(s->cursor(0), 1000);
        REQUIRE(a);
        CHECK(a->payloads.size() == 100);
        REQUIRE(s->commit(0, a->next));
        CHECK(s->backlog() == 100); // sink-b has had nothing
        CHECK(s->segment_count() == segments_before);

        auto b = s->read(s->cursor(1), 40);
        REQUIRE(b);
        REQUIRE(b->payloads == payloads(0, 40));
        REQUIRE(s->commit(1, b->next));
        b_at = b->next;
        CHECK(b_at.seq == 40);
        CHECK(s->backlog() == 60);
        CHECK(s->segment_count() < segments_before); // what both have passed is gone
        CHECK(files_ending(dir.path(), ".seg") == s->segment_count());
    }
    CHECK(files_ending(dir.path(), ".cursor") == 2);

    auto s = open_spool(dir.path(), {"sink-a", "sink-b", "sink-c"}, 1024);
    CHECK(s->cursor(1) == b_at);
    CHECK(read_all(*s, s->cursor(0)).empty());
    CHECK(read_all(*s, s->cursor(1)) == payloads(40, 100));
    CHECK(s->backlog() >= 60); // sink-c is new: it starts at the oldest record kept
    const auto c_sees = read_all(*s, s->cursor(2));
    CHECK(c_sees.size() >= 60);
    CHECK(c_sees.back() == payload(99));

    auto rest_b = s->read(s->cursor(1), 1000);
    REQUIRE(rest_b);
    REQUIRE(s->commit(1, rest_b->next));
    auto rest_c = s->read(s->cursor(2), 1000);
    REQUIRE(rest_c);
    REQUIRE(s->commit(2, rest_c->next));
    CHECK(s->backlog() == 0);
    CHECK(s->segment_count() == 1); // only the segment appends go to
    CHECK(files_ending(dir.path(), ".seg") == 1);

    append_n(*s, 100, 110);
    CHECK(s->backlog() == 10);
    CHECK(read_all(*s, s->cursor(1)) == payloads(100, 110));
}

TEST_CASE("a spool refuses two sinks with one name", "[metering][spool]") {
    scratch_dir dir;
    auto s = spool::open(spool_options{dir.path()}, {"same", "same"});
    REQUIRE_FALSE(s);
    CHECK(s.error().message.find("same") != std::string::npos);
}

// The llama.cpp peer of sluice-lm-bench: decode tokens/s at batch 1 on a GGUF file, greedy, through
// node-llama-cpp's prebuilt CPU binaries (bench/lm/package.json pins them; `npm ci --omit=optional
// --ignore-scripts` installs them, and nothing is downloaded or compiled here: build "never").
//
//   node llama-peer.mjs --model FILE --threads N --tokens N --prompt TEXT [--runs N] [--also-threads 1,..]
//
// Prints one JSON line: {"ok":true,"decode_tps":..,"runs":[..],"prompt_tokens":..,"version":..} or
// {"ok":false,"reason":"..."}; the exit status is 0 either way when the answer is a JSON line.
// Timing matches the sluice driver: the clock starts at the first generated token and stops at the
// last, so prefill is left out; decode tokens/s = (tokens - 1) / that time, the best of --runs
// after one warm-up run. End-of-generation
// tokens do not stop the loop: every run decodes exactly --tokens tokens, unless a thread count's
// runs pass --max-seconds (60): then the run in progress is the last, timed over what it decoded.

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { createRequire } from "node:module";

const args = Object.fromEntries(
    process.argv.slice(2).reduce((pairs, a, i, all) => {
        if (a.startsWith("--")) pairs.push([a.slice(2), all[i + 1]]);
        return pairs;
    }, []));
const model_path = args.model;
const threads = Number(args.threads ?? 1);
const tokens = Number(args.tokens ?? 64);
const runs = Number(args.runs ?? 3);
const prompt = args.prompt ?? "The quick brown fox";
// Per thread count: once a measurement has run this long, it ends with the tokens it has (a
// thread pool that spins on a busy machine can fall to a token a second).
const max_seconds = Number(args["max-seconds"] ?? 60);

const answer = (o) => { process.stdout.write(JSON.stringify(o) + "\n"); };
const fail = (reason) => { answer({ ok: false, reason: String(reason).split("\n")[0].slice(0, 300) }); process.exit(0); };

if (!model_path) fail("no --model");
// Whatever node-llama-cpp might try to fetch or build, it must not: the prebuilt binaries or nothing.
process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD = "true";

let mod;
try {
    mod = await import("node-llama-cpp");
} catch (e) {
    fail(`node-llama-cpp is not installed (npm ci in bench/lm): ${e.message}`);
}
let version = null;
try { // node-llama-cpp's exports map hides its package.json from require.resolve
    const main = createRequire(import.meta.url).resolve("node-llama-cpp");
    const root = main.slice(0, main.lastIndexOf("/node_modules/node-llama-cpp/") + "/node_modules/node-llama-cpp/".length);
    version = JSON.parse(readFileSync(root + "package.json", "utf8")).version;
} catch { /* the version is informative only */ }

try {
    const llama = await mod.getLlama({
        gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true,
        maxThreads: threads, logLevel: "error", progressLogs: false,
    });
    const model = await llama.loadModel({ modelPath: model_path, gpuLayers: 0, useMmap: true });
    const prompt_tokens = model.tokenize(prompt);
    // The best decode rate over `runs` runs with `n_threads` threads, after one warm-up run (page
    // faults of the weights, thread start-up).
    const measure = async (n_threads) => {
        const context = await model.createContext({
            contextSize: 512, batchSize: 512, sequences: 1, threads: { ideal: n_threads, min: n_threads },
        });
        const sequence = context.getSequence();
        const rates = [];
        const start = performance.now(), late = () => performance.now() - start > max_seconds * 1000;
        let cut = false;
        for (let r = 0; r <= runs && !cut; ++r) {
            await sequence.clearHistory();
            let n = 0, first = 0, last = 0;
            for await (const _ of sequence.evaluate(prompt_tokens, { temperature: 0 })) {
                last = performance.now();
                if (n === 0) first = last;
                if (++n >= tokens) break;
                if (late() && n > 2) { cut = true; break; }
            }
            if ((r > 0 || cut) && n > 1) rates.push((n - 1) / ((last - first) / 1000));
            if (late()) cut = true;
        }
        await context.dispose();
        if (cut) cut_short.push(n_threads);
        return rates;
    };
    const cut_short = []; // thread counts whose measurement hit --max-seconds
    const rates = await measure(threads);
    // Other thread counts, for context only (--also-threads 1: how the peer does without its
    // thread pool's barrier, which spins while a descheduled thread is awaited on a busy machine).
    const by_threads = {};
    for (const t of String(args["also-threads"] ?? "").split(",").filter(Boolean).map(Number)) {
        if (t > 0 && t !== threads) by_threads[t] = Math.max(0, ...(await measure(t)));
    }
    await model.dispose();
    await llama.dispose();
    if (!rates.length) fail("no tokens generated");
    answer({
        ok: true, version, threads, tokens, prompt_tokens: prompt_tokens.length,
        decode_tps: Math.max(...rates), runs: rates.map((x) => Math.round(x * 100) / 100), by_threads,
        cut_short_after_seconds: cut_short.length ? max_seconds : null, cut_short_threads: cut_short,
    });
} catch (e) {
    fail(e && e.message ? e.message : e);
}

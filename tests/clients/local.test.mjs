// The `local` backend through the real gateway binary: a model served by a kernel plugin in the
// gateway's own process, seen by the official SDKs exactly as an upstream's model is. The kernel
// is the test plugin tests/plugin/plugins/counting_kernel.cpp ("one two three ..."), whose options
// make its load wait on a file, its requests wait forever, or every request be refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { Gateway, runGateway, writeConfig } from '../integration/harness.mjs';

const COUNTER = process.env.SLUICE_TEST_COUNTER_PLUGIN;
const PLUGIN_DIR = process.env.SLUICE_BUILD_PLUGIN_DIR;
const SOURCE_DIR = process.env.SLUICE_SOURCE_DIR;
const haveCounter = !!COUNTER && existsSync(COUNTER);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let gw, openai, anthropic;
const started = [];

/// A config in a fresh folder with a stand-in weights file beside it (the counter reads none).
function localConfig(models) {
  const file = writeConfig(`
auth: { mode: none }
models:
${models}
`);
  writeFileSync(join(dirname(file), 'weights.bin'), 'not really weights');
  return file;
}

async function start(file, env = {}) {
  const g = await Gateway.start(['--config', file], env);
  started.push(g);
  return g;
}

async function waitReady(g) {
  for (let i = 0; i < 500; i++) {
    const r = await g.fetch('/readyz');
    if (r.status === 200) return r.json();
    await sleep(20);
  }
  throw new Error('the gateway never became ready');
}

async function metric(g, name, model) {
  const text = await (await g.fetch('/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{model="${model}"}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

before(async () => {
  if (!haveCounter) return;
  gw = await start(localConfig(`
  - id: counter-tiny
    kernel: { plugin: ${COUNTER}, path: weights.bin, options: { words: 5 } }
    price: { input: 1000, output: 2000, cached_input: 500 }
  - id: counter-held
    kernel: { plugin: ${COUNTER}, path: weights.bin, options: { hold: true } }
  - id: counter-busy
    kernel: { plugin: ${COUNTER}, path: weights.bin, options: { refuse: true } }
  - id: counter-broken
    kernel: { plugin: ${COUNTER}, path: weights.bin, options: { fail_load: "the weights are corrupt" } }
`));
  await waitReady(gw);
  openai = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'client-key', maxRetries: 0, timeout: 20000 });
  anthropic = new Anthropic({ baseURL: gw.base, apiKey: 'client-key', maxRetries: 0, timeout: 20000 });
});

after(async () => {
  for (const g of started) await g.stop();
});

const user = (text) => [{ role: 'user', content: text }];
const skip = haveCounter ? false : 'the counting kernel test plugin is not built (tests/plugin)';

test('chat completions from a kernel: whole and streamed alike, with usage and cached tokens', { skip }, async () => {
  const whole = await openai.chat.completions.create({ model: 'counter-tiny', messages: user('count') });
  assert.equal(whole.choices[0].message.content, 'one two three four five');
  assert.equal(whole.choices[0].finish_reason, 'stop');
  assert.equal(whole.model, 'counter-tiny');
  assert.equal(whole.usage.completion_tokens, 5);
  assert.equal(whole.usage.prompt_tokens, 6); // 4 fresh + 2 from the prefix cache
  assert.equal(whole.usage.prompt_tokens_details.cached_tokens, 2);

  const stream = await openai.chat.completions.create({
    model: 'counter-tiny', messages: user('count'), stream: true, stream_options: { include_usage: true } });
  let text = '', finish = null, usage = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.delta?.content ?? '';
      finish = c.finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, 'one two three four five');
  assert.equal(finish, 'stop');
  assert.equal(usage.completion_tokens, 5);
  assert.equal(usage.prompt_tokens_details.cached_tokens, 2);

  // The completion line prices cached tokens at the catalog's cached rate: (4*1000 + 2*500 + 5*2000) / 1e6.
  const line = await gw.waitForLog((l) => l.event === 'completion' && l.model === 'counter-tiny' && l.stream === false);
  assert.equal(line.provider, 'local');
  assert.equal(line.outcome, 'ok');
  assert.equal(line.cache_read_tokens, 2);
  assert.equal(line.cost_usd, 0.015);
});

test('responses from a kernel: whole and streamed', { skip }, async () => {
  const whole = await openai.responses.create({ model: 'counter-tiny', input: 'count' });
  assert.equal(whole.output_text, 'one two three four five');
  assert.equal(whole.status, 'completed');
  assert.equal(whole.usage.output_tokens, 5);
  assert.equal(whole.usage.input_tokens_details.cached_tokens, 2);

  const stream = await openai.responses.create({ model: 'counter-tiny', input: 'count', stream: true });
  let text = '', done = null;
  for await (const ev of stream) {
    if (ev.type === 'response.output_text.delta') text += ev.delta;
    if (ev.type === 'response.completed') done = ev.response;
  }
  assert.equal(text, 'one two three four five');
  assert.equal(done.usage.output_tokens, 5);
});

test('messages from a kernel: whole and streamed', { skip }, async () => {
  const whole = await anthropic.messages.create({ model: 'counter-tiny', max_tokens: 64, messages: user('count') });
  assert.equal(whole.content[0].text, 'one two three four five');
  assert.equal(whole.stop_reason, 'end_turn');
  assert.equal(whole.usage.output_tokens, 5);
  assert.equal(whole.usage.cache_read_input_tokens, 2);

  const stream = anthropic.messages.stream({ model: 'counter-tiny', max_tokens: 64, messages: user('count') });
  let text = '';
  stream.on('text', (t) => { text += t; });
  const final = await stream.finalMessage();
  assert.equal(text, 'one two three four five');
  assert.equal(final.usage.output_tokens, 5);
});

test('a client that hangs up cancels its request in the kernel', { skip }, async () => {
  for (const stream of [false, true]) {
    const abort = new AbortController();
    const id = `local-hangup-${stream}`;
    const pending = gw.fetch('/v1/chat/completions', {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id },
      body: JSON.stringify({ model: 'counter-held', stream, messages: user('wait') }),
      signal: abort.signal,
    }).catch((e) => e);
    // The held kernel queues the request and never runs it: its queue shows it.
    let depth;
    for (let i = 0; i < 500 && depth !== 1; i++) {
      depth = await metric(gw, 'sluice_kernel_queue_depth', 'counter-held');
      if (depth !== 1) await sleep(20);
    }
    assert.equal(depth, 1);
    abort.abort();
    await pending;
    const line = await gw.waitForLog((l) => l.event === 'completion' && l.request_id === id);
    assert.equal(line.outcome, 'cancelled');
    // cancel() took it out of the kernel's queue.
    for (let i = 0; i < 500 && depth !== 0; i++) {
      depth = await metric(gw, 'sluice_kernel_queue_depth', 'counter-held');
      if (depth !== 0) await sleep(20);
    }
    assert.equal(depth, 0);
  }
});

test('a kernel that refuses, or failed to load, answers 503 in the caller\'s shape', { skip }, async () => {
  await assert.rejects(openai.chat.completions.create({ model: 'counter-busy', messages: user('hi') }),
    (e) => e.status === 503 && /busy/.test(e.message));
  await assert.rejects(anthropic.messages.create({ model: 'counter-broken', max_tokens: 8, messages: user('hi') }),
    (e) => e.status >= 500 && /failed to load: the weights are corrupt/.test(e.message));
  const ready = await (await gw.fetch('/readyz')).json();
  assert.deepEqual(ready.unavailable, ['counter-broken']);
  await gw.waitForLog((l) => l.event === 'kernel_load_failed' && l.model === 'counter-broken');
});

test('kernel load figures are in /metrics and the load is logged', { skip }, async () => {
  assert.equal(await metric(gw, 'sluice_kernel_kv_blocks_used', 'counter-tiny'), 3);
  assert.equal(await metric(gw, 'sluice_kernel_kv_blocks_total', 'counter-tiny'), 64);
  assert.equal(await metric(gw, 'sluice_kernel_prefix_cache_hit_rate', 'counter-tiny'), 0.25);
  assert.equal(await metric(gw, 'sluice_kernel_running', 'counter-tiny'), 0);
  const loaded = await gw.waitForLog((l) => l.event === 'kernel_loaded' && l.model === 'counter-tiny');
  assert.equal(loaded.backend, 'cpu');
  assert.equal(loaded.file, COUNTER);
  assert.equal(typeof loaded.seconds, 'number');
  // The catalog takes the context window the kernel describes once loaded.
  const models = await openai.models.list();
  assert.ok(models.data.some((m) => m.id === 'counter-tiny'));
});

test('/readyz says starting until every kernel has loaded', { skip }, async () => {
  // The kernel's load waits until the test creates this file.
  const gate = join(mkdtempSync(join(tmpdir(), 'sluice-gate-')), 'open');
  const g = await start(localConfig(`
  - id: counter-slow
    kernel: { plugin: ${COUNTER}, path: weights.bin, options: { load_gate: "${gate}" } }
`));
  const before = await g.fetch('/readyz');
  assert.equal(before.status, 503);
  assert.deepEqual(await before.json(), { status: 'starting' });
  const early = await g.fetch('/v1/chat/completions', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'counter-slow', messages: user('hi') }),
  });
  assert.equal(early.status, 503);
  const body = await early.json();
  assert.equal(body.error.code, 'model_loading');
  writeFileSync(gate, '');
  const ready = await waitReady(g);
  assert.equal(ready.status, 'ready');
  const after = await g.fetch('/v1/chat/completions', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'counter-slow', messages: user('hi') }),
  });
  assert.equal(after.status, 200);
  assert.equal((await after.json()).choices[0].message.content, 'one two three');
  await g.stop();
});

test('config errors: a missing model file names every place tried; provider and kernel together', { skip }, async () => {
  const file = writeConfig(`
auth: { mode: none }
models:
  - id: nowhere
    kernel: { plugin: ${COUNTER}, path: missing.gguf }
`);
  const missing = runGateway(['--check', '--config', file]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /model 'nowhere'/);
  assert.match(missing.stderr, /model file not found: .*missing\.gguf/);
  assert.ok(missing.stderr.includes(join(dirname(file), 'missing.gguf')), missing.stderr);

  // The embedded default has no folder: relative paths are looked for in the model search path.
  const both = runGateway(['--check', '--config', writeConfig(`
auth: { mode: none }
providers:
  - { name: oai, plugin: openai, base_url: http://127.0.0.1:9/v1 }
models:
  - id: twice
    provider: oai
    kernel: { plugin: ${COUNTER} }
`)]);
  assert.equal(both.status, 1);
  assert.match(both.stderr, /:8:.*a model is served by a provider or by a kernel, not both/);

  const noPlugin = runGateway(['--check', '--config', writeConfig(`
auth: { mode: none }
models:
  - id: ghost
    kernel: { plugin: no_such_kernel }
`)]);
  assert.equal(noPlugin.status, 1);
  assert.match(noPlugin.stderr, /model 'ghost': kernel: plugin no_such_kernel not found; searched: /);

  // --check loads nothing heavy: a kernel whose load would wait forever still checks at once.
  const ok = runGateway(['--check', '--config', localConfig(`
  - id: never-loaded
    kernel: { plugin: ${COUNTER}, path: weights.bin, options: { load_gate: /nonexistent/gate } }
`)]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /ok \(0 providers, 1 models\)/);
});

test('the embedded default finds its model in SLUICE_MODEL_PATH and serves it with the lm plugin', { skip }, async () => {
  // The counting kernel stands in for every kernel plugin the default names (lm, and the
  // weightless embed and tts, which it fails to load: they answer 503, sluice-tiny serves),
  // found first through SLUICE_PLUGIN_PATH.
  const plugins = mkdtempSync(join(tmpdir(), 'sluice-plugins-'));
  for (const name of ['lm', 'embed', 'tts']) symlinkSync(COUNTER, join(plugins, `sluice_${name}.so`));
  const models = mkdtempSync(join(tmpdir(), 'sluice-models-'));
  const env = { SLUICE_PLUGIN_PATH: plugins, SLUICE_MODEL_PATH: models };
  const before = runGateway(['--check'], env);
  if (before.status !== 0) {
    // Not in the source tree's models/ either: every place is named, SLUICE_MODEL_PATH's first.
    assert.match(before.stderr, /model 'sluice-tiny': kernel: model file not found: models\/sluice-tiny\.gguf/);
    assert.ok(before.stderr.includes(join(models, 'models', 'sluice-tiny.gguf')), before.stderr);
    assert.ok(before.stderr.indexOf(models) < before.stderr.indexOf(join('share', 'sluice', 'models')), before.stderr);
  }
  writeFileSync(join(models, 'sluice-tiny.gguf'), 'stand-in weights');
  const after = runGateway(['--check'], env);
  assert.equal(after.status, 0, after.stderr);

  const g = await Gateway.start([], env);
  started.push(g);
  await waitReady(g);
  const loaded = await g.waitForLog((l) => l.event === 'kernel_loaded' && l.model === 'sluice-tiny');
  assert.equal(loaded.weights, join(models, 'sluice-tiny.gguf'));
  const client = new OpenAI({ baseURL: `${g.base}/v1`, apiKey: 'none', maxRetries: 0, timeout: 20000 });
  const whole = await client.chat.completions.create({ model: 'sluice-tiny', messages: user('hi') });
  assert.equal(whole.choices[0].message.content, 'one two three');
  await g.stop();
});

const lmPlugin = PLUGIN_DIR && join(PLUGIN_DIR, 'sluice_lm.so');
const tinyModel = SOURCE_DIR && join(SOURCE_DIR, 'models', 'sluice-tiny.gguf');
const haveLm = !!lmPlugin && existsSync(lmPlugin) && !!tinyModel && existsSync(tinyModel);

test('the embedded default config answers chat from the local model', {
  skip: haveLm ? false : 'the lm kernel plugin (sluice_lm.so) or models/sluice-tiny.gguf is not built yet',
}, async () => {
  const g = await Gateway.start([]);
  started.push(g);
  await waitReady(g);
  const client = new OpenAI({ baseURL: `${g.base}/v1`, apiKey: 'none', maxRetries: 0, timeout: 120000 });
  const whole = await client.chat.completions.create({ model: 'sluice-tiny', messages: user('Hello'), max_tokens: 8, temperature: 0 });
  assert.equal(typeof whole.choices[0].message.content, 'string');
  assert.ok(whole.usage.completion_tokens > 0);
  const stream = await client.chat.completions.create({ model: 'sluice-tiny', messages: user('Hello'), max_tokens: 8, temperature: 0, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(text, whole.choices[0].message.content, 'greedy decoding: streamed and whole agree');
  await g.stop();
});

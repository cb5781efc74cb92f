// Upstream failures as a client sees them through the real gateway: each is a clear error in
// the client's API shape with the right status, and a client that leaves cancels the upstream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, writeConfig } from '../integration/harness.mjs';

let mock, gw;

before(async () => {
  mock = await Gateway.start(['--verbose'], {}, process.env.SLUICE_MOCK_UPSTREAM);
  gw = await Gateway.start(['--config', writeConfig(`
auth: { mode: none }
providers:
  - name: oai
    plugin: openai
    base_url: http://127.0.0.1:${mock.port}/v1
  - name: ant
    plugin: anthropic
    base_url: http://127.0.0.1:${mock.port}
  - name: impatient
    plugin: openai
    base_url: http://127.0.0.1:${mock.port}/v1
    timeouts: { connect: 1s, first_byte: 300ms, total: 2s }
  - name: nowhere
    plugin: openai
    base_url: http://127.0.0.1:1/v1
models:
  - { id: gpt-mock, provider: oai }
  - { id: claude-mock, provider: ant }
  - { id: gpt-impatient, provider: impatient }
  - { id: gpt-nowhere, provider: nowhere }
  - { id: gpt-plain, provider: oai, supports: { tools: false, vision: false, reasoning: false } }
`)]);
});

after(async () => {
  await gw?.stop();
  await mock?.stop();
});

const chat = (model, text, extra = {}) => gw.fetch('/v1/chat/completions', {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model, messages: [{ role: 'user', content: text }], ...extra }),
});
const messages = (model, text, extra = {}) => gw.fetch('/v1/messages', {
  method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
  body: JSON.stringify({ model, max_tokens: 64, messages: [{ role: 'user', content: text }], ...extra }),
});

test('an upstream that cannot be reached is a 502 that names it', async () => {
  const res = await chat('gpt-nowhere', 'hi');
  assert.equal(res.status, 502);
  const body = await res.json();
  assert.equal(body.error.code, 'upstream_unreachable');
  assert.match(body.error.message, /nowhere/);
});

test('an upstream slower than its first-byte timeout is a 504', async () => {
  const started = Date.now();
  const res = await chat('gpt-impatient', 'mock: delay_ms=3000');
  assert.equal(res.status, 504);
  assert.equal((await res.json()).error.code, 'upstream_timeout');
  assert.ok(Date.now() - started < 2500, 'the timeout cut the wait short');
});

test('upstream 5xx and overload keep their meaning in each API', async () => {
  const e500 = await chat('gpt-mock', 'mock: error=500');
  assert.equal(e500.status, 502);
  assert.equal((await e500.json()).error.type, 'server_error');
  const overloaded = await messages('claude-mock', 'mock: error=529');
  assert.equal(overloaded.status, 529);
  assert.equal((await overloaded.json()).error.type, 'overloaded_error');
  const busy = await chat('claude-mock', 'mock: error=529');
  assert.equal(busy.status, 503);
});

test('an upstream that rejects the gateway\'s key is not the caller\'s 401', async () => {
  const res = await chat('gpt-mock', 'mock: error=401');
  assert.equal(res.status, 502);
  assert.equal((await res.json()).error.code, 'upstream_credentials_rejected');
});

test('a stream cut before its first event is a plain error; after it, an error event', async () => {
  const early = await chat('gpt-mock', 'mock: cut=0', { stream: true });
  assert.ok(early.status >= 500, `status ${early.status}`);
  const late = await messages('claude-mock', 'mock: cut=3', { stream: true });
  assert.equal(late.status, 200);
  const text = await late.text();
  assert.match(text, /event: error\ndata: \{"type":"error"/);
  assert.doesNotMatch(text, /event: message_stop/);
});

test('a client that hangs up mid-stream cancels the upstream request', async () => {
  const abort = new AbortController();
  const res = await gw.fetch('/v1/chat/completions', {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'hangup-test-1' },
    body: JSON.stringify({ model: 'gpt-mock', stream: true, messages: [{ role: 'user', content: 'mock: chunks=200 gap_ms=50' }] }),
    signal: abort.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  await reader.read();
  abort.abort();
  const done = await gw.waitForLog((l) => l.event === 'completion' && l.request_id === 'hangup-test-1', 5000);
  assert.equal(done.outcome, 'cancelled');
  // The mock saw its own client, the gateway, go away long before the 10 s the stream would take.
  await mock.waitForLog((l) => l.event === 'client_gone', 5000);
});

test('a request using what the catalog says a model lacks is a 400 naming the param', async () => {
  const tools = await chat('gpt-plain', 'hi', { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] });
  assert.equal(tools.status, 400);
  const body = await tools.json();
  assert.equal(body.error.param, 'tools');
  assert.match(body.error.message, /does not support tools/);
  const image = await gw.fetch('/v1/messages', {
    method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'gpt-plain', max_tokens: 64, messages: [{ role: 'user', content: [
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'text', text: 'what is this?' }] }] }),
  });
  assert.equal(image.status, 400);
  assert.match((await image.json()).error.message, /does not support image inputs/);
  const effort = await chat('gpt-plain', 'hi', { reasoning_effort: 'high' });
  assert.equal(effort.status, 400);
  assert.equal((await effort.json()).error.param, 'reasoning_effort');
});

test('a malformed or mislabelled inline image is a 400 that says what is wrong, in each API', async () => {
  const withImage = (url) => gw.fetch('/v1/chat/completions', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-mock', messages: [{ role: 'user', content: [
      { type: 'image_url', image_url: { url } }, { type: 'text', text: 'what is this?' }] }] }),
  });
  const bmp = await withImage('data:image/png;base64,Qk02AAAAAAAAADYAAAAoAAAA');
  assert.equal(bmp.status, 400);
  const b1 = await bmp.json();
  assert.equal(b1.error.code, 'invalid_image');
  assert.match(b1.error.message, /not a PNG, JPEG, WEBP or GIF image/);
  const garbage = await withImage('data:image/png;base64,@@@@');
  assert.equal(garbage.status, 400);
  assert.match((await garbage.json()).error.message, /not valid base64/);
  const mislabelled = await gw.fetch('/v1/messages', {
    method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'claude-mock', max_tokens: 64, messages: [{ role: 'user', content: [
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'iVBORw0KGgo=' } },
      { type: 'text', text: 'what is this?' }] }] }),
  });
  assert.equal(mislabelled.status, 400);
  const body = await mislabelled.json();
  assert.equal(body.type, 'error');
  assert.equal(body.error.type, 'invalid_request_error');
  assert.match(body.error.message, /image\/png, but its media type says image\/jpeg/);
});

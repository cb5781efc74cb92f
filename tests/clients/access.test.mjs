// Keys, limits, spend and metering through the real gateway binary, seen by the official SDKs:
// a real redis-server shared by two gateway processes, Redis killed and restarted mid-run, and a
// gateway killed with SIGKILL mid-load. Counts, not timings: these machines are shared and noisy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { Gateway, writeConfig } from '../integration/harness.mjs';

const MOCK = process.env.SLUICE_MOCK_UPSTREAM;
const REDIS = process.env.SLUICE_REDIS_SERVER || '/usr/bin/redis-server';
const ADMIN = 'admin-token-for-tests-0123456789';
const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let mock;
const gateways = [];
const redises = [];

async function freePort() {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

/// A real redis-server on `port`, without persistence; resolves once it answers PING.
async function startRedis(port) {
  const proc = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const r = { proc, port, exited: once(proc, 'exit') };
  redises.push(r);
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if ((await redisCommand(port, ['PING']).catch(() => null)) === 'PONG') return r;
    await sleep(50);
  }
  throw new Error('redis-server did not start');
}

async function stopRedis(r) {
  if (r.proc.exitCode === null && r.proc.signalCode === null) {
    r.proc.kill('SIGKILL');
    await r.exited;
  }
}

/// One command over RESP, for the test's own reads (XLEN, XRANGE): no client library needed.
function redisCommand(port, args) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const parsed = parseResp(buf, 0);
      if (parsed) { sock.end(); resolve(parsed.value); }
    });
    sock.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''));
  });
}

function parseResp(buf, at) {
  const nl = buf.indexOf('\r\n', at);
  if (nl < 0) return null;
  const type = String.fromCharCode(buf[at]);
  const line = buf.toString('utf8', at + 1, nl);
  if (type === '+') return { value: line, end: nl + 2 };
  if (type === '-') return { value: new Error(line), end: nl + 2 };
  if (type === ':') return { value: Number(line), end: nl + 2 };
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, end: nl + 2 };
    if (buf.length < nl + 2 + n + 2) return null;
    return { value: buf.toString('utf8', nl + 2, nl + 2 + n), end: nl + 2 + n + 2 };
  }
  if (type === '*') {
    const n = Number(line);
    if (n < 0) return { value: null, end: nl + 2 };
    const out = [];
    let pos = nl + 2;
    for (let i = 0; i < n; i++) {
      const item = parseResp(buf, pos);
      if (!item) return null;
      out.push(item.value);
      pos = item.end;
    }
    return { value: out, end: pos };
  }
  throw new Error(`unexpected RESP type ${type}`);
}

async function startGateway(config, args = []) {
  const g = await Gateway.start(['--config', writeConfig(config), ...args]);
  gateways.push(g);
  return g;
}

const providers = () => `
providers:
  - name: oai
    plugin: openai
    base_url: http://127.0.0.1:${mock.port}/v1
models:
  - { id: gpt-mock, provider: oai, price: { input: 1, output: 2 } }
  - { id: llama-mock, provider: oai, open_weight: true }
  - { id: gpt-other, provider: oai }
`;

const header = (e, name) => (typeof e.headers?.get === 'function' ? e.headers.get(name) : e.headers?.[name]);

async function chat(g, key, model = 'gpt-mock', extra = {}, headers = {}) {
  const res = await g.fetch('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 16, ...extra }),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

async function admin(g, method, path, body) {
  const res = await g.fetch(path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

before(async () => {
  assert.ok(MOCK, 'SLUICE_MOCK_UPSTREAM names the mock upstream binary');
  mock = await Gateway.start([], {}, MOCK);
});

after(async () => {
  for (const g of gateways) await g.stop('SIGKILL', 1000).catch(() => {});
  for (const r of redises) await stopRedis(r);
  await mock?.stop();
});

test('keys: the SDKs see 401 for a missing, unknown or revoked key and 403 for scope, tier and address', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-keys-'));
  const expired = 'sk-sluice-expired-secret-for-tests';
  const g = await startGateway(`${providers()}
accounts:
  - { id: acme, tier: 3 }
  - { id: small, tier: 1 }
auth:
  store: ${dir}/keys.db
  admin_token: ${ADMIN}
  trusted_proxies: [127.0.0.1/32]
  keys:
    - { id: k-old, secret_sha256: ${sha256(expired)}, account: acme, expires: 2020-01-01 }
`);
  // The admin API makes keys; the secret is in the answer once and never again.
  const made = await admin(g, 'POST', '/admin/v1/keys', { account: 'acme', models: ['gpt-*'] });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const secret = made.body.secret;
  assert.match(secret, /^sk-sluice-[A-Za-z0-9_-]{43}$/);
  const listed = await admin(g, 'GET', '/admin/v1/keys');
  assert.equal(listed.status, 200);
  assert.ok(!JSON.stringify(listed.body).includes(secret), 'the list never shows a secret');
  assert.ok(!JSON.stringify(listed.body).includes(sha256(secret)), 'nor its hash');
  assert.equal((await g.fetch('/admin/v1/keys')).status, 401, 'the admin API needs the admin token');
  // The key store holds the hash, never the secret.
  const db = readFileSync(`${dir}/keys.db`);
  assert.ok(!db.includes(Buffer.from(secret)), 'the secret is not in the SQLite file');

  const openai = (key) => new OpenAI({ baseURL: `${g.base}/v1`, apiKey: key, maxRetries: 0, timeout: 20000 });
  const ok = await openai(secret).chat.completions.create({ model: 'gpt-mock', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(ok.object, 'chat.completion');

  const bad = openai('sk-sluice-not-a-key').chat.completions.create({ model: 'gpt-mock', messages: [{ role: 'user', content: 'hi' }] });
  await assert.rejects(bad, (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'invalid_api_key' &&
    !e.message.includes('sk-sluice-not-a-key'));
  const missing = await chat(g, null);
  assert.equal(missing.status, 401);
  assert.equal(missing.body.error.code, 'missing_api_key');
  assert.equal(missing.body.error.type, 'authentication_error');
  const old = await chat(g, expired);
  assert.equal(old.status, 401);
  assert.equal(old.body.error.code, 'expired_api_key');

  // Out of the key's scopes: 403 from the SDK.
  await assert.rejects(openai(secret).chat.completions.create({ model: 'llama-mock', messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof OpenAI.PermissionDeniedError && e.status === 403 && e.code === 'model_not_allowed');

  // Anthropic clients send x-api-key and get Anthropic's shape.
  const anthropic = (key) => new Anthropic({ baseURL: g.base, apiKey: key, maxRetries: 0, timeout: 20000 });
  const msg = await anthropic(secret).messages.create({ model: 'gpt-mock', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(msg.type, 'message');
  await assert.rejects(anthropic('nope').messages.create({ model: 'gpt-mock', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof Anthropic.AuthenticationError && e.status === 401 && e.error?.type === 'error' &&
      e.error?.error?.type === 'authentication_error');

  // Tier 1 accounts use open-weight models only.
  const smallKey = (await admin(g, 'POST', '/admin/v1/keys', { account: 'small' })).body.secret;
  assert.equal((await chat(g, smallKey, 'llama-mock')).status, 200);
  const tier = await chat(g, smallKey, 'gpt-mock');
  assert.equal(tier.status, 403);
  assert.equal(tier.body.error.code, 'tier_not_allowed');

  // A key bound to 10.0.0.0/8: refused from 127.0.0.1, allowed when the trusted proxy says 10.1.2.3.
  const vpc = await admin(g, 'POST', '/admin/v1/keys', { account: 'acme', cidrs: ['10.0.0.0/8'] });
  assert.equal(vpc.status, 201, JSON.stringify(vpc.body));
  const outside = await chat(g, vpc.body.secret);
  assert.equal(outside.status, 403);
  assert.equal(outside.body.error.code, 'address_not_allowed');
  assert.equal((await chat(g, vpc.body.secret, 'gpt-mock', {}, { 'x-forwarded-for': '10.1.2.3' })).status, 200);

  // Revoked: 401 at once.
  const revoked = await admin(g, 'POST', `/admin/v1/keys/${made.body.id}/revoke`);
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  const after = await chat(g, secret);
  assert.equal(after.status, 401);
  assert.equal(after.body.error.code, 'revoked_api_key');
  // Never logged: no log line carries a secret.
  assert.ok(!g.stderr.includes(secret) && !g.stderr.includes(smallKey), 'no secret in the logs');
});

test('limits: 429 with retry-after and x-ratelimit headers, as the SDKs see it; spend caps refuse with insufficient_quota', async () => {
  const key = 'sk-sluice-limits-key-for-tests-000';
  const poor = 'sk-sluice-spend-key-for-tests-0000';
  const g = await startGateway(`${providers()}
accounts:
  - { id: acme, tier: 3, limits: { rpm: 3 } }
  - { id: poor, tier: 3, spend_cap_usd: { daily: 0.000001 } }
auth:
  store: none
  keys:
    - { id: k1, secret_sha256: ${sha256(key)}, account: acme }
    - { id: k2, secret_sha256: ${sha256(poor)}, account: poor }
`);
  const first = await chat(g, key);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('x-ratelimit-limit-requests'), '3');
  assert.equal(first.headers.get('x-ratelimit-remaining-requests'), '2');
  assert.match(first.headers.get('x-ratelimit-reset-requests'), /^[0-9.]+s$/);
  await chat(g, key);
  await chat(g, key);
  const client = new OpenAI({ baseURL: `${g.base}/v1`, apiKey: key, maxRetries: 0, timeout: 20000 });
  await assert.rejects(client.chat.completions.create({ model: 'gpt-mock', messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof OpenAI.RateLimitError && e.status === 429 && e.code === 'rate_limit_exceeded' &&
      Number(header(e, 'retry-after')) >= 1 && header(e, 'x-ratelimit-remaining-requests') === '0');
  const anthropic = new Anthropic({ baseURL: g.base, apiKey: key, maxRetries: 0, timeout: 20000 });
  await assert.rejects(anthropic.messages.create({ model: 'gpt-mock', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof Anthropic.RateLimitError && e.status === 429 && e.error?.error?.type === 'rate_limit_error' &&
      Number(header(e, 'retry-after')) >= 1);

  // The first request spends more than the cap; once settled, the next is refused until tomorrow.
  assert.equal((await chat(g, poor)).status, 200);
  let refused;
  for (let i = 0; i < 100 && !refused; i++) {
    const r = await chat(g, poor);
    if (r.status === 429) refused = r;
    else await sleep(50);
  }
  assert.ok(refused, 'the spend cap refuses once the first request is settled');
  assert.equal(refused.body.error.code, 'insufficient_quota');
  assert.ok(Number(refused.headers.get('retry-after')) > 0);
});

test('two gateways sharing one Redis admit the configured requests and tokens per minute in total, not each', async () => {
  const redis = await startRedis(await freePort());
  const key = 'sk-sluice-shared-key-for-tests-000';
  const tokensKey = 'sk-sluice-tokens-key-for-tests-000';
  const config = `${providers()}
accounts:
  - { id: acme, tier: 3, limits: { rpm: 10 } }
  - { id: tok, tier: 3, limits: { tpm: 3000 } }
auth:
  store: none
  keys:
    - { id: k1, secret_sha256: ${sha256(key)}, account: acme }
    - { id: k2, secret_sha256: ${sha256(tokensKey)}, account: tok }
limits: { store: "redis://127.0.0.1:${redis.port}", on_store_down: closed }
`;
  const a = await startGateway(config);
  const b = await startGateway(config);
  // 40 requests, 20 through each: with a limit per replica 20 would pass.
  const started = Date.now();
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => chat(i % 2 ? a : b, key)));
  const elapsed = (Date.now() - started) / 1000;
  const admitted = results.filter((r) => r.status === 200).length;
  const refused = results.filter((r) => r.status === 429).length;
  assert.equal(admitted + refused, 40, JSON.stringify(results.filter((r) => r.status !== 200 && r.status !== 429)));
  // 10 at once; one more each 6 s the burst took (the limit refills as a minute goes by).
  assert.ok(admitted >= 10 && admitted <= 10 + Math.floor(elapsed / 6), `admitted ${admitted} in ${elapsed} s`);

  // Tokens: each request reserves ~1000 (max_tokens) and is held 2 s by the mock, so two fit in
  // 3000 tokens per minute across both replicas, not two each.
  const slow = { max_tokens: 1000, messages: [{ role: 'user', content: 'mock: delay_ms=2000' }] };
  const tok = await Promise.all(Array.from({ length: 8 }, (_, i) => chat(i % 2 ? a : b, tokensKey, 'gpt-mock', slow)));
  const tokAdmitted = tok.filter((r) => r.status === 200).length;
  assert.equal(tokAdmitted, 2, JSON.stringify(tok.map((r) => r.status)));
  const tokRefused = tok.find((r) => r.status === 429);
  assert.equal(tokRefused.headers.get('x-ratelimit-limit-tokens'), '3000');

  // Redis down with on_store_down: closed: a clear 503, quickly.
  await stopRedis(redis);
  const down = await chat(a, key);
  assert.equal(down.status, 503);
  assert.equal(down.body.error.code, 'limit_store_unavailable');
  const metrics = await (await a.fetch('/metrics')).text();
  assert.match(metrics, /^sluice_limit_store_errors_total [1-9]/m);
});

test('Redis killed mid-run and restarted: no usage event is lost, and limits fall back to local ones', async () => {
  const port = await freePort();
  let redis = await startRedis(port);
  const key = 'sk-sluice-meter-key-for-tests-0000';
  const dir = mkdtempSync(join(tmpdir(), 'sluice-meter-'));
  const g = await startGateway(`${providers()}
accounts:
  - { id: acme, tier: 3, limits: { rpm: 100000 } }
auth:
  store: none
  keys:
    - { id: k1, secret_sha256: ${sha256(key)}, account: acme }
limits: { store: "redis://127.0.0.1:${port}", on_store_down: local }
metering: { spool: ${dir}/spool, sinks: ["redis://127.0.0.1:${port}/usage", "file://${dir}/usage.jsonl"], fsync_interval: 5ms }
`);
  const ids = new Set();
  const run = async (n) => {
    for (let i = 0; i < n; i++) {
      const r = await chat(g, key);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      ids.add(r.headers.get('x-request-id'));
    }
  };
  await run(20);
  await stopRedis(redis);
  await run(20); // Redis is down: limits are local, events wait in the spool
  redis = await startRedis(port);
  await run(10);
  // The 30 requests answered while Redis was down or after reach the new Redis, each once.
  const downAndAfter = [...ids].slice(20);
  let deadline = Date.now() + 60000;
  let seen = [];
  while (Date.now() < deadline) {
    const entries = await redisCommand(port, ['XRANGE', 'usage', '-', '+']);
    seen = entries.map(([, fields]) => fields[fields.indexOf('request_id') + 1]);
    if (downAndAfter.every((id) => seen.includes(id))) break;
    await sleep(200);
  }
  for (const id of downAndAfter) assert.ok(seen.includes(id), `request ${id}, answered while Redis was down or after, reached the stream`);
  // Requests before the kill may have gone to the first Redis, which lost them with its memory
  // (no persistence); none is in the stream twice, and none is unknown.
  for (const id of seen) assert.ok(ids.has(id), `an event for an unknown request ${id}`);
  assert.equal(new Set(seen).size, seen.length, 'no event twice in the stream');
  // The file sink saw every event, whatever Redis did.
  deadline = Date.now() + 60000;
  let lines = [];
  while (Date.now() < deadline) {
    lines = existsSync(`${dir}/usage.jsonl`) ? readFileSync(`${dir}/usage.jsonl`, 'utf8').trim().split('\n').filter(Boolean) : [];
    if (new Set(lines.map((l) => JSON.parse(l).request_id)).size >= ids.size) break;
    await sleep(200);
  }
  const fileIds = new Set(lines.map((l) => JSON.parse(l).request_id));
  for (const id of ids) assert.ok(fileIds.has(id), `request ${id} has a usage event`);
  const event = JSON.parse(lines[0]);
  assert.equal(event.account, 'acme');
  assert.equal(event.key_id, 'k1');
  assert.equal(event.model, 'gpt-mock');
  assert.equal(event.endpoint, 'chat.completions');
  assert.ok(event.input_tokens > 0 && event.output_tokens > 0 && event.cost_usd > 0);
});

test('a gateway killed with SIGKILL mid-load loses no event that its spool acknowledged', async () => {
  const key = 'sk-sluice-kill-key-for-tests-00000';
  const dir = mkdtempSync(join(tmpdir(), 'sluice-kill-'));
  const config = `${providers()}
accounts: [{ id: acme, tier: 3 }]
auth:
  store: none
  keys: [{ id: k1, secret_sha256: ${sha256(key)}, account: acme }]
metering: { spool: ${dir}/spool, sinks: ["file://${dir}/usage.jsonl"], fsync_interval: 5ms }
`;
  const g = await startGateway(config);
  const answered = new Set();
  let stop = false;
  const workers = Array.from({ length: 4 }, async () => {
    while (!stop) {
      const r = await chat(g, key).catch(() => null);
      if (r?.status === 200) answered.add(r.headers.get('x-request-id'));
    }
  });
  while (answered.size < 100) await sleep(20);
  const durableMetric = async () => {
    const text = await (await g.fetch('/metrics')).text();
    const m = text.match(/^sluice_metering_events_durable_total ([0-9.e+]+)$/m);
    assert.ok(m, 'the durable event count is a metric');
    return Number(m[1]);
  };
  const acknowledged = await durableMetric();
  assert.ok(acknowledged > 0);
  g.proc.kill('SIGKILL');
  stop = true;
  await Promise.all(workers);
  await g.exited;

  // A new gateway on the same spool delivers what the dead one had acknowledged.
  await startGateway(config);
  const deadline = Date.now() + 60000;
  let ids = new Set();
  while (Date.now() < deadline) {
    const text = existsSync(`${dir}/usage.jsonl`) ? readFileSync(`${dir}/usage.jsonl`, 'utf8') : '';
    ids = new Set(text.split('\n').filter(Boolean).map((l) => JSON.parse(l).request_id));
    if (ids.size >= acknowledged) break;
    await sleep(200);
  }
  assert.ok(ids.size >= acknowledged, `${ids.size} events delivered, ${acknowledged} acknowledged`);
});

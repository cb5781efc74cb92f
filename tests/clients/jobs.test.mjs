// Async jobs through the real gateway binaries: video generations and /v1/async-invoke against
// the mock's videos API. Two gateways share a real redis-server: a job submitted to one is polled
// and downloaded through the other, then expires on both; another account never sees it. A
// gateway on the default file store is restarted and still knows its jobs.
// Counts and states, not timings: each wait polls until the state it waits for, with a generous bound.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Gateway, runGateway, writeConfig } from '../integration/harness.mjs';

const MOCK = process.env.SLUICE_MOCK_UPSTREAM;
const REDIS = process.env.SLUICE_REDIS_SERVER || '/usr/bin/redis-server';
const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const KEY_A = 'sk-sluice-jobs-owner-secret-0001';
const KEY_B = 'sk-sluice-jobs-other-secret-0002';
// What the mock's GET /v1/videos/{id}/content answers (bench/mock-upstream/videos.hpp).
const VIDEO = Buffer.concat([
  Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypmp42'), Buffer.from([0, 0, 0, 0]), Buffer.from('mp42isom'),
  Buffer.from('sluice-mock-video'),
]);

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

function ping(port) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    sock.on('error', reject);
    sock.on('data', (d) => { sock.end(); resolve(d.toString()); });
    sock.write('PING\r\n');
  });
}

async function startRedis() {
  const port = await freePort();
  const proc = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'ignore', 'ignore'] });
  const r = { proc, port, exited: once(proc, 'exit') };
  redises.push(r);
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if ((await ping(port).catch(() => '')).startsWith('+PONG')) return r;
    await sleep(50);
  }
  throw new Error('redis-server did not start');
}

async function startGateway(file) {
  const g = await Gateway.start(['--config', file]);
  gateways.push(g);
  return g;
}

const models = () => `
providers:
  - name: oai
    plugin: openai
    base_url: http://127.0.0.1:${mock.port}/v1
models:
  - { id: sora-mock, provider: oai, upstream_model: sora-2, endpoints: [video] }
  - { id: gpt-mock, provider: oai }
`;

async function call(g, method, path, { key, body } = {}) {
  const res = await g.fetch(path, {
    method,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  let json = null;
  try { json = JSON.parse(bytes.toString()); } catch { /* a video */ }
  return { status: res.status, type: res.headers.get('content-type'), bytes, body: json };
}

/// Reads the job until `done(answer)` holds; the last answer.
async function until(read, done, what, ms = 30000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await read();
    if (done(last)) return last;
    await sleep(100);
  }
  assert.fail(`${what}: still ${JSON.stringify(last?.body)}`);
}

before(async () => {
  assert.ok(MOCK, 'SLUICE_MOCK_UPSTREAM names the mock upstream binary');
  mock = await Gateway.start([], {}, MOCK);
});

after(async () => {
  for (const g of gateways) await g.stop('SIGKILL', 1000).catch(() => {});
  for (const r of redises) {
    if (r.proc.exitCode === null && r.proc.signalCode === null) {
      r.proc.kill('SIGKILL');
      await r.exited;
    }
  }
  await mock?.stop();
});

test('a video job submitted to one gateway is polled, downloaded and expires through another sharing Redis', async () => {
  const redis = await startRedis();
  const config = `${models()}
accounts:
  - { id: acme, tier: 3 }
  - { id: other, tier: 3 }
auth:
  store: none
  keys:
    - { id: k-owner, secret_sha256: ${sha256(KEY_A)}, account: acme }
    - { id: k-other, secret_sha256: ${sha256(KEY_B)}, account: other }
jobs: { store: redis, redis: "redis://127.0.0.1:${redis.port}", ttl: 2s, poll_interval: 200ms }
`;
  const a = await startGateway(writeConfig(config));
  const b = await startGateway(writeConfig(config));

  const made = await call(a, 'POST', '/v1/video/generations',
    { key: KEY_A, body: { model: 'sora-mock', prompt: 'a cat on a skateboard mock: polls=3', seconds: '4', size: '1280x720' } });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  const id = made.body.id;
  assert.match(id, /^video_[0-9a-f]{32}$/);
  assert.equal(made.body.object, 'video.generation');
  assert.equal(made.body.status, 'processing');
  assert.equal(made.body.model, 'sora-mock');
  assert.equal(typeof made.body.created_at, 'number');
  assert.equal(made.body.seconds, '4');

  // Another account, or nobody, gets what an unknown id gets.
  const stranger = await call(b, 'GET', `/v1/video/generations/${id}`, { key: KEY_B });
  assert.equal(stranger.status, 404);
  assert.equal(stranger.body.error.code, 'job_not_found');
  assert.equal(stranger.body.error.message, `no job ${id}`);
  assert.equal((await call(b, 'GET', `/v1/video/generations/${id}`)).status, 401);
  const unknown = await call(b, 'GET', '/v1/video/generations/video_0000', { key: KEY_A });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.message, 'no job video_0000');

  // B advances the job A submitted; its content comes through B.
  const early = await call(b, 'GET', `/v1/video/generations/${id}/content`, { key: KEY_A });
  if (early.status !== 200) {
    assert.equal(early.status, 400);
    assert.equal(early.body.error.code, 'job_not_ready');
  }
  const done = await until(() => call(b, 'GET', `/v1/video/generations/${id}`, { key: KEY_A }),
    (r) => r.body?.status !== 'processing', 'the job completes');
  assert.equal(done.status, 200);
  assert.equal(done.body.status, 'completed', JSON.stringify(done.body));
  assert.equal(done.body.progress, 100);
  assert.equal(done.body.error, null);
  assert.equal(done.body.expires_at - done.body.completed_at, 2);
  const video = await call(b, 'GET', `/v1/video/generations/${id}/content`, { key: KEY_A });
  assert.equal(video.status, 200);
  assert.equal(video.type, 'video/mp4');
  assert.deepEqual(video.bytes, VIDEO);
  assert.equal((await call(b, 'GET', `/v1/video/generations/${id}/content`, { key: KEY_B })).status, 404);
  const onA = await call(a, 'GET', `/v1/video/generations/${id}`, { key: KEY_A });
  assert.equal(onA.body.status, 'completed');

  // /v1/async-invoke: the same job system, its output the content URL on this gateway.
  const job = await call(a, 'POST', '/v1/async-invoke',
    { key: KEY_A, body: { model: 'sora-mock', input: { prompt: 'waves mock: polls=1', seconds: 8 } } });
  assert.equal(job.status, 200, JSON.stringify(job.body));
  assert.equal(job.body.request_id, job.body.id);
  assert.equal(job.body.status, 'processing');
  assert.equal(job.body.model, 'sora-mock');
  const status = await until(() => call(b, 'GET', `/v1/async-invoke/${job.body.id}/status`, { key: KEY_A }),
    (r) => r.body?.status !== 'processing', 'the async job completes');
  assert.deepEqual(status.body, { id: job.body.id, request_id: job.body.id, status: 'completed' });
  const full = await call(b, 'GET', `/v1/async-invoke/${job.body.id}`, { key: KEY_A });
  assert.equal(full.status, 200);
  assert.equal(full.body.output.video_url, `${b.base}/v1/video/generations/${job.body.id}/content`);
  const fetched = await fetch(full.body.output.video_url, { headers: { authorization: `Bearer ${KEY_A}` } });
  assert.equal(fetched.status, 200);
  assert.deepEqual(Buffer.from(await fetched.arrayBuffer()), VIDEO);
  assert.equal((await call(a, 'GET', `/v1/async-invoke/${job.body.id}/status`, { key: KEY_B })).status, 404);

  // ttl 2s after completion: both gateways answer 404 and say it expired, and when.
  for (const g of [a, b]) {
    const gone = await until(() => call(g, 'GET', `/v1/video/generations/${id}`, { key: KEY_A }),
      (r) => r.status === 404, 'the job expires');
    assert.equal(gone.body.error.code, 'job_expired');
    assert.match(gone.body.error.message, new RegExp(`^job ${id} expired at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ`));
    const content = await call(g, 'GET', `/v1/video/generations/${id}/content`, { key: KEY_A });
    assert.equal(content.status, 404);
    assert.equal(content.body.error.code, 'job_expired');
  }
  // The other account still hears only "no job".
  assert.equal((await call(a, 'GET', `/v1/video/generations/${id}`, { key: KEY_B })).body.error.code, 'job_not_found');
});

test('a failed upstream job is failed with the upstream error and bad requests are clear 400s', async () => {
  const g = await startGateway(writeConfig(`${models()}
auth: { mode: none }
jobs: { store: memory, poll_interval: 100ms }
`));
  const made = await call(g, 'POST', '/v1/video/generations',
    { body: { model: 'sora-mock', prompt: 'mock: polls=1 fail=1' } });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  const failed = await until(() => call(g, 'GET', `/v1/video/generations/${made.body.id}`),
    (r) => r.body?.status !== 'processing', 'the job fails');
  assert.equal(failed.body.status, 'failed');
  assert.deepEqual(failed.body.error, { code: 'moderation_blocked', message: 'the mock was asked to fail this video' });
  const content = await call(g, 'GET', `/v1/video/generations/${made.body.id}/content`);
  assert.equal(content.status, 400);
  assert.equal(content.body.error.code, 'job_failed');

  // The upstream forgets the job: failed, and the error says so.
  const lost = await call(g, 'POST', '/v1/async-invoke', { body: { model: 'sora-mock', input: { prompt: 'mock: polls=5 vanish=1' } } });
  assert.equal(lost.status, 200);
  const vanished = await until(() => call(g, 'GET', `/v1/async-invoke/${lost.body.id}`),
    (r) => r.body?.status !== 'processing', 'the lost job fails');
  assert.equal(vanished.body.status, 'failed');
  assert.equal(vanished.body.error.code, 'upstream_job_lost');

  // The upstream refuses the submit: no job, the upstream's error.
  const refused = await call(g, 'POST', '/v1/video/generations', { body: { model: 'sora-mock', prompt: 'mock: error=500' } });
  assert.equal(refused.status, 502, JSON.stringify(refused.body));

  const notVideo = await call(g, 'POST', '/v1/video/generations', { body: { model: 'gpt-mock', prompt: 'x' } });
  assert.equal(notVideo.status, 400);
  assert.match(notVideo.body.error.message, /'gpt-mock' does not serve video/);
  const noModel = await call(g, 'POST', '/v1/video/generations', { body: { model: 'nope', prompt: 'x' } });
  assert.equal(noModel.status, 404);
  assert.equal(noModel.body.error.code, 'model_not_found');
  const noPrompt = await call(g, 'POST', '/v1/video/generations', { body: { model: 'sora-mock' } });
  assert.equal(noPrompt.status, 400);
  assert.equal(noPrompt.body.error.param, 'prompt');
  const badSize = await call(g, 'POST', '/v1/video/generations', { body: { model: 'sora-mock', prompt: 'x', size: 'big' } });
  assert.equal(badSize.status, 400);
  assert.match(badSize.body.error.message, /WIDTHxHEIGHT/);
  const noInput = await call(g, 'POST', '/v1/async-invoke', { body: { model: 'sora-mock' } });
  assert.equal(noInput.status, 400);
  assert.equal(noInput.body.error.param, 'input');
});

test('the default file store keeps jobs across a restart and --check writes nothing', async () => {
  const file = writeConfig(`${models().replace('endpoints: [video] }', 'endpoints: [video], price: { video_second: 0.1 } }')}
auth: { mode: none }
metering: { spool: spool, sinks: ["file://usage.jsonl"], fsync_interval: 5ms }
`);
  const dir = dirname(file);
  const check = runGateway(['--check', '--config', file]);
  assert.equal(check.status, 0, check.stderr);
  assert.ok(!existsSync(join(dir, 'var')), '--check made no var/ folder');

  let g = await startGateway(file);
  const slow = await call(g, 'POST', '/v1/video/generations', { body: { model: 'sora-mock', prompt: 'mock: polls=100000' } });
  const quick = await call(g, 'POST', '/v1/video/generations', { body: { model: 'sora-mock', prompt: 'mock: polls=0', seconds: 4 } });
  assert.equal(slow.status, 200);
  assert.equal(quick.status, 200);
  await until(() => call(g, 'GET', `/v1/video/generations/${quick.body.id}`), (r) => r.body?.status === 'completed',
    'the quick job completes', 30000);
  assert.ok(existsSync(join(dir, 'var', 'jobs.jsonl')), 'the jobs live beside the config');
  // A drain with the poller still waiting on the slow job ends.
  assert.equal(await g.stop('SIGTERM', 15000), 0);

  // One usage event for the completed job, none for the one still running.
  const usage = readFileSync(join(dir, 'usage.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const events = usage.filter((e) => e.endpoint === 'video.generations');
  assert.equal(events.length, 1, JSON.stringify(usage));
  assert.equal(events[0].request_id, quick.body.id);
  assert.equal(events[0].model, 'sora-mock');
  assert.equal(events[0].output_tokens, 4, 'seconds of video, metered as output units');
  assert.ok(Math.abs(events[0].cost_usd - 0.4) < 1e-9, `4 s at 0.1 USD: ${events[0].cost_usd}`);

  g = await startGateway(file);
  // Reopening compacted the log: one line per job.
  const lines = readFileSync(join(dir, 'var', 'jobs.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 2);
  const stillSlow = await call(g, 'GET', `/v1/video/generations/${slow.body.id}`);
  assert.equal(stillSlow.status, 200);
  assert.equal(stillSlow.body.status, 'processing');
  const stillQuick = await call(g, 'GET', `/v1/video/generations/${quick.body.id}`);
  assert.equal(stillQuick.body.status, 'completed');
  const video = await call(g, 'GET', `/v1/video/generations/${quick.body.id}/content`);
  assert.deepEqual(video.bytes, VIDEO);
});

// The reference gateway as a user meets it: start-up, config checks, health, the model list,
// errors in the API's shape, request logs, graceful shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, runGateway, writeConfig } from './harness.mjs';

const echoPlugin = process.env.SLUICE_TEST_PLUGIN_test_echo;
const newerPlugin = process.env.SLUICE_TEST_PLUGIN_test_newer_major;

const echoConfig = (extra = '') => `
auth: { mode: none }
providers:
  - name: local
    plugin: ${echoPlugin}
    base_url: http://127.0.0.1:9
models:
  - id: echo-small
    provider: local
    owned_by: tests
    created: 1700000000
  - id: echo-large
    provider: local
${extra}`;

test('--check accepts a valid config and exits 0', () => {
  const r = runGateway(['--check', '--config', writeConfig(echoConfig())]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ok \(1 providers, 2 models\)/);
});

test('--check refuses an unknown key, naming the file, line, key and the nearest valid name', () => {
  const file = writeConfig(echoConfig().replace('base_url:', 'base_ulr:'));
  const r = runGateway(['--check', '--config', file]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6:\\d+: providers\\[0\\]\\.base_ulr: .*base_url`));
});

test('a config naming a plugin that does not exist is a start-up error that names it', () => {
  const r = runGateway(['--check', '--config', writeConfig(echoConfig().replace(echoPlugin, 'no_such_plugin'))]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no_such_plugin/);
  assert.match(r.stderr, /not found/);
});

test('a missing config file is an error that names it', () => {
  const r = runGateway(['--config', '/nonexistent/sluice.yaml']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /\/nonexistent\/sluice\.yaml/);
});

test('bad command lines exit 2 with usage', () => {
  const r = runGateway(['--threads', 'zero']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /usage: sluice-gateway/);
});

test('the embedded default config is valid and lists its catalog at /v1/models', async () => {
  const printed = runGateway(['--print-default']);
  assert.equal(printed.status, 0);
  const ids = [...printed.stdout.matchAll(/^\s*-\s*id:\s*(\S+)/gm)].map((m) => m[1]);
  assert.ok(ids.length > 0, 'the default config lists models');

  const g = await Gateway.start([]);
  try {
    const res = await g.fetch('/v1/models');
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.object, 'list');
    assert.deepEqual(body.data.map((m) => m.id), ids);
    for (const m of body.data) {
      assert.equal(m.object, 'model');
      assert.equal(typeof m.created, 'number');
      assert.equal(typeof m.owned_by, 'string');
    }
  } finally {
    assert.equal(await g.stop(), 0);
  }
});

test('health, readiness, models and errors over one running gateway', async (t) => {
  const g = await Gateway.start(['--config', writeConfig(echoConfig())]);
  t.after(() => g.stop());

  await t.test('/healthz and /readyz answer 200', async () => {
    assert.deepEqual(await (await g.fetch('/healthz')).json(), { status: 'ok' });
    const ready = await g.fetch('/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', models: 2 });
  });

  await t.test('/v1/models has the OpenAI list shape', async () => {
    const body = await (await g.fetch('/v1/models')).json();
    assert.deepEqual(body, {
      object: 'list',
      data: [
        { id: 'echo-small', object: 'model', created: 1700000000, owned_by: 'tests' },
        { id: 'echo-large', object: 'model', created: 0, owned_by: 'local' },
      ],
    });
  });

  await t.test('Anthropic clients get Anthropic\'s list shape', async () => {
    const res = await g.fetch('/v1/models', { headers: { 'anthropic-version': '2023-06-01' } });
    const body = await res.json();
    assert.equal(body.has_more, false);
    assert.equal(body.first_id, 'echo-small');
    assert.equal(body.last_id, 'echo-large');
    assert.deepEqual(body.data[0], {
      type: 'model', id: 'echo-small', display_name: 'echo-small', created_at: '2023-11-14T22:13:20Z',
    });
  });

  await t.test('/v1/models/{id} returns one model, or 404 model_not_found', async () => {
    const one = await g.fetch('/v1/models/echo-small');
    assert.equal(one.status, 200);
    assert.equal((await one.json()).id, 'echo-small');
    const missing = await g.fetch('/v1/models/gpt-9');
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), {
      error: { message: "The model 'gpt-9' does not exist", type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
    });
  });

  await t.test('unknown paths are 404 and wrong methods 405, in the OpenAI error shape', async () => {
    const nf = await g.fetch('/v1/nope', { method: 'POST', body: '{}' });
    assert.equal(nf.status, 404);
    assert.equal((await nf.json()).error.type, 'invalid_request_error');
    const na = await g.fetch('/v1/models', { method: 'DELETE' });
    assert.equal(na.status, 405);
    assert.equal(na.headers.get('allow'), 'GET');
  });

  await t.test('Anthropic paths get Anthropic\'s error shape', async () => {
    const res = await g.fetch('/v1/messages/unknown', { method: 'POST', body: '{}' });
    assert.equal(res.status, 404);
    const body = await res.json();
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'not_found_error');
  });

  await t.test('every response carries x-request-id, echoed from the request when given, and one log line', async () => {
    const res = await g.fetch('/healthz', { headers: { 'x-request-id': 'trace-abc-123' } });
    assert.equal(res.headers.get('x-request-id'), 'trace-abc-123');
    const line = await g.waitForLog((l) => l.event === 'request' && l.request_id === 'trace-abc-123');
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/healthz');
    assert.equal(line.status, 200);
    assert.equal(typeof line.latency_ms, 'number');
    const other = await g.fetch('/healthz');
    assert.match(other.headers.get('x-request-id'), /^req_[0-9a-f]{24}$/);
  });
});

test('a body over the configured limit is refused with 413', async () => {
  const g = await Gateway.start(['--config', writeConfig(echoConfig('server:\n  body_limit: 1KiB\n'))]);
  try {
    const res = await g.fetch('/v1/chat/completions', { method: 'POST', body: 'x'.repeat(4096) });
    assert.equal(res.status, 413);
    assert.match((await res.json()).error.message, /exceeds the limit of 1024 bytes/);
  } finally {
    await g.stop();
  }
});

test('a plugin built for a newer ABI is refused with one log line and the gateway goes on without it', async () => {
  assert.ok(newerPlugin, 'the test plugin built for a newer ABI is available');
  const config = echoConfig() + `
  - id: future-model
    provider: future
`;
  const withFuture = config.replace('models:', `  - name: future
    plugin: ${newerPlugin}
    base_url: http://127.0.0.1:9
models:`);
  const g = await Gateway.start(['--config', writeConfig(withFuture)]);
  try {
    const refused = g.logs.filter((l) => l.level === 'warn' && /abi/i.test(JSON.stringify(l)));
    assert.equal(refused.length, 1, JSON.stringify(g.logs));
    const ids = (await (await g.fetch('/v1/models')).json()).data.map((m) => m.id);
    assert.deepEqual(ids, ['echo-small', 'echo-large']);
  } finally {
    await g.stop();
  }
});

test('SIGTERM drains and exits 0; SIGINT too', async () => {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    const g = await Gateway.start(['--config', writeConfig(echoConfig())]);
    await (await g.fetch('/healthz')).text();
    assert.equal(await g.stop(signal), 0, g.stderr);
    assert.ok(g.logs.some((l) => l.event === 'drained'));
  }
});

test('TLS: the gateway serves HTTPS with the configured certificate', async () => {
  const tls = `${process.env.SLUICE_SOURCE_DIR}/tests/data/tls`;
  const g = await Gateway.start(['--config', writeConfig(echoConfig(
    `server:\n  tls:\n    cert_file: ${tls}/localhost.crt\n    key_file: ${tls}/localhost.key\n`))]);
  try {
    const { request } = await import('node:https');
    const { readFileSync } = await import('node:fs');
    const body = await new Promise((resolve, reject) => {
      request({ host: '127.0.0.1', port: g.port, path: '/healthz', ca: readFileSync(`${tls}/localhost.crt`), servername: 'localhost' },
        (res) => { let d = ''; res.on('data', (c) => (d += c)); res.on('end', () => resolve(d)); })
        .on('error', reject).end();
    });
    assert.deepEqual(JSON.parse(body), { status: 'ok' });
  } finally {
    await g.stop();
  }
});

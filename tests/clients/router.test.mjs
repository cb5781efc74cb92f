// "model": "router:NAME" through the real gateway binary and the official SDKs: the router picks
// a task, the first candidate's upstream fails before anything reached the client, and the next
// candidate serves; the answer names the model that served and the route header names the task.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { Gateway, writeConfig } from '../integration/harness.mjs';

const MOCK = process.env.SLUICE_MOCK_UPSTREAM;
let mock, gw, openai, anthropic;

before(async () => {
  assert.ok(MOCK, 'SLUICE_MOCK_UPSTREAM names the mock upstream binary');
  mock = await Gateway.start([], {}, MOCK);
  gw = await Gateway.start(['--config', writeConfig(`
auth: { mode: none }
providers:
  - name: mock
    plugin: openai
    base_url: http://127.0.0.1:${mock.port}/v1
  - name: down
    plugin: openai
    base_url: http://127.0.0.1:1/v1
    timeouts: { connect: 1s, first_byte: 2s, total: 5s }
models:
  - { id: broken-model, provider: down, price: { input: 0.1, output: 0.1 } }
  - { id: small-model, provider: mock, price: { input: 0.5, output: 1 } }
  - { id: big-model, provider: mock, price: { input: 5, output: 15 } }
routers:
  - name: support
    tasks:
      - name: billing
        description: invoices, payments, refunds and charges on a card
        examples: ["Why was I charged twice?", "Can I get a refund for my invoice?"]
        metadata: { desk: billing }
        models: [broken-model, small-model]
        policy: manual
      - name: code
        description: programming questions about code, compilers and bugs
        examples: ["Why does my C++ program crash with a segmentation fault?"]
        keywords: [stack trace]
        models: [big-model]
        policy: cost
    fallback: [small-model]
`)]);
  openai = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 20000 });
  anthropic = new Anthropic({ baseURL: gw.base, apiKey: 'unused', maxRetries: 0, timeout: 20000 });
});

after(async () => {
  await gw?.stop();
  await mock?.stop();
});

test('a routed request fails over from an unreachable first model to the next, and says which served', async () => {
  const { data, response } = await openai.chat.completions
    .create({ model: 'router:support', messages: [{ role: 'user', content: 'I was charged twice on my card, I want a refund' }] })
    .withResponse();
  assert.equal(response.headers.get('x-model-router-selected-route'), 'billing');
  assert.equal(data.model, 'small-model');
  assert.ok(data.choices[0].message.content.length > 0);
  assert.ok(gw.logs.some((l) => l.event === 'failover' && l.model === 'broken-model'), 'the failover is logged');
});

test('streams fail over too, and name the serving model in every chunk', async () => {
  const { data: stream, response } = await openai.chat.completions
    .create({ model: 'router:support', stream: true, messages: [{ role: 'user', content: 'Can I get a refund for this invoice?' }] })
    .withResponse();
  assert.equal(response.headers.get('x-model-router-selected-route'), 'billing');
  let text = '';
  for await (const chunk of stream) {
    assert.equal(chunk.model, 'small-model');
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.ok(text.length > 0);
});

test('a keyword rule picks its task, the cost policy its model, through the Anthropic SDK', async () => {
  const { data, response } = await anthropic.messages
    .create({ model: 'router:support', max_tokens: 64, messages: [{ role: 'user', content: 'here is the stack trace of my program' }] })
    .withResponse();
  assert.equal(response.headers.get('x-model-router-selected-route'), 'code');
  assert.equal(data.model, 'big-model');
});

test('request metadata matching a task\'s metadata rule picks it, whatever the text says', async () => {
  const { data, response } = await openai.chat.completions
    .create({ model: 'router:support', metadata: { desk: 'billing' }, messages: [{ role: 'user', content: 'zebra giraffe savanna' }] })
    .withResponse();
  assert.equal(response.headers.get('x-model-router-selected-route'), 'billing');
  assert.equal(data.model, 'small-model');
});

test('a request like no task goes to the fallback; an unknown router is a 404', async () => {
  const { data, response } = await openai.chat.completions
    .create({ model: 'router:support', messages: [{ role: 'user', content: 'zebra giraffe savanna' }] })
    .withResponse();
  assert.equal(response.headers.get('x-model-router-selected-route'), 'fallback');
  assert.equal(data.model, 'small-model');
  await assert.rejects(openai.chat.completions.create({ model: 'router:nope', messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found' && /nope/.test(e.message));
});

test('the broken model\'s failures open its circuit breaker: later requests skip it', async () => {
  for (let i = 0; i < 6; i++)
    await openai.chat.completions.create({ model: 'router:support', messages: [{ role: 'user', content: 'Why was I charged twice?' }] });
  const before = gw.logs.filter((l) => l.event === 'failover').length;
  assert.ok(gw.logs.some((l) => l.event === 'breaker_open' && l.model === 'broken-model'), 'the breaker opened');
  const r = await openai.chat.completions.create({ model: 'router:support', messages: [{ role: 'user', content: 'Why was I charged twice?' }] });
  assert.equal(r.model, 'small-model');
  assert.equal(gw.logs.filter((l) => l.event === 'failover').length, before, 'no attempt at the open model');
});

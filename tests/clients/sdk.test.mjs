// The official SDKs as real clients of the real gateway binary, in front of the mock upstream
// speaking OpenAI and Anthropic: every front API against every provider, streaming and not.
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
  - name: oai
    plugin: openai
    base_url: http://127.0.0.1:${mock.port}/v1
    api_key: sk-upstream-openai
  - name: ant
    plugin: anthropic
    base_url: http://127.0.0.1:${mock.port}
    api_key: sk-upstream-anthropic
models:
  - id: gpt-mock
    provider: oai
    max_output_tokens: 4096
    price: { input: 1.0, output: 2.0, cached_input: 0.5 }
  - id: claude-mock
    provider: ant
    max_output_tokens: 8192
`)]);
  openai = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'client-key', maxRetries: 0, timeout: 20000 });
  anthropic = new Anthropic({ baseURL: gw.base, apiKey: 'client-key', maxRetries: 0, timeout: 20000 });
});

after(async () => {
  await gw?.stop();
  await mock?.stop();
});

// Each front API meets each upstream: same-shape and translated.
const MODELS = ['gpt-mock', 'claude-mock'];
const user = (text) => [{ role: 'user', content: text }];
const weather = { city: 'Paris' };
const openaiTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
const anthropicTool = { name: 'get_weather', description: 'Weather by city', input_schema: openaiTool.function.parameters };
const responsesTool = { type: 'function', name: 'get_weather', description: 'Weather by city', parameters: openaiTool.function.parameters, strict: false };

for (const model of MODELS) {
  test(`chat completions, ${model}: a plain answer, whole and streamed alike`, async () => {
    const whole = await openai.chat.completions.create({ model, messages: user('hello') });
    const text = whole.choices[0].message.content;
    assert.equal(typeof text, 'string');
    assert.ok(text.length > 0);
    assert.equal(whole.choices[0].finish_reason, 'stop');
    assert.equal(whole.model, model);
    assert.ok(whole.usage.prompt_tokens > 0 && whole.usage.completion_tokens > 0);

    const stream = await openai.chat.completions.create({ model, messages: user('hello'), stream: true, stream_options: { include_usage: true } });
    let streamed = '', finish = null, usage = null;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        streamed += c.delta?.content ?? '';
        finish = c.finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(streamed, text);
    assert.equal(finish, 'stop');
    assert.ok(usage && usage.completion_tokens > 0, 'usage arrives in the stream (WIRE 4)');
  });

  test(`chat completions, ${model}: two tool calls, streamed arguments intact (WIRE 1, 2, 3)`, async () => {
    const whole = await openai.chat.completions.create({ model, messages: user('mock: tools=2'), tools: [openaiTool] });
    const calls = whole.choices[0].message.tool_calls;
    assert.equal(whole.choices[0].finish_reason, 'tool_calls');
    assert.equal(calls.length, 2);
    for (const c of calls) {
      assert.equal(c.function.name, 'get_weather');
      assert.deepEqual(JSON.parse(c.function.arguments), weather);
    }
    const stream = await openai.chat.completions.create({ model, messages: user('mock: tools=2'), tools: [openaiTool], stream: true });
    const byIndex = new Map();
    let finish = null;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        for (const t of c.delta?.tool_calls ?? []) {
          const acc = byIndex.get(t.index) ?? { id: '', name: '', args: '' };
          acc.id ||= t.id ?? '';
          acc.name ||= t.function?.name ?? '';
          acc.args += t.function?.arguments ?? '';
          byIndex.set(t.index, acc);
        }
        finish = c.finish_reason ?? finish;
      }
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(byIndex.size, 2);
    for (const acc of byIndex.values()) {
      assert.ok(acc.id.length > 0);
      assert.equal(acc.name, 'get_weather');
      assert.deepEqual(JSON.parse(acc.args), weather);
    }
  });

  test(`responses, ${model}: text and function calls, whole and streamed`, async () => {
    const whole = await openai.responses.create({ model, input: 'hello' });
    assert.equal(whole.status, 'completed');
    assert.ok(whole.output_text.length > 0);
    const stream = openai.responses.stream({ model, input: 'hello' });
    let deltas = '';
    stream.on('response.output_text.delta', (e) => { deltas += e.delta; });
    const final = await stream.finalResponse();
    assert.equal(final.output_text, whole.output_text);
    assert.equal(deltas, whole.output_text);

    const tools = await openai.responses.create({ model, input: 'mock: tools=2', tools: [responsesTool] });
    const calls = tools.output.filter((i) => i.type === 'function_call');
    assert.equal(calls.length, 2);
    for (const c of calls) assert.deepEqual(JSON.parse(c.arguments), weather);
    const streamedTools = await openai.responses.stream({ model, input: 'mock: tools=2', tools: [responsesTool] }).finalResponse();
    assert.deepEqual(streamedTools.output.filter((i) => i.type === 'function_call').map((c) => JSON.parse(c.arguments)), [weather, weather]);
  });

  test(`messages, ${model}: text and tool use, whole and streamed (WIRE 1, 2, 3)`, async () => {
    const whole = await anthropic.messages.create({ model, max_tokens: 256, messages: user('hello') });
    assert.equal(whole.type, 'message');
    assert.equal(whole.stop_reason, 'end_turn');
    assert.equal(whole.content[0].type, 'text');
    const final = await anthropic.messages.stream({ model, max_tokens: 256, messages: user('hello') }).finalMessage();
    assert.equal(final.content[0].text, whole.content[0].text);
    assert.ok(final.usage.output_tokens > 0, 'usage in message_delta (WIRE 4)');

    for (const stream of [false, true]) {
      const req = { model, max_tokens: 256, messages: user('mock: tools=2'), tools: [anthropicTool] };
      const msg = stream ? await anthropic.messages.stream(req).finalMessage() : await anthropic.messages.create(req);
      assert.equal(msg.stop_reason, 'tool_use');
      const uses = msg.content.filter((b) => b.type === 'tool_use');
      assert.equal(uses.length, 2);
      for (const u of uses) assert.deepEqual(u.input, weather);
    }
  });

  test(`messages, ${model}: a tool result goes back and the conversation goes on`, async () => {
    const first = await anthropic.messages.create({ model, max_tokens: 256, messages: user('mock: tools=1'), tools: [anthropicTool] });
    const use = first.content.find((b) => b.type === 'tool_use');
    const next = await anthropic.messages.create({
      model, max_tokens: 256, tools: [anthropicTool],
      messages: [
        ...user('mock: tools=1'),
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18 degrees' }] },
      ],
    });
    assert.equal(next.stop_reason, 'end_turn');
  });

  test(`${model}: an upstream 429 reaches each SDK as a rate-limit error`, async () => {
    await assert.rejects(openai.chat.completions.create({ model, messages: user('mock: error=429') }), (e) => e.status === 429);
    await assert.rejects(anthropic.messages.create({ model, max_tokens: 16, messages: user('mock: error=429') }),
      (e) => e.status === 429 && e.error?.error?.type === 'rate_limit_error');
  });

  test(`${model}: a stream cut mid-way ends in an error, never a clean end (WIRE 7)`, async () => {
    await assert.rejects(async () => {
      const s = await openai.chat.completions.create({ model, messages: user('mock: cut=2'), stream: true });
      for await (const _ of s) { /* drain */ }
    });
    await assert.rejects(anthropic.messages.stream({ model, max_tokens: 64, messages: user('mock: cut=2') }).finalMessage());
  });
}

test('cached prompt tokens are reported back in each API (WIRE 6)', async () => {
  const chat = await openai.chat.completions.create({ model: 'gpt-mock', messages: user('mock: cached=40') });
  assert.equal(chat.usage.prompt_tokens_details.cached_tokens, 40);
  const viaAnthropic = await anthropic.messages.create({ model: 'gpt-mock', max_tokens: 64, messages: user('mock: cached=40') });
  assert.equal(viaAnthropic.usage.cache_read_input_tokens, 40);
  const native = await anthropic.messages.create({ model: 'claude-mock', max_tokens: 64, messages: user('mock: cached=40') });
  assert.equal(native.usage.cache_read_input_tokens, 40);
  const viaOpenAI = await openai.chat.completions.create({ model: 'claude-mock', messages: user('mock: cached=40') });
  assert.equal(viaOpenAI.usage.prompt_tokens_details.cached_tokens, 40);
});

test('reasoning crosses formats as thinking blocks and reasoning_content (WIRE 5)', async () => {
  const msg = await anthropic.messages.create({ model: 'gpt-mock', max_tokens: 512, messages: user('mock: reasoning=1') });
  assert.deepEqual(msg.content.map((b) => b.type), ['thinking', 'text']);
  const chat = await openai.chat.completions.create({ model: 'claude-mock', messages: user('mock: reasoning=1') });
  assert.ok(chat.choices[0].message.reasoning_content.length > 0);
  assert.ok(chat.choices[0].message.content.length > 0);
});

test('cache_control and anthropic-beta reach Anthropic unchanged (WIRE 6)', async () => {
  const msg = await anthropic.messages.create({
    model: 'claude-mock', max_tokens: 64,
    system: [{ type: 'text', text: 'long system prompt', cache_control: { type: 'ephemeral' } }],
    messages: user('mock: echo=1'),
  }, { headers: { 'anthropic-beta': 'prompt-caching-2024-07-31' } });
  const seen = JSON.parse(msg.content[0].text);
  assert.equal(seen.headers['anthropic-beta'], 'prompt-caching-2024-07-31');
  assert.equal(seen.headers['x-api-key'], 'sk-upstream-anthropic');
  assert.deepEqual(seen.body.system[0].cache_control, { type: 'ephemeral' });
});

test('an OpenAI upstream is always asked for usage on streams (WIRE 4)', async () => {
  const s = await openai.chat.completions.create({ model: 'gpt-mock', messages: user('mock: echo=1'), stream: true });
  let text = '';
  for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
  const seen = JSON.parse(text);
  assert.deepEqual(seen.body.stream_options, { include_usage: true });
  assert.equal(seen.headers.authorization, 'Bearer sk-upstream-openai');
});

test('gateway errors come in each API\'s shape with the right status', async () => {
  await assert.rejects(openai.chat.completions.create({ model: 'no-such-model', messages: user('hi') }),
    (e) => e.status === 404 && e.error?.code === 'model_not_found');
  await assert.rejects(anthropic.messages.create({ model: 'no-such-model', max_tokens: 8, messages: user('hi') }),
    (e) => e.status === 404 && e.error?.error?.type === 'not_found_error');
  await assert.rejects(openai.chat.completions.create({ model: 'gpt-mock', messages: user('hi'), max_completion_tokens: 100000 }),
    (e) => e.status === 400 && e.error?.param === 'max_completion_tokens');
  const res = await fetch(`${gw.base}/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'claude-mock', messages: user('hi') }),
  });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.type, 'error');
  assert.equal(body.error.type, 'invalid_request_error');
  assert.match(body.error.message, /max_tokens/);
});

// A 1x1 PNG, as a data URL and as Anthropic's base64 source.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

test('images cross formats: an OpenAI image_url reaches Anthropic as a base64 block, and back', async () => {
  const viaChat = await openai.chat.completions.create({
    model: 'claude-mock',
    messages: [{ role: 'user', content: [
      { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
      { type: 'text', text: 'mock: echo=1' }] }],
  });
  const seenByAnthropic = JSON.parse(viaChat.choices[0].message.content);
  const block = seenByAnthropic.body.messages[0].content.find((b) => b.type === 'image');
  assert.deepEqual(block.source, { type: 'base64', media_type: 'image/png', data: PNG });

  const viaMessages = await anthropic.messages.create({
    model: 'gpt-mock', max_tokens: 64,
    messages: [{ role: 'user', content: [
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
      { type: 'text', text: 'mock: echo=1' }] }],
  });
  const seenByOpenAI = JSON.parse(viaMessages.content[0].text);
  const part = seenByOpenAI.body.messages[0].content.find((p) => p.type === 'image_url');
  assert.equal(part.image_url.url, `data:image/png;base64,${PNG}`);
});

for (const model of MODELS) {
  test(`chat completions and responses, ${model}: tool results go back in each API's shape`, async () => {
    const first = await openai.chat.completions.create({ model, messages: user('mock: tools=1'), tools: [openaiTool] });
    const call = first.choices[0].message.tool_calls[0];
    const next = await openai.chat.completions.create({
      model, tools: [openaiTool],
      messages: [...user('mock: tools=1'), first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '18 degrees' }],
    });
    assert.equal(next.choices[0].finish_reason, 'stop');

    const r1 = await openai.responses.create({ model, input: 'mock: tools=1', tools: [responsesTool] });
    const fc = r1.output.find((i) => i.type === 'function_call');
    const r2 = await openai.responses.create({
      model, tools: [responsesTool],
      input: [{ role: 'user', content: 'mock: tools=1' }, fc, { type: 'function_call_output', call_id: fc.call_id, output: '18 degrees' }],
    });
    assert.equal(r2.status, 'completed');
    assert.ok(r2.output_text.length > 0);
  });

  test(`reasoning, ${model}: each front API carries it in its own shape, whole and streamed (WIRE 5)`, async () => {
    const chat = await openai.chat.completions.create({ model, messages: user('mock: reasoning=1') });
    assert.ok(chat.choices[0].message.reasoning_content.length > 0);
    const resp = await openai.responses.create({ model, input: 'mock: reasoning=1' });
    assert.deepEqual(resp.output.map((i) => i.type), ['reasoning', 'message']);
    const streamed = await anthropic.messages.stream({ model, max_tokens: 2048, messages: user('mock: reasoning=1') }).finalMessage();
    assert.deepEqual(streamed.content.map((b) => b.type), ['thinking', 'text']);
    assert.ok(streamed.content[0].thinking.length > 0);
    assert.ok(!streamed.content[1].text.includes(streamed.content[0].thinking), 'thinking never leaks into text');
  });
}

// Starts the built sluice-mock-upstream on a free port and checks, over real HTTP, one OpenAI
// stream (parallel tool calls, usage chunk, [DONE]) and one Anthropic body, plus an error shape
// and a cut stream. Usage: node mock_upstream.test.mjs PATH_TO_BINARY
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';

const bin = process.argv[2];
const proc = spawn(bin, ['--listen', '127.0.0.1:0', '--chunks', '3'], { stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
const port = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no listening line:\n${stderr}`)), 15000);
  proc.on('exit', (code) => reject(new Error(`exited with ${code}:\n${stderr}`)));
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => {
    stderr += chunk;
    for (const line of stderr.split('\n')) {
      try {
        const l = JSON.parse(line);
        if (l.event === 'listening') { clearTimeout(timer); resolve(l.port); }
      } catch {}
    }
  });
});
const base = `http://127.0.0.1:${port}`;
const post = (path, body, headers = {}) =>
  fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/// The events of an SSE body that carry data (comments and a torn last frame left out).
function sse(text) {
  return text.split('\n\n').filter((f) => f.includes('data: ')).map((f) => {
    const ev = { event: null, data: '' };
    for (const line of f.split('\n')) {
      if (line.startsWith('event: ')) ev.event = line.slice(7);
      else if (line.startsWith('data: ')) ev.data += line.slice(6);
    }
    return ev;
  });
}

try {
  // OpenAI stream: two parallel tool calls, fragments interleaved, usage last, then [DONE].
  {
    const res = await post('/v1/chat/completions', {
      model: 'gpt-mock', stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'weather? mock: tools=2 cached=3' }],
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const events = sse(await res.text());
    assert.equal(events.at(-1).data, '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    const args = ['', ''];
    const order = [];
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.model, 'gpt-mock');
      for (const tc of c.choices[0]?.delta?.tool_calls ?? []) {
        args[tc.index] += tc.function.arguments;
        if (!tc.id) order.push(tc.index);
      }
    }
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    assert.deepEqual(args.map((a) => JSON.parse(a)), [{ city: 'Paris' }, { city: 'Paris' }]);
    assert.deepEqual(order.slice(0, 4), [0, 1, 0, 1]);
    assert.equal(chunks.at(-2).choices[0].finish_reason, 'tool_calls');
    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage.completion_tokens, 10);
    assert.equal(usage.usage.prompt_tokens_details.cached_tokens, 3);
  }
  // Anthropic body: thinking then text, usage, request-id header, echo of what was sent.
  {
    const res = await post('/v1/messages', {
      model: 'claude-mock', max_tokens: 32,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'mock: reasoning=1 echo=1' }] }],
    }, { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'prompt-caching-2024-07-31' });
    assert.equal(res.status, 200);
    assert.ok(res.headers.get('request-id'));
    const m = await res.json();
    assert.equal(m.type, 'message');
    assert.equal(m.model, 'claude-mock');
    assert.deepEqual(m.content.map((b) => b.type), ['thinking', 'text']);
    assert.equal(m.stop_reason, 'end_turn');
    const echo = JSON.parse(m.content[1].text);
    assert.equal(echo.headers['anthropic-beta'], 'prompt-caching-2024-07-31');
    assert.equal(echo.body.max_tokens, 32);
    assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0);
  }
  // Errors in each provider's shape.
  {
    const res = await post('/v1/messages', { model: 'c', max_tokens: 1, messages: [{ role: 'user', content: 'mock: error=529' }] });
    assert.equal(res.status, 529);
    assert.deepEqual((await res.json()).error.type, 'overloaded_error');
    const limited = await post('/v1/chat/completions', { model: 'g', messages: [{ role: 'user', content: 'mock: error=429' }] });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '1');
    assert.equal((await limited.json()).error.code, 'rate_limit_exceeded');
    const bad = await fetch(base + '/v1/chat/completions', { method: 'POST', body: '{oops' });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.type, 'invalid_request_error');
  }
  // A cut stream delivers its first events, then the connection closes without message_stop.
  {
    const res = await post('/v1/messages', { model: 'c', max_tokens: 1, stream: true, messages: [{ role: 'user', content: 'mock: cut=3' }] });
    let text = '';
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    await assert.rejects(async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value);
      }
    });
    assert.deepEqual(sse(text).map((e) => e.event), ['message_start', 'content_block_start', 'ping']);
  }
  console.log('mock upstream: ok');
} finally {
  proc.kill('SIGTERM');
}

// Embeddings, speech and images through the real gateway binary and the official openai SDK:
// the embed kernel in process, the tts kernel (sluice_tts.so) when it is built, and an
// OpenAI-compatible upstream (the mock) for passthrough. Audio is decoded with ffprobe/ffmpeg.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { Gateway, BIN, writeConfig } from '../integration/harness.mjs';

const MOCK = process.env.SLUICE_MOCK_UPSTREAM;
const here = dirname(fileURLToPath(import.meta.url));
// The build tree puts plugins in <build>/plugins; the gateway binary is <build>/apps/sluice-gateway/.
const pluginDir = process.env.SLUICE_BUILD_PLUGIN_DIR ?? resolve(dirname(BIN), '..', '..', 'plugins');
const ttsPlugin = join(pluginDir, 'sluice_tts.so');
// Once the tts kernel's sources are in the tree its plugin must be built: a missing one is a failure.
const ttsExpected = existsSync(resolve(here, '..', '..', 'kernels', 'tts', 'CMakeLists.txt'));
const ttsBuilt = existsSync(ttsPlugin);

let mock, gw, openai;

async function waitReady(g) {
  for (let i = 0; i < 600; i++) {
    const r = await g.fetch('/readyz');
    if (r.status === 200) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`the gateway never became ready:\n${g.stderr}`);
}

before(async () => {
  assert.ok(MOCK, 'SLUICE_MOCK_UPSTREAM names the mock upstream binary');
  mock = await Gateway.start([], {}, MOCK);
  gw = await Gateway.start(['--config', writeConfig(`
auth: { mode: none }
providers:
  - name: mock
    plugin: openai
    base_url: http://127.0.0.1:${mock.port}/v1
    api_key: sk-mock
models:
  - id: sluice-embed
    kernel: { plugin: embed }
    endpoints: [embeddings]
    price: { input: 0.01, output: 0 }
  - id: remote-embed
    provider: mock
    upstream_model: text-embedding-3-small
    endpoints: [embeddings]
    price: { input: 1000000, output: 0 }   # a dollar a token: the log's cost shows it
  - id: remote-tts
    provider: mock
    upstream_model: gpt-4o-mini-tts
    endpoints: [speech]
    price: { input: 1000000, output: 0 }   # a dollar a character: the log's cost shows it
  - id: remote-image
    provider: mock
    upstream_model: gpt-image-1
    endpoints: [images]
    price: { image: 0.04 }
  - id: chat-only
    provider: mock
    endpoints: [chat]
${ttsBuilt ? `  - id: sluice-tts
    kernel: { plugin: tts }
    endpoints: [speech]
    price: { input: 15, output: 0 }
` : ''}`)]);
  await waitReady(gw);
  openai = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 30000 });
});

after(async () => {
  await gw?.stop();
  await mock?.stop();
});

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const cosine = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0) / (norm(a) * norm(b));

// ---------------------------------------------------------------- embeddings

test('embeddings.create on the embed kernel: the SDK\'s default base64 and float agree', async () => {
  const texts = ['The cat sat on the mat.', 'A cat was sitting on the mat.', 'Quarterly revenue grew by twelve percent.'];
  const viaBase64 = await openai.embeddings.create({ model: 'sluice-embed', input: texts }); // the SDK asks for base64
  const viaFloat = await openai.embeddings.create({ model: 'sluice-embed', input: texts, encoding_format: 'float' });
  assert.equal(viaBase64.object, 'list');
  assert.equal(viaBase64.model, 'sluice-embed');
  assert.equal(viaBase64.data.length, 3);
  for (let i = 0; i < 3; i++) {
    assert.equal(viaBase64.data[i].index, i);
    assert.equal(viaBase64.data[i].object, 'embedding');
    assert.equal(viaBase64.data[i].embedding.length, 256);
    assert.deepEqual(Array.from(viaBase64.data[i].embedding, Math.fround), viaFloat.data[i].embedding.map(Math.fround));
    assert.ok(Math.abs(norm(viaFloat.data[i].embedding) - 1) < 1e-5, 'each vector has norm 1');
  }
  assert.ok(viaFloat.usage.prompt_tokens > 0);
  assert.equal(viaFloat.usage.total_tokens, viaFloat.usage.prompt_tokens);
  const [cat, kitten, money] = viaFloat.data.map((d) => d.embedding);
  assert.ok(cosine(cat, kitten) > cosine(cat, money), 'similar texts are closer than dissimilar ones');
});

test('embeddings are deterministic, take token arrays, and honour dimensions', async () => {
  const a = await openai.embeddings.create({ model: 'sluice-embed', input: 'hello world', encoding_format: 'float' });
  const b = await openai.embeddings.create({ model: 'sluice-embed', input: 'hello world', encoding_format: 'float' });
  assert.deepEqual(a.data[0].embedding, b.data[0].embedding);
  assert.equal(a.usage.prompt_tokens, 2, 'usage counts the words the encoder reads');

  const ids = await openai.embeddings.create({ model: 'sluice-embed', input: [[1, 2, 3], [4, 5]], encoding_format: 'float' });
  assert.equal(ids.data.length, 2);
  assert.equal(ids.usage.prompt_tokens, 5);

  const small = await openai.embeddings.create({ model: 'sluice-embed', input: 'hello world', dimensions: 64 });
  assert.equal(small.data[0].embedding.length, 64);
  assert.ok(Math.abs(norm(small.data[0].embedding) - 1) < 1e-5);
});

test('embeddings refusals: dimensions too large, empty input, a model that does not embed, an unknown model', async () => {
  await assert.rejects(openai.embeddings.create({ model: 'sluice-embed', input: 'x', dimensions: 300 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'dimensions' && /300/.test(e.message) && /256/.test(e.message));
  await assert.rejects(openai.embeddings.create({ model: 'sluice-embed', input: 'x', dimensions: 0 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'dimensions');
  await assert.rejects(openai.embeddings.create({ model: 'sluice-embed', input: '' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'input' && /empty/.test(e.message));
  await assert.rejects(openai.embeddings.create({ model: 'sluice-embed', input: [1, 2.5] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'input' && /token id/.test(e.message));
  await assert.rejects(openai.embeddings.create({ model: 'sluice-embed', input: Array(2049).fill('x') }),
    (e) => e instanceof OpenAI.BadRequestError && /2048/.test(e.message));
  await assert.rejects(openai.embeddings.create({ model: 'chat-only', input: 'x' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'model' && /chat-only/.test(e.message) && /embeddings/.test(e.message));
  await assert.rejects(openai.embeddings.create({ model: 'no-such-model', input: 'x' }),
    (e) => e instanceof OpenAI.NotFoundError && /no-such-model/.test(e.message));
});

test('embeddings through an OpenAI-compatible upstream: relayed with the catalog id and metered', async () => {
  const r = await openai.embeddings.create({ model: 'remote-embed', input: ['one two three', 'four'] });
  assert.equal(r.model, 'remote-embed');
  assert.equal(r.data.length, 2);
  assert.ok(Math.abs(norm(Array.from(r.data[0].embedding)) - 1) < 1e-5);
  assert.equal(r.usage.prompt_tokens, 4);
  const line = await gw.waitForLog((l) => l.event === 'completion' && l.model === 'remote-embed');
  assert.equal(line.provider, 'mock');
  assert.equal(line.input_tokens, 4);
  assert.equal(line.cost_usd, 4);
  // An upstream error keeps OpenAI's shape.
  await assert.rejects(openai.embeddings.create({ model: 'remote-embed', input: 'x mock: error=429' }),
    (e) => e instanceof OpenAI.RateLimitError);
});

// ---------------------------------------------------------------- speech

function probe(bytes, format) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-speech-'));
  const file = join(dir, `speech.${format === 'opus' ? 'ogg' : format}`);
  writeFileSync(file, bytes);
  const raw = format === 'pcm' ? ['-f', 's16le', '-ar', '24000', '-ac', '1'] : [];
  const p = spawnSync('ffprobe', ['-v', 'error', ...raw, '-show_entries',
    'stream=codec_name,sample_rate,channels:format=format_name,duration', '-of', 'json', file], { encoding: 'utf8' });
  assert.equal(p.status, 0, `ffprobe could not read the ${format} body: ${p.stderr}`);
  const info = JSON.parse(p.stdout);
  // Decoded to samples: not silence.
  const d = spawnSync('ffmpeg', ['-v', 'error', ...raw, '-i', file, '-f', 's16le', '-ac', '1', '-'], { maxBuffer: 64 << 20 });
  assert.equal(d.status, 0, `ffmpeg could not decode the ${format} body: ${d.stderr}`);
  const pcm = d.stdout;
  let sum = 0;
  for (let i = 0; i + 1 < pcm.length; i += 2) sum += pcm.readInt16LE(i) ** 2;
  const rms = Math.sqrt(sum / Math.max(1, pcm.length / 2));
  return { info, rms, file };
}

const expectedContainer = { mp3: 'mp3', opus: 'ogg', aac: 'aac', flac: 'flac', wav: 'wav', pcm: 's16le' };
const expectedType = { mp3: 'audio/mpeg', opus: 'audio/ogg', aac: 'audio/aac', flac: 'audio/flac', wav: 'audio/wav', pcm: 'audio/pcm' };

async function checkSpeech(model, format) {
  const res = await openai.audio.speech.create({ model, voice: 'alloy', input: 'Hello from the gateway. This is a test.', response_format: format });
  assert.equal(res.headers.get('content-type'), expectedType[format]);
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.ok(bytes.length > 0, `${format}: a body`);
  const { info, rms } = probe(bytes, format);
  assert.ok(info.format.format_name.split(',').includes(expectedContainer[format]), `${format}: container ${info.format.format_name}`);
  const stream = info.streams[0];
  assert.equal(stream.channels, 1, `${format}: mono`);
  assert.equal(Number(stream.sample_rate), format === 'opus' ? 48000 : 24000, `${format}: sample rate`);
  const duration = Number(info.format.duration ?? 0) || bytes.length / 48000;
  assert.ok(duration > 0, `${format}: duration > 0`);
  assert.ok(rms > 100, `${format}: not silence (rms ${rms})`);
}

for (const format of ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm']) {
  test(`audio.speech.create through an upstream: ${format} passes through, a valid file`, async () => {
    await checkSpeech('remote-tts', format);
  });
}

test('the tts kernel plugin is built when its sources are in the tree', { skip: !ttsExpected && 'kernels/tts is not in this tree' }, () => {
  assert.ok(ttsBuilt, `${ttsPlugin} is missing: build the sluice_plugin_tts target (it needs libespeak-ng-dev, libmp3lame-dev, libopus-dev, libogg-dev, libflac-dev)`);
});

for (const format of ['mp3', 'opus', 'flac', 'wav', 'pcm']) {
  test(`audio.speech.create on the tts kernel: ${format} is a valid file with speech in it`, { skip: !ttsBuilt && 'sluice_tts.so is not built' }, async () => {
    await checkSpeech('sluice-tts', format);
  });
}

test('the tts kernel refuses aac, saying which formats it has', { skip: !ttsBuilt && 'sluice_tts.so is not built' }, async () => {
  await assert.rejects(openai.audio.speech.create({ model: 'sluice-tts', voice: 'alloy', input: 'hi', response_format: 'aac' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'response_format' && /not supported by this model, use/.test(e.message));
});

test('speech refusals: voice, format, speed, stream_format sse, oversized input', async () => {
  const bad = (body, param, pattern) =>
    assert.rejects(openai.audio.speech.create({ model: 'remote-tts', voice: 'alloy', input: 'hi', ...body }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === param && pattern.test(e.message));
  await bad({ voice: 'bob' }, 'voice', /alloy/);
  await bad({ response_format: 'ogg' }, 'response_format', /mp3/);
  await bad({ speed: 5 }, 'speed', /0\.25/);
  await bad({ stream_format: 'sse' }, 'stream_format', /not supported/);
  await bad({ input: 'a'.repeat(4097) }, 'input', /4096/);
});

test('a speech body the upstream cuts part-way reaches the client broken, never as a clean end', async () => {
  const res = await openai.audio.speech.create({ model: 'remote-tts', voice: 'alloy', input: 'hi mock: cut=1', response_format: 'wav' });
  await assert.rejects(res.arrayBuffer());
});

test('speech is metered by input characters', async () => {
  const input = 'Twelve chars';
  const res = await openai.audio.speech.create({ model: 'remote-tts', voice: 'nova', input, response_format: 'pcm' });
  await res.arrayBuffer();
  const line = await gw.waitForLog((l) => l.event === 'completion' && l.model === 'remote-tts' && l.input_tokens === input.length);
  assert.equal(line.cost_usd, input.length, 'priced at price.input per million characters');
});

// ---------------------------------------------------------------- images

test('images.generate through an upstream: b64_json is a real PNG, url a link', async () => {
  const b64 = await openai.images.generate({ model: 'remote-image', prompt: 'a red square', n: 2, size: '1024x1024', response_format: 'b64_json' });
  assert.equal(b64.data.length, 2);
  const png = Buffer.from(b64.data[0].b64_json, 'base64');
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const line = await gw.waitForLog((l) => l.event === 'completion' && l.model === 'remote-image');
  assert.equal(line.output_tokens, 2, 'each image is metered');
  assert.equal(line.cost_usd, 0.08, 'at price.image');
  const url = await openai.images.generate({ model: 'remote-image', prompt: 'a red square', response_format: 'url' });
  assert.equal(url.data.length, 1);
  const fetched = await fetch(url.data[0].url);
  assert.equal(fetched.status, 200);
  assert.equal(fetched.headers.get('content-type'), 'image/png');
});

test('images refusals: size above a megapixel, n=0, output_format, oversized prompt, a kernel model', async () => {
  await assert.rejects(openai.images.generate({ model: 'remote-image', prompt: 'x', size: '1536x1024' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'size' &&
      e.error.message === 'size 1536x1024 is 1.57 megapixels; at most 1 megapixel (1048576 pixels) is served');
  await assert.rejects(openai.images.generate({ model: 'remote-image', prompt: 'x', n: 0 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'n');
  await assert.rejects(openai.images.generate({ model: 'remote-image', prompt: 'x', output_format: 'gif' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'output_format' && /png/.test(e.message));
  await assert.rejects(openai.images.generate({ model: 'remote-image', prompt: 'x'.repeat(32001) }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'prompt' && /32000/.test(e.message));
  await assert.rejects(openai.images.generate({ model: 'sluice-embed', prompt: 'x' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'model' && /images/.test(e.message));
});

// ---------------------------------------------------------------- the default config

// The default config also loads the lm and tts kernels: it starts only where they are built.
const defaultKernels = ['sluice_lm.so', 'sluice_tts.so', 'sluice_embed.so'].filter((f) => !existsSync(join(pluginDir, f)));
test('the default config serves embeddings and speech with no upstream',
  { skip: defaultKernels.length > 0 && `not built here: ${defaultKernels.join(', ')}` }, async () => {
  const g = await Gateway.start([]);
  try {
    await waitReady(g);
    const client = new OpenAI({ baseURL: `${g.base}/v1`, apiKey: 'unused', maxRetries: 0 });
    const r = await client.embeddings.create({ model: 'sluice-embed', input: 'hello' });
    assert.equal(r.data[0].embedding.length, 256);
    const speech = await client.audio.speech.create({ model: 'sluice-tts', voice: 'alloy', input: 'Hello.', response_format: 'wav' });
    const { info } = probe(Buffer.from(await speech.arrayBuffer()), 'wav');
    assert.equal(info.format.format_name, 'wav');
  } finally {
    await g.stop();
  }
});

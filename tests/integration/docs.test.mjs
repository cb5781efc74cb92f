// Every curl in docs/endpoints.md that runs against `make run` (the embedded default config) is run
// against the real binary on the embedded default, and must succeed (curl -f: a 2xx).
// Blocks that first change the config (`make run CONFIG=...`) need an upstream and are left out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway } from './harness.mjs';

const SOURCE = process.env.SLUICE_SOURCE_DIR;
const PLUGINS = process.env.SLUICE_PLUGIN_DIR;
const kernels = ['sluice_lm.so', 'sluice_embed.so', 'sluice_tts.so'];
const missing = PLUGINS ? kernels.filter((f) => !existsSync(join(PLUGINS, f))) : kernels;
const skip = missing.length > 0 && `the default config's kernels are not built here: ${missing.join(', ')}`;

/// The shell commands of each ```sh block, with backslash continuations joined.
function curlCommands(markdown) {
  const commands = [];
  for (const block of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const text = block[1];
    if (text.includes('make run CONFIG=')) continue;
    for (const line of text.replace(/\\\n\s*/g, ' ').split('\n')) {
      const cmd = line.replace(/\s+#.*$/, '').trim();
      if (cmd.startsWith('curl ') && cmd.includes('localhost:8080')) commands.push(cmd);
    }
  }
  return commands;
}

let gw;
before(async () => {
  if (skip) return;
  gw = await Gateway.start([]);
  for (let i = 0; i < 1500; i++) {
    const r = await gw.fetch('/readyz');
    if (r.status === 200) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the default gateway never became ready');
});
after(async () => { if (gw) await gw.stop(); });

test('docs/endpoints.md: every curl for the default config succeeds', { skip }, () => {
  const commands = curlCommands(readFileSync(join(SOURCE, 'docs', 'endpoints.md'), 'utf8'));
  assert.ok(commands.length >= 10, `only ${commands.length} curl commands found`);
  const cwd = mkdtempSync(join(tmpdir(), 'sluice-docs-'));
  for (const cmd of commands) {
    const run = cmd.replace(/localhost:8080/g, `127.0.0.1:${gw.port}`).replace(/^curl -s /, 'curl -sSf --max-time 60 ');
    const r = spawnSync('bash', ['-c', run], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, `${cmd}\n${r.stderr}${r.stdout.slice(0, 500)}`);
  }
});

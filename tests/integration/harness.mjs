// Starts the real sluice-gateway binary on a free loopback port and reads its JSON log lines.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

export const BIN = process.env.SLUICE_GATEWAY;
if (!BIN) throw new Error('SLUICE_GATEWAY must name the gateway binary');

/// Writes a config file in a fresh temp dir and returns its path.
export function writeConfig(text, name = 'gateway.yaml') {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-test-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/// Runs the binary to completion (for --check and failing starts).
export function runGateway(args, env = {}) {
  const r = spawnSync(BIN, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/// A running server binary (the gateway, the mock upstream): its port, its log lines so far,
/// and a way to stop it. It must log a JSON `listening` line with its port.
export class Gateway {
  static async start(args = [], env = {}, bin = BIN) {
    const g = new Gateway();
    g.proc = spawn(bin, ['--listen', '127.0.0.1:0', ...args], {
      // A folder of its own: what a config without a file writes (var/jobs.jsonl) stays out of the tree.
      cwd: mkdtempSync(join(tmpdir(), 'sluice-cwd-')),
      env: { ...process.env, SLUICE_LOG_LEVEL: 'debug', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    g.logs = [];
    g.stderr = '';
    g.exited = once(g.proc, 'exit');
    let partial = '';
    g.proc.stderr.setEncoding('utf8');
    g.proc.stderr.on('data', (chunk) => {
      g.stderr += chunk;
      partial += chunk;
      let nl;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        try { g.logs.push(JSON.parse(line)); } catch { g.logs.push({ event: 'unparsed', line }); }
      }
    });
    const listening = await g.waitForLog((l) => l.event === 'listening', 20000);
    g.port = listening.port;
    g.base = `http://127.0.0.1:${g.port}`;
    return g;
  }

  /// Resolves with the first log line matching `pred`, or rejects after `ms`.
  async waitForLog(pred, ms = 10000) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const hit = this.logs.find(pred);
      if (hit) return hit;
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no matching log line; stderr so far:\n${this.stderr}`);
  }

  fetch(path, init) { return fetch(this.base + path, init); }

  /// SIGTERM, then the exit code (or null when it had to be killed).
  async stop(signal = 'SIGTERM', ms = 10000) {
    if (this.proc.exitCode !== null) return this.proc.exitCode;
    this.proc.kill(signal);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), ms);
    const [code] = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

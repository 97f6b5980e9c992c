import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from './local-cluster.ts';
import { v8Flags } from './v8-flags.ts';

// Each way a raftbox process starts must run node with v8Flags; see v8-flags.ts for why.

const shim = fileURLToPath(new URL('../cli/raftbox.js', import.meta.url));
const packageJson = fileURLToPath(new URL('../../package.json', import.meta.url));

test('the raftbox command runs node with the flags through its shebang, and runs when executed directly', () => {
  const shebang = readFileSync(shim, 'utf8').split('\n')[0];
  assert.is(shebang, `#!/usr/bin/env -S node ${v8Flags.join(' ')}`);
  const run = spawnSync(shim, ['--help'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(run.error, undefined, `executing ${shim} failed: ${run.error?.message}`);
  assert.is(run.status, 0, run.stderr);
  assert.match(run.stdout, /^usage: raftbox COMMAND/);
});

test('npm start and npm run bench pass the flags to node', () => {
  const scripts = (JSON.parse(readFileSync(packageJson, 'utf8')) as { scripts: Record<string, string> }).scripts;
  for (const name of ['start', 'bench']) assert.ok(scripts[name]!.startsWith(`node ${v8Flags.join(' ')} `), `npm script ${name}: ${scripts[name]}`);
});

test('nodes started by LocalCluster run with the flags', async () => {
  const cluster = await LocalCluster.start({ nodes: 1 });
  try {
    const pid = cluster.member('n1').child!.pid!;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.equal(argv.slice(1, 1 + v8Flags.length), [...v8Flags]);
  } finally {
    await cluster.destroy();
  }
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from './local-cluster.ts';
import { mallocTunables, nodeProcessEnv, v8Flags } from './process-settings.ts';

// Each way a raftbox process starts must run node with v8Flags and mallocTunables; see
// process-settings.ts for why.

const shim = fileURLToPath(new URL('../cli/raftbox.js', import.meta.url));
const packageJson = fileURLToPath(new URL('../../package.json', import.meta.url));

test('the raftbox command runs node with the flags through its shebang, and runs when executed directly', () => {
  const shebang = readFileSync(shim, 'utf8').split('\n')[0];
  assert.is(shebang, `#!/usr/bin/env -S GLIBC_TUNABLES=${mallocTunables}:\${GLIBC_TUNABLES} node ${v8Flags.join(' ')}`);
  const run = spawnSync(shim, ['--help'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(run.error, undefined, `executing ${shim} failed: ${run.error?.message}`);
  assert.is(run.status, 0, run.stderr);
  assert.match(run.stdout, /^usage: raftbox COMMAND/);
});

test('npm start and npm run bench pass the flags to node', () => {
  const scripts = (JSON.parse(readFileSync(packageJson, 'utf8')) as { scripts: Record<string, string> }).scripts;
  const prefix = `GLIBC_TUNABLES=${mallocTunables}:$GLIBC_TUNABLES node ${v8Flags.join(' ')} `;
  for (const name of ['start', 'bench']) assert.ok(scripts[name]!.startsWith(prefix), `npm script ${name}: ${scripts[name]}`);
});

test('the shebang keeps a GLIBC_TUNABLES the user set, after ours', () => {
  // The shim's own first line, on a script that prints what node was given.
  const folder = mkdtempSync(join(tmpdir(), 'raftbox-shebang-'));
  try {
    const script = join(folder, 'print-tunables.cjs');
    writeFileSync(script, `${readFileSync(shim, 'utf8').split('\n')[0]}\nprocess.stdout.write(process.env.GLIBC_TUNABLES ?? '')\n`, { mode: 0o755 });
    const seen = (own: string | undefined): string => spawnSync(script, { encoding: 'utf8', env: { ...process.env, GLIBC_TUNABLES: own } }).stdout;
    assert.is(seen('glibc.malloc.hugetlb=0'), `${mallocTunables}:glibc.malloc.hugetlb=0`);
    assert.is(seen(undefined), `${mallocTunables}:`);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test('nodeProcessEnv puts the malloc setting before the user\'s, once', () => {
  assert.is(nodeProcessEnv({}).GLIBC_TUNABLES, mallocTunables);
  assert.is(nodeProcessEnv({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1' }).GLIBC_TUNABLES, `${mallocTunables}:glibc.malloc.trim_threshold=1`);
  assert.is(nodeProcessEnv({ GLIBC_TUNABLES: `${mallocTunables}:` }).GLIBC_TUNABLES, `${mallocTunables}:`);
  assert.is(nodeProcessEnv({ PATH: '/bin' }).PATH, '/bin');
});

test('nodes started by LocalCluster run with the flags and the malloc setting', async () => {
  const cluster = await LocalCluster.start({ nodes: 1 });
  try {
    const pid = cluster.member('n1').child!.pid!;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.equal(argv.slice(1, 1 + v8Flags.length), [...v8Flags]);
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    assert.ok(environ.some((entry) => entry.startsWith(`GLIBC_TUNABLES=${mallocTunables}`)), 'GLIBC_TUNABLES is not set on the node');
  } finally {
    await cluster.destroy();
  }
});

test.run();

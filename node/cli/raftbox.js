#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.hugetlb=1:${GLIBC_TUNABLES} node --initial-old-space-size=256
// The `raftbox` command. The sources are TypeScript run through tsx, so this shim
// registers tsx's loader and hands over to main.ts. The shebang sets how node runs: see
// node/host/process-settings.ts.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('./main.ts');
process.exitCode = await run(process.argv.slice(2));

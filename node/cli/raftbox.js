#!/usr/bin/env -S node --initial-old-space-size=256
// The `raftbox` command. The sources are TypeScript run through tsx, so this shim
// registers tsx's loader and hands over to main.ts.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('./main.ts');
process.exitCode = await run(process.argv.slice(2));

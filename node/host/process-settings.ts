// How every raftbox process runs node: the V8 flags and the C library's malloc setting
// below. Nodes get them from whoever spawns them (`raftbox cluster`, LocalCluster, both
// through `nodeProcessEnv`); the CLI from its shebang (node/cli/raftbox.js); `npm start`
// and `npm run bench` from their scripts in package.json. process-settings.test.ts checks
// that those places agree with this file.
//
// V8 flags. Why: blocks in flight (up to 4 MiB each, many at once) outlive two scavenges and are
// promoted, and V8 sizes a process's old-generation limit from its live heap, which is a
// few MB for a node or a client. Left alone, a process moving blocks ran a full
// mark-compact every 10-15 MB of traffic: about 90 per GiB a client downloads, a quarter
// of all the CPU a 1 GiB transfer took. An initial old generation of 64 MB cuts that to
// about 18 per GiB. Measured on a 1 GiB file (3 nodes, R=3): client user CPU per download
// 2.3 s → 1.3 s, each node's user CPU for the upload 4.2 s → 2.8 s. The heap stays small
// (14 MB at most in that run); the flag moves the first collection, not the ceiling.
//
// 64 MB still left a node syncing many small files starting a mark-compact every 0.4 s
// with 17-20 MB of live heap (V8 starts marking well before the limit when the old
// generation's headroom is small next to the traffic of promoted block buffers): 12 in
// a first sync of 10,000 files, and the concurrent marking behind them took about a
// tenth of all CPU on the machine (perf, counting the helper threads). At 256 MB the
// same sync runs none. Measured on that sync (10,000 files of 1-64 KiB, as in `npm run
// bench -- upload`; 3 nodes and the client on 2 cores; 5-8 runs each): the nodes' user
// CPU 6.6-8.3 s → 5.0-6.0 s per sync, about 20% less, and the client's about 10% less;
// peak RSS unchanged (about 200 MB per node, 290 MB for the client, with 64 or 256), as
// is the metadata benchmark. 1024 was no better.
export const v8Flags: readonly string[] = ['--initial-old-space-size=256'];

// malloc. Block buffers (up to 4 MiB each, a new one for every block received, hashed or
// read) come from glibc's malloc, which maps large ones fresh and gives them back when
// freed, so each is filled 4 KiB page by page, one page fault at a time. On this machine
// (a VM) a page fault costs about 15 µs: filling a new 1 GiB buffer took 3-4.5 s against
// 0.06 s to fill it again, and 256 fresh 4 MiB buffers 0.9-1 s against 0.12-0.27 s with
// the setting below. `glibc.malloc.hugetlb=1` (glibc 2.35+) makes malloc advise the kernel
// to back those mappings with 2 MiB pages where it can (transparent huge pages, in
// `madvise` mode by default on Debian): 512 times fewer faults. Measured with `npm run
// bench -- upload` (3 nodes, R=3, 1 GiB file), the same hour, medians of 3: download into
// memory 168 → 309 MB/s, streamed to disk 343 → 439 MB/s, first sync of 10,000 small
// files 1,464 → 1,734 files/s; upload unchanged within noise. Peak memory is unchanged
// too: each node peaked at 240-270 MB after a 1 GiB upload and read, with it or without
// (huge pages back only the large block buffers, which are counted anyway). A glibc without the tunable,
// another C library, or a kernel with transparent huge pages off ignores it. A value the
// user already set comes after ours, so the user's wins.
export const mallocTunables = 'glibc.malloc.hugetlb=1';

/** `env` with `mallocTunables` put in front of any GLIBC_TUNABLES it has: the environment to spawn a raftbox process with. */
export function nodeProcessEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const own = env.GLIBC_TUNABLES;
  if (own?.split(':').includes(mallocTunables)) return { ...env };
  return { ...env, GLIBC_TUNABLES: own ? `${mallocTunables}:${own}` : mallocTunables };
}

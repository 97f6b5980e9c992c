// The V8 flags every raftbox process runs with. Nodes get them from whoever spawns them
// (`raftbox cluster`, LocalCluster); the CLI from its shebang (node/cli/raftbox.js); `npm
// start` and `npm run bench` from their scripts in package.json. v8-flags.test.ts checks
// that those places agree with this list.
//
// Why: blocks in flight (up to 4 MiB each, many at once) outlive two scavenges and are
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

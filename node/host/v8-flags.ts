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
export const v8Flags: readonly string[] = ['--initial-old-space-size=64'];

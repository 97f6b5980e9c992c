// `npm run bench -- upload`: a 1 GiB file up and down through a 3-node cluster with R=3,
// next to the raw sequential write+sync rate of the same disk, measured in the same run.
// Goal: upload ≥ 70% of (disk rate ÷ R) and download ≥ 300 MB/s. MB is 10^6 bytes.

import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { LocalCluster } from '../node/host/local-cluster.ts';
import { connect } from '../node/sdk.ts';
import { measureDiskWriteSync } from './disk.ts';
import { median, printTable, round } from './table.ts';

export interface UploadRun {
  uploadSeconds: number;
  uploadMegabytesPerSecond: number;
  downloadSeconds: number;
  downloadMegabytesPerSecond: number;
}

export interface UploadBenchmark {
  benchmark: 'upload';
  bytes: number;
  replication: number;
  diskMegabytesPerSecond: number;
  runs: UploadRun[];
  median: { uploadMegabytesPerSecond: number; downloadMegabytesPerSecond: number };
  goals: { uploadMegabytesPerSecond: { target: number; met: boolean }; downloadMegabytesPerSecond: { target: number; met: boolean } };
}

export async function benchUpload(options: { runs: number; bytes: number }): Promise<UploadBenchmark> {
  const replication = 3;
  const cluster = await LocalCluster.start({ nodes: 3, replication });
  const runs: UploadRun[] = [];
  let diskRate = 0;
  try {
    const disk = await measureDiskWriteSync(cluster.root, { bytes: Math.min(options.bytes, 1 << 30) });
    diskRate = disk.sequential.megabytesPerSecond;
    const client = await connect({ servers: cluster.urls, device: 'bench-upload' });
    try {
      const data = new Uint8Array(options.bytes);
      for (let run = 0; run < options.runs; run++) {
        // Fresh random bytes each run, so nothing dedupes against an earlier run.
        for (let offset = 0; offset < data.length; offset += 1 << 16) randomFillSync(data, offset, Math.min(1 << 16, data.length - offset));
        const path = `bench/upload-${run}.bin`;
        const up = performance.now();
        await client.writeFile(path, data);
        const uploadSeconds = (performance.now() - up) / 1000;
        const down = performance.now();
        const file = await client.readFile(path);
        const downloadSeconds = (performance.now() - down) / 1000;
        if (!file || file.data.length !== data.length || Buffer.compare(Buffer.from(file.data.buffer, file.data.byteOffset, file.data.length), Buffer.from(data.buffer)) !== 0) {
          throw new Error(`the downloaded copy of ${path} differs from what was uploaded`);
        }
        runs.push({ uploadSeconds: round(uploadSeconds), uploadMegabytesPerSecond: round(options.bytes / 1e6 / uploadSeconds, 1), downloadSeconds: round(downloadSeconds), downloadMegabytesPerSecond: round(options.bytes / 1e6 / downloadSeconds, 1) });
      }
    } finally {
      await client.close();
    }
  } finally {
    await cluster.destroy();
  }
  const up = median(runs.map((r) => r.uploadMegabytesPerSecond));
  const down = median(runs.map((r) => r.downloadMegabytesPerSecond));
  const uploadTarget = round((0.7 * diskRate) / replication, 1);
  return {
    benchmark: 'upload',
    bytes: options.bytes,
    replication,
    diskMegabytesPerSecond: round(diskRate, 1),
    runs,
    median: { uploadMegabytesPerSecond: up, downloadMegabytesPerSecond: down },
    goals: { uploadMegabytesPerSecond: { target: uploadTarget, met: up >= uploadTarget }, downloadMegabytesPerSecond: { target: 300, met: down >= 300 } },
  };
}

export function printUpload(result: UploadBenchmark): void {
  printTable(['run', 'upload s', 'upload MB/s', 'download s', 'download MB/s'], result.runs.map((r, i) => [i + 1, r.uploadSeconds, r.uploadMegabytesPerSecond, r.downloadSeconds, r.downloadMegabytesPerSecond]));
  const g = result.goals;
  console.log(`${result.bytes / 2 ** 20} MiB at R=${result.replication}; raw disk write+sync ${result.diskMegabytesPerSecond} MB/s`);
  console.log(`median upload ${result.median.uploadMegabytesPerSecond} MB/s (goal ≥ ${g.uploadMegabytesPerSecond.target}: ${g.uploadMegabytesPerSecond.met ? 'met' : 'missed'}), download ${result.median.downloadMegabytesPerSecond} MB/s (goal ≥ 300: ${g.downloadMegabytesPerSecond.met ? 'met' : 'missed'})`);
}

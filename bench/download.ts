/**
 * Download benchmark: how fast `downloadRecording` streams a large recording over loopback compared
 * with curl, and how much memory it needs while doing so.
 *
 * Run with `npm run bench:download`. It writes a 100 MB and a 20 MB WAV-headed file to a temporary
 * directory, serves them from a separate Node process (so the server's own buffers do not count
 * against our memory figures), and prints throughput in MB/s (10^6 bytes), ratios and resident
 * memory. It asserts nothing and cleans up.
 *
 * The baseline is curl doing the same job: saving the file to the same disk, and, against our
 * default of flushing each recording to disk, saving it and then `sync`ing that file. curl
 * discarding the body and undici (our HTTP client) discarding it are printed too, as the ceiling
 * of the network path alone. Each round runs every contender once, in turn, so the load of the
 * shared machine falls on all of them alike; figures are medians over the rounds.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { createAddressPolicy } from '../core/net/address-policy.js';
import { downloadRecording } from '../activities/recordings/download.js';
import { createLocalStorage } from '../activities/recordings/storage.js';

const rounds = 7;
const megabyte = 1_000_000;

// Plain JavaScript for `node -e`: serves files from the directory given as its argument.
const serverSource = `
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const dir = process.argv[1];
const server = http.createServer((request, response) => {
  const file = path.join(dir, path.basename(request.url || '/'));
  fs.stat(file, (error, info) => {
    if (error) { response.writeHead(404); response.end(); return; }
    response.writeHead(200, { 'content-type': 'audio/wav', 'content-length': info.size });
    fs.createReadStream(file, { highWaterMark: 256 * 1024 }).pipe(response);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
process.stdin.on('end', () => server.close(() => process.exit(0)));
process.stdin.resume();
`;

function wavHeader(dataBytes: number): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(16_000, 24);
  header.writeUInt32LE(32_000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(dataBytes, 40);

  return header;
}

async function writeRecording(path: string, totalBytes: number): Promise<void> {
  const out = createWriteStream(path);
  const block = randomBytes(1024 * 1024);
  out.write(wavHeader(totalBytes - 44));
  let written = 44;
  while (written < totalBytes) {
    const piece = block.subarray(0, Math.min(block.length, totalBytes - written));
    written += piece.length;
    if (!out.write(piece)) {
      await once(out, 'drain');
    }
  }
  out.end();
  await once(out, 'close');
}

async function startFileServer(dir: string) {
  const child = spawn(process.execPath, ['-e', serverSource, dir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [firstLine] = (await once(child.stdout, 'data')) as [Buffer];
  const port = Number(firstLine.toString().trim());

  return {
    origin: `http://127.0.0.1:${port}`,
    async stop() {
      child.stdin.end();
      await once(child, 'exit');
    },
  };
}

function hasCurl(): boolean {
  return spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Times a shell command line, e.g. a curl run; `sh` starting is a millisecond or two of it. */
async function timeShell(command: string): Promise<number> {
  const started = performance.now();
  const child = spawn('sh', ['-c', command], { stdio: 'ignore' });
  const [code] = (await once(child, 'exit')) as [number];
  if (code !== 0) {
    throw new Error(`${command} exited with ${code}`);
  }

  return (performance.now() - started) / 1000;
}

type OursRound = { seconds: number; peakRssBytes: number };

async function timeOurs(
  url: string,
  storeDir: string,
  key: string,
  fsync: boolean,
): Promise<OursRound> {
  const storage = createLocalStorage(storeDir, { fsync });
  const policy = createAddressPolicy({ allowPrivateHosts: ['127.0.0.1'] });
  let peakRssBytes = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss());
  }, 10);

  const started = performance.now();
  try {
    await downloadRecording({
      url,
      storage,
      key,
      policy,
      maxBytes: 512 * 1024 * 1024,
      onProgress: () => {
        peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss());
      },
    });
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  await storage.delete(key);

  return { seconds, peakRssBytes: Math.max(peakRssBytes, process.memoryUsage.rss()) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);

  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function rate(bytes: number, seconds: number): string {
  return `${(bytes / megabyte / seconds).toFixed(0)} MB/s`;
}

/** Undici, the client `downloadRecording` uses, with the body thrown away. */
async function timeClientDiscard(url: string): Promise<number> {
  const started = performance.now();
  const response = await request(url);
  for await (const chunk of response.body) {
    void chunk;
  }

  return (performance.now() - started) / 1000;
}

function line(label: string, bytes: number, times: number[]): void {
  const rates = times.map((seconds) => rate(bytes, seconds).padStart(9)).join(' ');
  console.log(`  ${label.padEnd(38)} ${rates}   median ${rate(bytes, median(times))}`);
}

type Contender = { label: string; run(round: number): Promise<number> };

function ratio(ours: number[], baseline: number[]): string {
  return (median(baseline) / median(ours)).toFixed(2);
}

async function benchmarkFile(
  origin: string,
  name: string,
  bytes: number,
  storeDir: string,
  curl: boolean,
): Promise<void> {
  const url = `${origin}/${name}`;
  const curlFile = join(storeDir, `curl-${name}`);
  console.log(`\n${name}: ${(bytes / megabyte).toFixed(0)} MB, ${rounds} rounds`);

  const rssBefore = process.memoryUsage.rss();
  let peak = rssBefore;
  async function ours(fsync: boolean): Promise<number> {
    const result = await timeOurs(url, storeDir, `bench/${name}`, fsync);
    peak = Math.max(peak, result.peakRssBytes);

    return result.seconds;
  }
  async function curlTo(command: string): Promise<number> {
    const seconds = await timeShell(command);
    await rm(curlFile, { force: true });

    return seconds;
  }

  const contenders: Contender[] = [
    ...(curl
      ? [
          { label: 'curl -o /dev/null', run: () => curlTo(`curl -s -o /dev/null '${url}'`) },
          { label: 'curl -o file', run: () => curlTo(`curl -s -o '${curlFile}' '${url}'`) },
          {
            label: 'curl -o file && sync file',
            run: () => curlTo(`curl -s -o '${curlFile}' '${url}' && sync '${curlFile}'`),
          },
        ]
      : []),
    { label: 'undici, body discarded', run: () => timeClientDiscard(url) },
    { label: 'downloadRecording, fsync off', run: () => ours(false) },
    { label: 'downloadRecording, fsync on (default)', run: () => ours(true) },
  ];
  const times = new Map<string, number[]>(contenders.map((contender) => [contender.label, []]));
  for (let round = 0; round < rounds; round += 1) {
    for (const contender of contenders) {
      times.get(contender.label)?.push(await contender.run(round));
    }
  }
  for (const contender of contenders) {
    line(contender.label, bytes, times.get(contender.label) ?? []);
  }

  const of = (label: string) => times.get(label) ?? [];
  if (curl) {
    const off = of('downloadRecording, fsync off');
    const on = of('downloadRecording, fsync on (default)');
    console.log(
      `  ours, fsync off / curl -o file              ${ratio(off, of('curl -o file'))} (target >= 0.80)`,
    );
    console.log(
      `  ours, fsync on  / curl -o file && sync file ${ratio(on, of('curl -o file && sync file'))} (target >= 0.80)`,
    );
    console.log(
      `  ours, fsync off / curl -o /dev/null         ${ratio(off, of('curl -o /dev/null'))} (ours hashes and stores; that curl does neither)`,
    );
  }
  console.log(
    `  RSS before ours ${mib(rssBefore)}, peak during ours ${mib(peak)} (+${mib(peak - rssBefore)})`,
  );
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'closermode-bench-'));
  const served = join(dir, 'served');
  const store = join(dir, 'store');
  const curl = hasCurl();
  const files = [
    { name: 'call-20mb.wav', bytes: 20 * megabyte },
    { name: 'call-100mb.wav', bytes: 100 * megabyte },
  ];

  try {
    await mkdir(served, { recursive: true });
    await mkdir(store, { recursive: true });
    for (const file of files) {
      await writeRecording(join(served, file.name), file.bytes);
    }
    const server = await startFileServer(served);
    try {
      console.log(
        `download benchmark on node ${process.version}, ${process.platform}/${process.arch}`,
      );
      if (!curl) {
        console.log('curl not found: printing our figures only');
      }
      // One unmeasured download first, so module loading and JIT warm-up do not count as memory
      // growth of the first measured file.
      await timeOurs(`${server.origin}/${files[0]?.name ?? ''}`, store, 'bench/warm-up', false);
      for (const file of files) {
        await benchmarkFile(server.origin, file.name, file.bytes, store, curl);
      }
    } finally {
      await server.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

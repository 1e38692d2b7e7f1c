import assert from 'node:assert/strict';
import dns from 'node:dns';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AddressRefusedError,
  classifyAddress,
  createAddressPolicy,
  isPublicAddress,
} from '../../core/net/address-policy.js';
import type { ResolveAll } from '../../core/net/address-policy.js';
import { RecordingDownloadError, downloadRecording } from '../../activities/recordings/download.js';
import { createLocalStorage } from '../../activities/recordings/storage.js';
import { startServer } from './http-servers.js';
import type { TestServer } from './http-servers.js';

describe('classifyAddress', () => {
  const cases: Array<[string, boolean, string]> = [
    ['8.8.8.8', true, 'public'],
    ['1.1.1.1', true, 'public'],
    ['2606:4700::1111', true, 'public'],
    ['2a00:1450:4001:82b::200e', true, 'public'],
    ['::ffff:8.8.8.8', true, 'public'],
    ['64:ff9b::808:808', true, 'public'],
    ['127.0.0.1', false, 'loopback'],
    ['127.255.255.254', false, 'loopback'],
    ['10.1.2.3', false, 'private'],
    ['172.31.255.255', false, 'private'],
    ['192.168.0.1', false, 'private'],
    ['169.254.169.254', false, 'linkLocal'],
    ['100.100.100.100', false, 'carrierGradeNat'],
    ['0.0.0.0', false, 'unspecified'],
    ['0.1.2.3', false, 'unspecified'],
    ['255.255.255.255', false, 'broadcast'],
    ['224.0.0.251', false, 'multicast'],
    ['192.0.2.10', false, 'documentation'],
    ['198.51.100.7', false, 'documentation'],
    ['203.0.113.99', false, 'documentation'],
    ['198.19.0.1', false, 'benchmarking'],
    ['192.0.0.170', false, 'ietfProtocol'],
    ['240.0.0.1', false, 'reserved'],
    ['::', false, 'unspecified'],
    ['::1', false, 'loopback'],
    ['fe80::1', false, 'linkLocal'],
    ['fd12:3456::1', false, 'uniqueLocal'],
    ['fec0::1', false, 'siteLocal'],
    ['ff02::1', false, 'multicast'],
    ['2001:db8::1', false, 'documentation'],
    ['::ffff:127.0.0.1', false, 'loopback'],
    ['::ffff:10.0.0.1', false, 'private'],
    ['::127.0.0.1', false, 'loopback'],
    ['64:ff9b::a9fe:a9fe', false, 'linkLocal'],
    ['2002:c0a8:101::1', false, 'private'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', false, 'loopback'],
    ['not-an-ip', false, 'invalid'],
  ];

  for (const [ip, allowed, range] of cases) {
    test(`judges ${ip} as ${allowed ? 'allowed' : 'refused'} (${range})`, () => {
      const verdict = classifyAddress(ip);

      assert.equal(verdict.allowed, allowed);
      assert.equal(verdict.range, range);
      assert.equal(isPublicAddress(ip), allowed);
    });
  }

  test('names the IPv4 address an IPv6 address carries', () => {
    assert.deepEqual(classifyAddress('2002:7f00:1::').embedded, { ipv4: '127.0.0.1', via: '6to4' });
    assert.deepEqual(classifyAddress('64:ff9b::7f00:1').embedded, {
      ipv4: '127.0.0.1',
      via: 'nat64',
    });
  });
});

describe('createAddressPolicy', () => {
  test('refuses credentials in a URL rather than passing or stripping them', () => {
    const policy = createAddressPolicy();

    assert.throws(
      () => policy.checkUrl('https://user:secret@recordings.example.com/a.wav'),
      (error: unknown) =>
        error instanceof AddressRefusedError &&
        error.kind === 'credentials' &&
        /user name or password/.test(error.reason),
    );
  });

  test('lets listed private hosts, addresses and blocks through and nothing else', () => {
    const policy = createAddressPolicy({
      allowPrivateHosts: ['files.internal', '10.0.0.0/8', '::1'],
    });

    assert.equal(policy.isAllowedAddress('10.9.8.7'), true);
    assert.equal(policy.isAllowedAddress('::ffff:10.9.8.7'), true);
    assert.equal(policy.isAllowedAddress('::1'), true);
    assert.equal(policy.isAllowedAddress('192.168.1.1'), false);
    assert.equal(policy.checkUrl('http://10.1.1.1/x').hostname, '10.1.1.1');
    assert.throws(() => policy.checkUrl('http://127.0.0.1/x'), AddressRefusedError);
  });

  test('rejects an allow-list entry that is neither a name, an address nor a block', () => {
    assert.throws(
      () => createAddressPolicy({ allowPrivateHosts: ['http://x/'] }),
      /allowPrivateHosts/,
    );
  });

  test('lookup refuses a name that resolves to a forbidden address, in both callback forms', async () => {
    const resolve: ResolveAll = async () => [{ address: '10.0.0.5', family: 4 }];
    const policy = createAddressPolicy({ resolve, label: 'webhook URL' });

    for (const all of [true, false]) {
      const error = await new Promise<unknown>((done) =>
        policy.lookup('hooks.example.com', { all }, (lookupError) => done(lookupError)),
      );
      assert.ok(error instanceof AddressRefusedError);
      assert.equal(
        error.reason,
        'webhook URL host hooks.example.com resolves to 10.0.0.5, a private network address',
      );
    }
  });

  test('lookup passes public answers through in the shape the caller asked for', async () => {
    const resolve: ResolveAll = async () => [
      { address: '2606:4700::1111', family: 6 },
      { address: '1.1.1.1', family: 4 },
    ];
    const policy = createAddressPolicy({ resolve });

    const all = await new Promise<unknown>((done) =>
      policy.lookup('one.example', { all: true }, (error, addresses) => done(error ?? addresses)),
    );
    const single = await new Promise<unknown[]>((done) =>
      policy.lookup('one.example', {}, (error, address, family) => done([error, address, family])),
    );

    assert.deepEqual(all, [
      { address: '2606:4700::1111', family: 6 },
      { address: '1.1.1.1', family: 4 },
    ]);
    assert.deepEqual(single, [null, '2606:4700::1111', 6]);
  });
});

describe('hostile recording URLs', () => {
  let canary: TestServer;
  let canary6: TestServer | null = null;
  let trampoline: TestServer;
  let dir: string;
  let fetchedTrampoline = 0;

  // Names the operating system cannot be relied on to resolve; the policy's resolver hook answers
  // them, exactly as a DNS server under an attacker's control would.
  const fakeDns: Record<string, dns.LookupAddress[]> = {
    'rebind.test': [{ address: '127.0.0.1', family: 4 }],
    'mixed.test': [
      { address: '93.184.215.14', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ],
    'metadata.test': [{ address: '169.254.169.254', family: 4 }],
  };
  const resolve: ResolveAll = async (hostname, options) =>
    fakeDns[hostname] ?? dns.promises.lookup(hostname, { ...options, all: true });

  before(async () => {
    canary = await startServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'audio/wav' });
      response.end('RIFF....WAVEfmt ');
    });
    try {
      canary6 = await startServer((_request, response) => {
        response.end();
      }, '::1');
    } catch {
      canary6 = null;
    }
    trampoline = await startServer((request, response) => {
      fetchedTrampoline += 1;
      const target = new URL(request.url ?? '/', 'http://x').searchParams.get('to') ?? '/';
      response.writeHead(302, { location: target });
      response.end();
    }, '127.0.0.2');
    dir = await mkdtemp(join(tmpdir(), 'closermode-ssrf-'));
  });

  after(async () => {
    await canary.close();
    await canary6?.close();
    await trampoline.close();
    await rm(dir, { recursive: true, force: true });
  });

  function hostileCases(): Array<[string, RegExp]> {
    const p = canary.port;
    const p6 = canary6?.port ?? p;
    const via = (target: string) => `${trampoline.origin}/?to=${encodeURIComponent(target)}`;

    return [
      [`http://127.0.0.1:${p}/`, /resolves to 127\.0\.0\.1, a loopback address/],
      ['http://10.0.0.1/call.wav', /10\.0\.0\.1, a private network address/],
      ['http://172.16.0.1/call.wav', /172\.16\.0\.1, a private network address/],
      ['http://192.168.1.1/call.wav', /192\.168\.1\.1, a private network address/],
      ['http://169.254.169.254/latest/meta-data/', /a link-local address \(the cloud metadata/],
      [`http://[::1]:${p6}/`, /::1, a loopback address/],
      [`http://[::]:${p6}/`, /::, an unspecified address/],
      [`http://[::ffff:127.0.0.1]:${p}/`, /loopback address \(IPv4-mapped 127\.0\.0\.1\)/],
      [`http://[::ffff:7f00:1]:${p}/`, /loopback address \(IPv4-mapped 127\.0\.0\.1\)/],
      [`http://[::7f00:1]:${p}/`, /loopback address \(IPv4-compatible 127\.0\.0\.1\)/],
      [`http://2130706433:${p}/`, /resolves to 127\.0\.0\.1, a loopback/],
      [`http://0177.0.0.1:${p}/`, /resolves to 127\.0\.0\.1, a loopback/],
      [`http://0x7f000001:${p}/`, /resolves to 127\.0\.0\.1, a loopback/],
      [`http://0x7f.1:${p}/`, /resolves to 127\.0\.0\.1, a loopback/],
      [`http://017700000001:${p}/`, /resolves to 127\.0\.0\.1, a loopback/],
      [`http://127.1:${p}/`, /resolves to 127\.0\.0\.1, a loopback/],
      [`http://127.0.0.1.:${p}/`, /resolves to 127\.0\.0\.1, a loopback/],
      [`http://%31%32%37.0.0.1:${p}/`, /resolves to 127\.0\.0\.1, a loopback/],
      [`http://\uff11\uff12\uff17.0.0.1:${p}/`, /resolves to 127\.0\.0\.1, a loopback/],
      [`http://[::ffff:0:127.0.0.1]:${p}/`, /loopback address \(IPv4-translated 127\.0\.0\.1\)/],
      [`http://0:${p}/`, /resolves to 0\.0\.0\.0, an unspecified address/],
      [`http://localhost:${p}/`, /host localhost is a loopback name/],
      [`http://localhost.:${p}/`, /host localhost is a loopback name/],
      [`http://something.localhost:${p}/`, /host something\.localhost is a loopback name/],
      [`http://rebind.test:${p}/`, /host rebind\.test resolves to 127\.0\.0\.1, a loopback/],
      [`http://mixed.test:${p}/`, /host mixed\.test resolves to 127\.0\.0\.1/],
      ['http://metadata.test/latest/meta-data/', /169\.254\.169\.254, a link-local/],
      [via(`http://127.0.0.1:${p}/`), /resolves to 127\.0\.0\.1, a loopback/],
      [via(`http://localhost:${p}/`), /host localhost is a loopback name/],
      [via(`http://rebind.test:${p}/`), /host rebind\.test resolves to 127\.0\.0\.1/],
      [via('file:///etc/passwd'), /uses file:, only http: and https: are allowed/],
      ['file:///etc/passwd', /uses file:/],
      ['data:audio/wav;base64,UklGRiQAAABXQVZF', /uses data:/],
      [`ftp://127.0.0.1:${p}/call.wav`, /uses ftp:/],
      [`gopher://127.0.0.1:${p}/_GET%20/`, /uses gopher:/],
      [`http://user:pass@127.0.0.2:${trampoline.port}/`, /user name or password/],
      ['http://[fe80::1]/', /fe80::1, a link-local address/],
      ['http://[fc00::1]/', /fc00::1, a unique-local/],
      ['http://[fec0::1]/', /fec0::1, a site-local/],
      ['http://100.64.0.1/', /100\.64\.0\.1, a carrier-grade NAT address/],
      ['http://198.18.0.1/', /198\.18\.0\.1, a benchmarking-only address/],
      ['http://192.0.2.1/', /192\.0\.2\.1, a documentation-only address/],
      ['http://[2001:db8::1]/', /2001:db8::1, a documentation-only address/],
      ['http://224.0.0.1/', /224\.0\.0\.1, a multicast address/],
      ['http://255.255.255.255/', /a broadcast address/],
      ['http://240.0.0.1/', /240\.0\.0\.1, a reserved address/],
      ['http://192.0.0.1/', /an IETF protocol assignment address/],
      [`http://[64:ff9b::7f00:1]:${p}/`, /loopback address \(NAT64 of 127\.0\.0\.1\)/],
      [`http://[2002:7f00:1::]:${p}/`, /loopback address \(6to4 of 127\.0\.0\.1\)/],
      ['http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/', /\(Teredo of 127\.0\.0\.1\)/],
      ['not a url', /is not a valid URL/],
    ];
  }

  test('each is refused with its reason and none reaches the canary', async () => {
    const policy = createAddressPolicy({ allowPrivateHosts: ['127.0.0.2'], resolve });
    const storage = createLocalStorage(dir);
    const cases = hostileCases();
    assert.ok(cases.length >= 25);

    for (const [url, reason] of cases) {
      await assert.rejects(
        downloadRecording({ url, storage, key: 'hostile.wav', policy, connectTimeoutMs: 2000 }),
        (error: unknown) => {
          assert.ok(error instanceof RecordingDownloadError, `${url}: ${String(error)}`);
          assert.equal(error.kind, 'refused', `${url}: ${error.message}`);
          assert.equal(error.retryable, false);
          assert.match(error.message, /^recording URL /);
          assert.match(error.message, reason, url);

          return true;
        },
      );
    }

    assert.equal(canary.requests.length, 0);
    assert.equal(canary6?.requests.length ?? 0, 0);
    // The redirecting host is allowed, so the chains through it really ran up to the refused hop.
    assert.equal(fetchedTrampoline, 4);
    assert.equal(await storage.stat('hostile.wav'), null);
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name !== '.partial'),
      [],
    );
  });
});

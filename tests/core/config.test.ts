import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { ConfigError, loadConfig } from '../../core/config.js';

describe('configuration', () => {
  test('defaults apply when nothing is set', () => {
    const config = loadConfig({});

    assert.equal(config.port, 3000);
    assert.equal(config.dataDir, path.resolve('.data'));
    assert.equal(config.publicBaseUrl, 'http://localhost:3000');
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.temporalAddress, undefined);
    assert.equal(config.temporalPort, 7233);
    assert.equal(config.temporalUiPort, 8233);
    assert.equal(config.trustProxyHops, 0);
    assert.equal(config.webhookBodyLimit, '2mb');
    assert.equal(config.logLevel, 'info');
  });

  test('PUBLIC_BASE_URL defaults to the port and loses a trailing slash', () => {
    assert.equal(loadConfig({ PORT: '8080' }).publicBaseUrl, 'http://localhost:8080');
    assert.equal(loadConfig({ PUBLIC_BASE_URL: 'https://calls.example.com/' }).publicBaseUrl, 'https://calls.example.com');
  });

  test('TRUST_PROXY takes true, false or a hop count', () => {
    assert.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxyHops, 1);
    assert.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxyHops, 0);
    assert.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxyHops, 2);
  });

  test('every malformed variable is named in one error', () => {
    assert.throws(
      () => loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', TRUST_PROXY: 'maybe', LOG_LEVEL: 'loud' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        for (const name of ['PORT', 'DATABASE_URL', 'TRUST_PROXY', 'LOG_LEVEL']) {
          assert.match(error.message, new RegExp(`${name}:`));
        }

        return true;
      },
    );
  });

  test('the configuration is frozen', () => {
    const config = loadConfig({});
    assert.ok(Object.isFrozen(config));
  });
});

describe('docker-compose.yml', () => {
  const readCompose = async () =>
    parse(await readFile(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string>; ports?: string[]; command?: string[]; build?: unknown; image?: string }>;
    };

  test('it runs PostgreSQL, Temporal with its schema step, the UI, the api and the worker', async () => {
    const { services } = await readCompose();
    for (const name of ['postgres', 'temporal-schema', 'temporal', 'temporal-ui', 'api', 'worker']) {
      assert.ok(services[name], `service ${name}`);
    }
    assert.deepEqual(services.api!.command, ['api']);
    assert.deepEqual(services.worker!.command, ['worker']);
    assert.ok(services.api!.build && services.worker!.build, 'api and worker are built from the Dockerfile');
  });

  test('the api and worker environments are valid configuration and agree with each other', async () => {
    const { services } = await readCompose();
    const api = loadConfig(services.api!.environment!);
    const worker = loadConfig(services.worker!.environment!);

    assert.equal(api.databaseUrl, worker.databaseUrl);
    assert.equal(api.temporalAddress, worker.temporalAddress);
    assert.equal(api.temporalTaskQueue, worker.temporalTaskQueue);
    assert.equal(api.temporalNamespace, worker.temporalNamespace);
    assert.ok(services.api!.ports!.includes(`${api.port}:${api.port}`), 'the api port is published');
  });

  test('the Temporal and database addresses point at the compose services and their ports', async () => {
    const { services } = await readCompose();
    const api = loadConfig(services.api!.environment!);

    const temporal = new URL(`grpc://${api.temporalAddress}`);
    assert.equal(temporal.hostname, 'temporal');
    assert.ok(services.temporal!.ports!.some((port) => port.endsWith(`:${temporal.port}`)));

    const database = new URL(api.databaseUrl!);
    assert.equal(database.hostname, 'postgres');
    assert.equal(database.username, services.postgres!.environment!.POSTGRES_USER);
    assert.equal(database.password, services.postgres!.environment!.POSTGRES_PASSWORD);
    assert.equal(database.pathname, `/${services.postgres!.environment!.POSTGRES_DB}`);
    assert.ok(services.postgres!.ports!.some((port) => port.endsWith(`:${database.port}`)));

    const ui = services['temporal-ui']!;
    assert.equal(ui.environment!.TEMPORAL_ADDRESS, api.temporalAddress);
    assert.ok(ui.ports!.some((port) => port.startsWith(`${loadConfig({}).temporalUiPort}:`)));
  });

  test('every variable the compose file sets for our services is one the configuration knows', async () => {
    const { services } = await readCompose();
    const source = await readFile(new URL('../../core/config.ts', import.meta.url), 'utf8');
    for (const name of ['api', 'worker']) {
      // NODE_OPTIONS is Node's own, for the runtime rather than for us.
      const ours = Object.keys(services[name]!.environment!).filter((variable) => variable !== 'NODE_OPTIONS');
      for (const variable of ours) {
        assert.match(source, new RegExp(`\\b${variable}:`), `${name}: ${variable}`);
      }
    }
  });

  test('the api runs with a heap small enough for V8 to collect against its live size', async () => {
    const { services } = await readCompose();
    const heap = /--max-old-space-size=(\d+)/.exec(services.api!.environment!.NODE_OPTIONS ?? '');

    assert.ok(heap, 'NODE_OPTIONS sets --max-old-space-size for the api');
    assert.ok(Number(heap[1]) >= 256 && Number(heap[1]) <= 512, `${heap[1]} MiB`);
  });
});

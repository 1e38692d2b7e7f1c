/**
 * The smallest S3-compatible object store the storage tests need: path-style PUT, GET, HEAD and
 * DELETE of objects, answering the way S3 documents. It checks that requests are signed (without
 * verifying the signature) and, like S3, rejects a body whose `x-amz-checksum-sha256` does not match.
 */
import { createHash } from 'node:crypto';
import { startServer } from './http-servers.js';
import type { TestServer } from './http-servers.js';

export type FakeS3Object = {
  body: Buffer;
  contentType: string | undefined;
  /** The `x-amz-checksum-sha256` the client sent, if any. */
  checksumSha256: string | undefined;
};

export type FakeS3 = {
  server: TestServer;
  objects: Map<string, FakeS3Object>;
  close(): Promise<void>;
};

function xmlError(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}

export async function startFakeS3(): Promise<FakeS3> {
  const objects = new Map<string, FakeS3Object>();

  const server = await startServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) {
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://s3').pathname);

    if (!String(request.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
      response.writeHead(403, { 'content-type': 'application/xml' });
      response.end(xmlError('AccessDenied', 'Request is not signed'));
      return;
    }

    const object = objects.get(path);
    switch (request.method) {
      case 'PUT': {
        const declared = request.headers['x-amz-checksum-sha256'];
        const actual = createHash('sha256').update(body).digest('base64');
        if (declared !== undefined && declared !== actual) {
          response.writeHead(400, { 'content-type': 'application/xml' });
          response.end(
            xmlError(
              'BadDigest',
              'The SHA256 you specified did not match the calculated checksum.',
            ),
          );
          return;
        }
        const contentType = request.headers['content-type'];
        objects.set(path, { body, contentType, checksumSha256: declared });
        response.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"` });
        response.end();
        return;
      }
      case 'GET':
      case 'HEAD': {
        if (!object) {
          response.writeHead(404, { 'content-type': 'application/xml' });
          response.end(
            request.method === 'GET'
              ? xmlError('NoSuchKey', 'The specified key does not exist.')
              : undefined,
          );
          return;
        }
        response.writeHead(200, {
          'content-length': object.body.length,
          'content-type': object.contentType ?? 'binary/octet-stream',
        });
        response.end(request.method === 'GET' ? object.body : undefined);
        return;
      }
      case 'DELETE':
        objects.delete(path);
        response.writeHead(204);
        response.end();
        return;
      default:
        response.writeHead(405);
        response.end();
    }
  });

  return { server, objects, close: () => server.close() };
}

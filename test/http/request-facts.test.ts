import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { csrfFactsFrom } from '../../src/guard/csrf-layers.js';
import { requestFactsOf } from '../../src/http/request-facts.js';
import { parseRawHttp, rawSocket } from '../support/raw-http.js';

describe('requestFactsOf: the headers as sent, over a real socket (Node folds or drops repeats), as the CSRF layers see them', () => {
  let app: FastifyInstance;
  let port: number;
  before(async () => {
    app = Fastify({ logger: false });
    app.post('/echo', async (request) => csrfFactsFrom(requestFactsOf(request), true));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });
  after(() => app.close());

  const post = async (headers: string[]): Promise<unknown> => {
    const body = '{}';
    const request = ['POST /echo HTTP/1.1', 'Host: 127.0.0.1', 'Connection: close', `Content-Length: ${body.length}`, ...headers, '', body].join('\r\n');
    const response = parseRawHttp(await rawSocket(port, request));
    assert.equal(response.status, 200, response.body);
    return JSON.parse(response.body);
  };

  test('malicious: repeated Origin, Sec-Fetch-Site, Referer and Content-Type are all seen, not folded or dropped', async () => {
    const facts = await post([
      'Content-Type: application/json',
      'content-type: text/plain',
      'Origin: https://issuer.example.com',
      'ORIGIN: https://evil.test',
      'Sec-Fetch-Site: same-origin',
      'sec-fetch-site: cross-site',
      'Referer: https://issuer.example.com/a',
      'Referer: https://evil.test/b',
    ]);
    assert.deepEqual(facts, {
      method: 'POST',
      secFetchSite: ['same-origin', 'cross-site'],
      origin: ['https://issuer.example.com', 'https://evil.test'],
      referer: ['https://issuer.example.com/a', 'https://evil.test/b'],
      contentType: ['application/json', 'text/plain'],
      jsonEndpoint: true,
    });
  });

  test('absent headers are empty lists; a header whose name merely starts alike is not taken', async () => {
    const facts = await post(['Content-Type: application/json', 'Origin-Alt: https://evil.test', 'X-Origin: https://evil.test']);
    assert.deepEqual(facts, { method: 'POST', secFetchSite: [], origin: [], referer: [], contentType: ['application/json'], jsonEndpoint: true });
  });

  test('header names match case-insensitively, values keep their order, a repeated lookup reads the same', async () => {
    const app = Fastify({ logger: false });
    app.get('/h', async (request) => {
      const facts = requestFactsOf(request);
      return { first: facts.header('x-probe'), again: facts.header('x-probe'), none: facts.header('x-absent'), query: facts.query };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (app.server.address() as AddressInfo).port;
      const raw = ['GET /h?a=1 HTTP/1.1', 'Host: 127.0.0.1', 'Connection: close', 'X-Probe: a', 'x-pRoBe: b', '', ''].join('\r\n');
      const response = parseRawHttp(await rawSocket(port, raw));
      assert.deepEqual(JSON.parse(response.body), { first: ['a', 'b'], again: ['a', 'b'], none: [], query: 'a=1' });
    } finally {
      await app.close();
    }
  });
});

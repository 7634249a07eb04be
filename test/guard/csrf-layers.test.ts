import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CsrfError } from '../../src/errors/errors.js';
import { assertNotCrossSite, csrfRefusal, type CsrfFacts, type CsrfLayer } from '../../src/guard/csrf-layers.js';
import { trustedOrigins } from '../../src/guard/trusted-origins.js';
import { toErrorResponse } from '../../src/http/error-response.js';

const ISSUER = 'https://issuer.example.com';
const APP = 'https://app.example.com';
const trusted = trustedOrigins({ issuer: ISSUER, allowedOrigins: [APP] });

/** A cookie-authenticated JSON write as a current browser sends it from the issuer's own page. */
function facts(overrides: Partial<CsrfFacts> = {}): CsrfFacts {
  return {
    method: 'POST',
    secFetchSite: ['same-origin'],
    origin: [ISSUER],
    referer: [`${ISSUER}/account`],
    contentType: ['application/json'],
    jsonEndpoint: true,
    ...overrides,
  };
}

/** Neither Fetch Metadata nor Origin: an older browser, only Referer to go by. */
const legacy = (overrides: Partial<CsrfFacts> = {}): CsrfFacts => facts({ secFetchSite: [], origin: [], ...overrides });

function assertRefused(input: CsrfFacts, layer: CsrfLayer, reason: RegExp): void {
  const refusal = csrfRefusal(input, trusted);
  assert.ok(refusal !== undefined, `passed: ${JSON.stringify(input)}`);
  assert.equal(refusal.layer, layer, refusal.reason);
  assert.match(refusal.reason, reason);
}

describe('csrfRefusal: malicious writes are refused, each by its layer', () => {
  test('layer 1: Sec-Fetch-Site cross-site (a form or fetch from another site)', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'post'])
      assertRefused(facts({ method, secFetchSite: ['cross-site'], origin: ['https://evil.test'] }), 'fetch-metadata', /cross-site/);
  });

  test('layer 1: Sec-Fetch-Site same-site (a sibling subdomain is another application), even with a trusted Origin', () => {
    assertRefused(facts({ secFetchSite: ['same-site'], origin: [ISSUER] }), 'fetch-metadata', /same-site/);
  });

  test('layer 1: an unknown or oddly spelt Sec-Fetch-Site is not same-origin', () => {
    for (const value of ['Same-Origin', 'same-origin, none', '', 'anything'])
      assertRefused(facts({ secFetchSite: [value] }), 'fetch-metadata', /Sec-Fetch-Site is/);
  });

  test('layer 2: neither Origin nor Referer (and no Sec-Fetch-Site) is refused', () => {
    assertRefused(legacy({ referer: [] }), 'origin', /neither Origin nor Referer/);
  });

  test('layer 2: an Origin that is not trusted', () => {
    assertRefused(facts({ secFetchSite: [], origin: ['https://evil.test'] }), 'origin', /Origin "https:\/\/evil\.test" is not trusted/);
  });

  test('layer 2: Origin: null (sandboxed frame, data: URL, redirect) is refused even with a trusted Referer', () => {
    assertRefused(facts({ secFetchSite: [], origin: ['null'], referer: [`${ISSUER}/account`] }), 'origin', /"null"/);
  });

  test("layer 2: look-alikes of the issuer's origin (suffix, other port, other scheme, subdomain, path, case)", () => {
    for (const origin of [
      'https://issuer.example.com.evil.test',
      'https://issuer.example.com:8443',
      'http://issuer.example.com',
      'https://evil.issuer.example.com',
      'https://issuer.example.com/',
      'https://ISSUER.EXAMPLE.COM',
      '',
    ]) {
      assertRefused(facts({ secFetchSite: [], origin: [origin] }), 'origin', /is not trusted/);
    }
  });

  test('layer 2: a Referer from an untrusted or look-alike origin, or one that is not a URL', () => {
    assertRefused(legacy({ referer: ['https://evil.test/page'] }), 'origin', /Referer origin "https:\/\/evil\.test" is not trusted/);
    assertRefused(legacy({ referer: ['https://issuer.example.com.evil.test/account'] }), 'origin', /not trusted/);
    assertRefused(legacy({ referer: ['http://issuer.example.com/account'] }), 'origin', /not trusted/);
    assertRefused(legacy({ referer: ['/account'] }), 'origin', /not a URL/);
    assertRefused(legacy({ referer: ['data:text/html,hi'] }), 'origin', /not a URL/);
  });

  test('a repeated Sec-Fetch-Site, Origin or Referer is refused, whatever the copies say', () => {
    assertRefused(facts({ secFetchSite: ['same-origin', 'same-origin'] }), 'fetch-metadata', /repeated/);
    assertRefused(facts({ secFetchSite: ['cross-site', 'same-origin'] }), 'fetch-metadata', /repeated/);
    assertRefused(facts({ origin: [ISSUER, 'https://evil.test'] }), 'origin', /Origin is repeated/);
    assertRefused(facts({ secFetchSite: [], origin: [ISSUER, ISSUER] }), 'origin', /Origin is repeated/);
    assertRefused(legacy({ referer: [`${ISSUER}/a`, 'https://evil.test/'] }), 'origin', /Referer is repeated/);
  });

  test('layer 4: a text/plain or form body on a JSON endpoint (sendable cross-site without preflight), even same-origin', () => {
    for (const contentType of [
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonp',
      'application/json-seq',
      'text/json',
    ]) {
      assertRefused(facts({ contentType: [contentType] }), 'content-type', /is not application\/json/);
    }
    assertRefused(facts({ secFetchSite: ['none'], contentType: ['text/plain'] }), 'content-type', /text\/plain/);
    assertRefused(facts({ secFetchSite: [], contentType: ['application/x-www-form-urlencoded'] }), 'content-type', /not application\/json/);
  });

  test('layer 4: no Content-Type, or a repeated one, on a JSON endpoint', () => {
    assertRefused(facts({ contentType: [] }), 'content-type', /no Content-Type/);
    assertRefused(facts({ contentType: ['application/json', 'text/plain'] }), 'content-type', /repeated/);
  });

  test('the layers run in order: a cross-site form post is refused by fetch metadata, not content type', () => {
    assertRefused(facts({ secFetchSite: ['cross-site'], contentType: ['text/plain'] }), 'fetch-metadata', /cross-site/);
    assertRefused(facts({ secFetchSite: [], origin: ['https://evil.test'], contentType: ['text/plain'] }), 'origin', /not trusted/);
  });

  test('an attacker-sized header is shown bounded in the reason', () => {
    const refusal = csrfRefusal(facts({ secFetchSite: [], origin: [`https://${'a'.repeat(5000)}.test`] }), trusted);
    assert.ok(refusal !== undefined && refusal.reason.length < 200, refusal?.reason);
  });
});

describe('csrfRefusal: what passes', () => {
  test('Sec-Fetch-Site same-origin, and none (a navigation the user started)', () => {
    assert.equal(csrfRefusal(facts(), trusted), undefined);
    assert.equal(csrfRefusal(facts({ secFetchSite: ['none'], origin: [] }), trusted), undefined);
  });

  test('Sec-Fetch-Site decides when present: same-origin with Origin: null (a no-referrer page) passes', () => {
    assert.equal(csrfRefusal(facts({ origin: ['null'], referer: [] }), trusted), undefined);
  });

  test('without Sec-Fetch-Site: a trusted Origin (the issuer, or one from GATEHOUSE_ALLOWED_ORIGINS)', () => {
    assert.equal(csrfRefusal(facts({ secFetchSite: [], origin: [ISSUER] }), trusted), undefined);
    assert.equal(csrfRefusal(facts({ secFetchSite: [], origin: [APP], referer: [] }), trusted), undefined);
  });

  test('without Sec-Fetch-Site and Origin: the origin of a trusted Referer', () => {
    assert.equal(csrfRefusal(legacy(), trusted), undefined);
    assert.equal(csrfRefusal(legacy({ referer: [`${APP}/settings?tab=1#x`] }), trusted), undefined);
    assert.equal(csrfRefusal(legacy({ referer: ['https://issuer.example.com:443/x'] }), trusted), undefined);
  });

  test('application/json with parameters, in any case, on a JSON endpoint', () => {
    for (const contentType of ['application/json; charset=utf-8', 'Application/JSON', 'application/json ;charset=UTF-8'])
      assert.equal(csrfRefusal(facts({ contentType: [contentType] }), trusted), undefined, contentType);
  });

  test('a route that is not a JSON endpoint does not check the content type', () => {
    assert.equal(csrfRefusal(facts({ jsonEndpoint: false, contentType: ['application/x-www-form-urlencoded'] }), trusted), undefined);
    assert.equal(csrfRefusal(facts({ method: 'DELETE', jsonEndpoint: false, contentType: [] }), trusted), undefined);
  });

  test('safe methods pass whatever the headers say', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'get'])
      assert.equal(csrfRefusal(facts({ method, secFetchSite: ['cross-site'], origin: ['null', 'null'], contentType: ['text/plain'] }), trusted), undefined);
  });
});

describe('CsrfError', () => {
  test('403 ERR_CSRF with one generic detail; the log reason names the layer and what it saw', () => {
    assert.throws(
      () => assertNotCrossSite(facts({ secFetchSite: ['cross-site'] }), trusted),
      (e: unknown) => e instanceof CsrfError && e.layer === 'fetch-metadata' && e.logReason === 'csrf layer fetch-metadata: Sec-Fetch-Site is "cross-site"',
    );
    const error = new CsrfError('origin', 'Origin "https://evil.test" is not trusted');
    const response = toErrorResponse(error, 'problem', 'req-1');
    assert.equal(response.status, 403);
    assert.equal(response.contentType, 'application/problem+json');
    assert.equal(response.body.code, 'ERR_CSRF');
    assert.equal(response.body.detail, 'cross-site request refused');
    assert.ok(!JSON.stringify(response.body).includes('evil'), 'the client is not told what was seen');
    assert.doesNotThrow(() => assertNotCrossSite(facts(), trusted));
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { simpleParser } from 'mailparser';
import { configChecks } from '../../src/cli/doctor-checks.js';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors/errors.js';
import { openMailer } from '../../src/mail/open-mailer.js';
import { parseSmtpUrl } from '../../src/mail/smtp-url.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';

const DEV = { GATEHOUSE_ENV: 'development' };
const PROD = { GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'https://id.example.com' };

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env, { needs: 'database' });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('loadConfig accepted the environment');
}

describe('GATEHOUSE_SMTP_URL and GATEHOUSE_MAIL_FROM', () => {
  test('a malformed or option-carrying URL stops the start, naming the variable and never quoting the password', () => {
    const secret = 'Vq7-long-smtp-pass';
    for (const url of [
      'not a url',
      `http://u:${secret}@mail.example.com`,
      `smtp://u:${secret}@mail.example.com/path`,
      `smtp://u:${secret}@mail.example.com?tls.rejectUnauthorized=false`,
      `smtps://u:${secret}@mail.example.com?ignoreTLS=true`,
      `smtp://:${secret}@mail.example.com`,
      'smtp://user-without-password@mail.example.com',
    ]) {
      const problems = problemsOf({ ...DEV, GATEHOUSE_SMTP_URL: url });
      assert.equal(problems.length, 1, url);
      assert.match(problems[0]!, /^GATEHOUSE_SMTP_URL: /);
      assert.ok(!problems[0]!.includes(secret), problems[0]);
    }
  });

  test('production refuses a placeholder or short SMTP password; development takes it', () => {
    for (const pass of ['changeme', 'password', 'short']) {
      const problems = problemsOf({ ...PROD, GATEHOUSE_SMTP_URL: `smtps://mailer:${pass}@mail.example.com`, GATEHOUSE_MAIL_FROM: 'a@example.com' });
      assert.deepEqual(problems, ['GATEHOUSE_SMTP_URL: its password is a placeholder or shorter than 12 characters']);
    }
    assert.equal(loadConfig({ ...DEV, GATEHOUSE_SMTP_URL: 'smtp://mailer:changeme@127.0.0.1:2525' }).smtp?.auth?.pass, 'changeme');
  });

  test('production: plain smtp:// to another host requires STARTTLS; loopback and smtps:// do not need it', () => {
    assert.equal((parseSmtpUrl('smtp://relay.example.com', true) as { requireTls: boolean }).requireTls, true);
    assert.equal((parseSmtpUrl('smtp://127.0.0.1:25', true) as { requireTls: boolean }).requireTls, false);
    assert.equal((parseSmtpUrl('smtps://relay.example.com', true) as { requireTls: boolean; port: number }).requireTls, false);
    assert.equal((parseSmtpUrl('smtps://relay.example.com', true) as { port: number }).port, 465);
    assert.equal((parseSmtpUrl('smtp://relay.example.com', false) as { requireTls: boolean }).requireTls, false);
  });

  test('production with SMTP needs GATEHOUSE_MAIL_FROM; a From with a line break or a second address is refused', () => {
    assert.deepEqual(problemsOf({ ...PROD, GATEHOUSE_SMTP_URL: 'smtps://relay.example.com' }), [
      'GATEHOUSE_MAIL_FROM: required in production with GATEHOUSE_SMTP_URL (the From of every mail)',
    ]);
    for (const from of ['a@example.com\r\nBcc: victim@example.com', 'a@example.com, b@example.com', 'x@y.z, Evil <b@example.com>', 'not an address']) {
      const problems = problemsOf({ ...DEV, GATEHOUSE_MAIL_FROM: from });
      assert.equal(problems.length, 1, from);
      assert.match(problems[0]!, /^GATEHOUSE_MAIL_FROM: must be an address/);
    }
    assert.equal(loadConfig({ ...DEV, GATEHOUSE_MAIL_FROM: 'Acme Login <login@acme.example>' }).mailFrom, 'Acme Login <login@acme.example>');
  });

  test('GATEHOUSE_EMAIL_VERIFICATION=required without mail stops a production start', () => {
    assert.throws(
      () => loadConfig({ ...PROD, GATEHOUSE_SIGNING_KEYS: '/nonexistent.json', GATEHOUSE_EMAIL_VERIFICATION: 'required' }),
      (error: unknown) =>
        error instanceof ConfigError && error.problems.includes('GATEHOUSE_EMAIL_VERIFICATION: "required" needs mail; set GATEHOUSE_SMTP_URL'),
    );
  });
});

describe('mail delivery', () => {
  let sink: SmtpSink;
  before(async () => {
    sink = await startSmtpSink({ user: 'gatehouse', pass: 'sink-password-1' });
  });
  after(() => sink.close());

  test('SMTP: the message reaches a real SMTP server (authenticated), with the configured From', async () => {
    const config = loadConfig({ ...DEV, GATEHOUSE_SMTP_URL: sink.url, GATEHOUSE_MAIL_FROM: 'Gatehouse Test <noreply@gatehouse.test>' });
    const mailer = openMailer(config, () => assert.fail('SMTP never writes the outbox'));
    try {
      assert.equal(mailer.delivery, 'smtp');
      assert.ok(!mailer.description.includes('sink-password-1'), mailer.description);
      await mailer.send({ to: 'alice@example.com', subject: 'Hello', text: 'line one\nhttps://gatehouse.test/x?code=abc' });
      const [mail] = await sink.waitFor(1);
      assert.equal(mail!.envelopeFrom, 'noreply@gatehouse.test');
      assert.deepEqual(mail!.envelopeTo, ['alice@example.com']);
      assert.equal(mail!.from, '"Gatehouse Test" <noreply@gatehouse.test>');
      assert.equal(mail!.subject, 'Hello');
      assert.equal(mail!.text.trim(), 'line one\nhttps://gatehouse.test/x?code=abc');
    } finally {
      await mailer.close();
    }
  });

  test('SMTP: a server refusing the credentials makes send reject (a caller can report it)', async () => {
    const wrong = sink.url.replace('sink-password-1', 'not-the-password');
    const mailer = openMailer(loadConfig({ ...DEV, GATEHOUSE_SMTP_URL: wrong }), () => {});
    try {
      await assert.rejects(mailer.send({ to: 'a@example.com', subject: 's', text: 't' }));
    } finally {
      await mailer.close();
    }
  });
});

describe('without SMTP', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-outbox-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('development: each mail is an .eml file under the data directory (owner only); the notice names the file, not the body', async () => {
    const notices: unknown[] = [];
    const mailer = openMailer(loadConfig({ ...DEV, GATEHOUSE_DATA_DIR: dir }), (notice) => notices.push(notice));
    assert.equal(mailer.delivery, 'outbox');
    await mailer.send({ to: 'bob@example.com', subject: 'Reset', text: 'code: SECRET-CODE-123' });
    const files = readdirSync(path.join(dir, 'outbox'));
    assert.equal(files.length, 1);
    const file = path.join(dir, 'outbox', files[0]!);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const mail = await simpleParser(readFileSync(file));
    assert.equal(mail.subject, 'Reset');
    assert.equal(mail.text?.trim(), 'code: SECRET-CODE-123');
    assert.equal(notices.length, 1);
    assert.ok(!JSON.stringify(notices).includes('SECRET-CODE-123'));
    assert.deepEqual(notices[0], { file, to: 'bob@example.com', subject: 'Reset' });
  });

  test('production: mail is off, and doctor says which features that turns off', async () => {
    const config = loadConfig({ ...PROD, GATEHOUSE_DATA_DIR: dir }, { needs: 'database' });
    const mailer = openMailer(config, () => {});
    assert.equal(mailer.delivery, 'off');
    await assert.rejects(mailer.send({ to: 'a@example.com', subject: 's', text: 't' }));
    const check = configChecks(config).find((c) => c.check === 'mail');
    assert.equal(check?.status, 'warn');
    assert.match(check!.detail, /password reset, email verification and email change are off/);
  });
});

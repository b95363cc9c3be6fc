import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  configBlockFromForm,
  formDataBoundary,
  parseHeaderWithParams,
  parseMultipartFormData,
} from '../../../src/participation/index.js';
import { OrdererError } from '../../../src/errors.js';

/** A body exactly as Go's mime/multipart Writer.CreateFormFile writes it (what osnadmin sends). */
function goWriterBody(
  boundary: string,
  parts: { name: string; filename?: string; content: Buffer }[],
): Buffer {
  const chunks: Buffer[] = [];
  parts.forEach((part, i) => {
    const disposition =
      `form-data; name="${part.name}"` + (part.filename !== undefined ? `; filename="${part.filename}"` : '');
    const type = part.filename !== undefined ? 'Content-Type: application/octet-stream\r\n' : '';
    chunks.push(
      Buffer.from(
        `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`,
      ),
      part.content,
    );
  });
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

function assertBadRequest(fn: () => unknown, message: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof OrdererError, String(err));
    assert.equal(err.kind, 'bad-request');
    assert.match(err.message, message);
    return true;
  });
}

test('reads the config-block part of an osnadmin-style body, bytes exactly, including CRLF and boundary-like bytes', () => {
  const boundary = randomBytes(30).toString('hex');
  // Content that contains CRLFs, "--" and a prefix of the delimiter must come through untouched.
  const content = Buffer.concat([
    randomBytes(1000),
    Buffer.from(`\r\n--${boundary.slice(0, 20)}\r\n--\r\n`),
    randomBytes(1000),
    Buffer.from('\r\n'),
  ]);
  const body = goWriterBody(boundary, [{ name: 'config-block', filename: 'config.block', content }]);
  const got = configBlockFromForm(`multipart/form-data; boundary=${boundary}`, body);
  assert.deepEqual(got, content);
});

test('reads a body produced by an independent encoder (undici FormData, as fetch sends it)', async () => {
  const content = randomBytes(4096);
  const form = new FormData();
  form.append('config-block', new Blob([content]), 'genesis.block');
  const request = new Request('http://127.0.0.1/participation/v1/channels', { method: 'POST', body: form });
  const body = Buffer.from(await request.arrayBuffer());
  const contentType = request.headers.get('content-type')!;
  assert.match(contentType, /^multipart\/form-data; boundary=/);
  assert.deepEqual(configBlockFromForm(contentType, body), content);
});

test('a preamble and an epilogue are ignored; quoted boundaries and transport padding are accepted', () => {
  const boundary = 'simple boundary';
  const body = Buffer.from(
    'This is the preamble.\r\n--simple boundary  \r\n' +
      'Content-Disposition: form-data; name="config-block"; filename="b"\r\n\r\nBLOCK' +
      '\r\n--simple boundary--\r\nepilogue',
  );
  const parts = parseMultipartFormData(body, boundary);
  assert.equal(parts.length, 1);
  assert.equal(parts[0]!.name, 'config-block');
  assert.equal(parts[0]!.filename, 'b');
  assert.equal(parts[0]!.content.toString(), 'BLOCK');
  assert.equal(formDataBoundary('multipart/form-data; boundary="simple boundary"'), boundary);
});

test('Content-Type must be multipart/form-data with a boundary', () => {
  assertBadRequest(() => formDataBoundary(undefined), /no Content-Type.*config-block/);
  assertBadRequest(() => formDataBoundary('application/json'), /unsupported Content-Type: application\/json/);
  assertBadRequest(() => formDataBoundary('multipart/form-data'), /no boundary parameter/);
  assertBadRequest(() => formDataBoundary('multipart/form-data; boundary="unterminated'), /unterminated/);
  assertBadRequest(
    () => formDataBoundary(`multipart/form-data; boundary=${'a'.repeat(71)}`),
    /70 characters/,
  );
  assert.equal(formDataBoundary('Multipart/Form-Data; Boundary=abc;'), 'abc');
});

test('header parameters parse as Go mime.ParseMediaType does', () => {
  const parsed = parseHeaderWithParams('form-data; name="config-block"; filename="a \\"b\\".block"', 'x');
  assert.equal(parsed.type, 'form-data');
  assert.equal(parsed.params.get('name'), 'config-block');
  assert.equal(parsed.params.get('filename'), 'a "b".block');
  assertBadRequest(() => parseHeaderWithParams('form-data; name', 'x'), /without a value/);
  assertBadRequest(() => parseHeaderWithParams('form-data; name=a; name=b', 'x'), /repeats parameter name/);
});

test('refuses forms that are not exactly one config-block file part, saying what to send', () => {
  const boundary = 'b0undary';
  const type = `multipart/form-data; boundary=${boundary}`;
  const block = Buffer.from('block bytes');
  assertBadRequest(
    () =>
      configBlockFromForm(type, goWriterBody(boundary, [{ name: 'other', filename: 'x', content: block }])),
    /does not contain part config-block \(it has: other\)/,
  );
  assertBadRequest(
    () =>
      configBlockFromForm(
        type,
        goWriterBody(boundary, [
          { name: 'config-block', filename: 'x', content: block },
          { name: 'config-block', filename: 'y', content: block },
        ]),
      ),
    /too many parts \(config-block, config-block\): send exactly one file part/,
  );
  assertBadRequest(
    () =>
      configBlockFromForm(
        type,
        goWriterBody(boundary, [
          { name: 'config-block', filename: 'x', content: block },
          { name: 'comment', content: Buffer.from('hi') },
        ]),
      ),
    /too many parts/,
  );
  assertBadRequest(
    () => configBlockFromForm(type, goWriterBody(boundary, [{ name: 'config-block', content: block }])),
    /plain field, not a file/,
  );
  assertBadRequest(
    () =>
      configBlockFromForm(
        type,
        goWriterBody(boundary, [{ name: 'config-block', filename: 'x', content: Buffer.alloc(0) }]),
      ),
    /is empty/,
  );
  assertBadRequest(() => configBlockFromForm(type, Buffer.from(`--${boundary}--\r\n`)), /it has no parts/);
});

test('refuses malformed bodies: wrong boundary, truncation, missing headers', () => {
  const type = 'multipart/form-data; boundary=abc';
  const good = goWriterBody('abc', [{ name: 'config-block', filename: 'x', content: Buffer.from('data') }]);
  assertBadRequest(
    () => configBlockFromForm('multipart/form-data; boundary=zzz', good),
    /does not contain the boundary/,
  );
  assertBadRequest(
    () => configBlockFromForm(type, good.subarray(0, good.length - 10)),
    /ends before the closing boundary/,
  );
  assertBadRequest(
    () => configBlockFromForm(type, Buffer.from('--abc\r\nX-Other: 1\r\n\r\ndata\r\n--abc--')),
    /no Content-Disposition/,
  );
  assertBadRequest(
    () =>
      configBlockFromForm(
        type,
        Buffer.from('--abc\r\nContent-Disposition: attachment\r\n\r\ndata\r\n--abc--'),
      ),
    /not a form field/,
  );
  assertBadRequest(
    () =>
      configBlockFromForm(
        type,
        Buffer.from(
          '--abc\r\nContent-Disposition: form-data; name="config-block"; filename="x"\r\n' +
            'Content-Transfer-Encoding: base64\r\n\r\nZGF0YQ==\r\n--abc--',
        ),
      ),
    /Content-Transfer-Encoding base64/,
  );
  assertBadRequest(() => configBlockFromForm(type, Buffer.from('--abcX\r\n')), /not followed by CRLF/);
});

// A small, strict multipart/form-data reader (RFC 7578 / RFC 2046) for the one thing the channel
// participation API accepts: a form with a single file part named `config-block`, as Fabric's
// `osnadmin channel join` and `curl -F config-block=@file` send it. Everything else is refused
// with a message that says what was expected.
import { badRequest } from '../errors.js';

export const CONFIG_BLOCK_FORM_KEY = 'config-block';

export interface MediaType {
  /** Lower-cased type/subtype, e.g. "multipart/form-data". */
  type: string;
  /** Parameter names lower-cased; values unquoted. */
  params: Map<string, string>;
}

export interface FormPart {
  /** Header names lower-cased. */
  headers: Map<string, string>;
  name: string;
  filename: string | undefined;
  content: Buffer;
}

const tokenPattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Parses a header value of the form `value; name=token; name="quoted string"` (Content-Type,
 * Content-Disposition) as Go's mime.ParseMediaType does, without RFC 2231 continuations.
 */
export function parseHeaderWithParams(header: string, what: string): MediaType {
  let rest = header.trim();
  const semicolon = rest.indexOf(';');
  const type = (semicolon < 0 ? rest : rest.slice(0, semicolon)).trim().toLowerCase();
  if (type === '') throw badRequest(`${what} is empty`);
  rest = semicolon < 0 ? '' : rest.slice(semicolon + 1);
  const params = new Map<string, string>();
  let i = 0;
  const skipSpaces = () => {
    while (i < rest.length && (rest[i] === ' ' || rest[i] === '\t')) i++;
  };
  while (i < rest.length) {
    skipSpaces();
    if (i >= rest.length) break;
    const eq = rest.indexOf('=', i);
    if (eq < 0) throw badRequest(`${what} '${header}' has a parameter without a value`);
    const name = rest.slice(i, eq).trim().toLowerCase();
    if (!tokenPattern.test(name)) throw badRequest(`${what} '${header}' has an invalid parameter name`);
    i = eq + 1;
    skipSpaces();
    let value = '';
    if (rest[i] === '"') {
      i++;
      let closed = false;
      while (i < rest.length) {
        const c = rest[i]!;
        if (c === '\\' && i + 1 < rest.length) {
          value += rest[i + 1];
          i += 2;
        } else if (c === '"') {
          closed = true;
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) throw badRequest(`${what} '${header}' has an unterminated quoted parameter`);
    } else {
      const start = i;
      while (i < rest.length && rest[i] !== ';' && rest[i] !== ' ' && rest[i] !== '\t') i++;
      value = rest.slice(start, i);
      if (!tokenPattern.test(value)) {
        throw badRequest(`${what} '${header}' has an invalid value for parameter ${name}`);
      }
    }
    if (params.has(name)) throw badRequest(`${what} '${header}' repeats parameter ${name}`);
    params.set(name, value);
    skipSpaces();
    if (i < rest.length) {
      if (rest[i] !== ';') throw badRequest(`${what} '${header}' is malformed after parameter ${name}`);
      i++;
    }
  }
  return { type, params };
}

/** The boundary of a multipart/form-data request, or a 400 saying what Content-Type is expected. */
export function formDataBoundary(contentType: string | undefined): string {
  const expected =
    'send the config block as multipart/form-data with one file part named config-block (as `osnadmin channel join` or `curl -F config-block=@genesis.block` do)';
  if (!contentType) throw badRequest(`request has no Content-Type: ${expected}`);
  let media: MediaType;
  try {
    media = parseHeaderWithParams(contentType, 'Content-Type');
  } catch (err) {
    throw badRequest(`cannot parse Content-Type '${contentType}': ${(err as Error).message}; ${expected}`);
  }
  if (media.type !== 'multipart/form-data') {
    throw badRequest(`unsupported Content-Type: ${contentType}; ${expected}`);
  }
  const boundary = media.params.get('boundary');
  if (!boundary) throw badRequest(`Content-Type multipart/form-data has no boundary parameter; ${expected}`);
  // RFC 2046 §5.1.1: 1 to 70 characters.
  if (boundary.length > 70) throw badRequest('multipart boundary is longer than 70 characters (RFC 2046)');
  return boundary;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Splits a multipart body into its parts. Strict: the body must hold a closing delimiter, every
 * part needs a Content-Disposition of form-data with a name, and part headers must be well formed.
 * A preamble before the first delimiter and an epilogue after the last are ignored, as RFC 2046 says.
 */
export function parseMultipartFormData(body: Buffer, boundary: string): FormPart[] {
  const dashBoundary = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.concat([CRLF, dashBoundary]);
  // The first delimiter may start the body (no preceding CRLF).
  let position: number;
  if (body.subarray(0, dashBoundary.length).equals(dashBoundary)) {
    position = dashBoundary.length;
  } else {
    const found = body.indexOf(delimiter);
    if (found < 0) {
      throw badRequest(
        `multipart body does not contain the boundary '${boundary}' given in Content-Type: the body is not the form the header announces`,
      );
    }
    position = found + delimiter.length;
  }
  const parts: FormPart[] = [];
  for (;;) {
    // After a delimiter: "--" closes the form; otherwise optional whitespace then CRLF.
    if (body[position] === 0x2d && body[position + 1] === 0x2d) return parts;
    while (body[position] === 0x20 || body[position] === 0x09) position++;
    if (!body.subarray(position, position + 2).equals(CRLF)) {
      throw badRequest('malformed multipart body: a boundary line is not followed by CRLF');
    }
    position += 2;
    const next = body.indexOf(delimiter, position);
    if (next < 0) {
      throw badRequest(
        'malformed multipart body: it ends before the closing boundary (was the upload cut short?)',
      );
    }
    parts.push(parsePart(body.subarray(position, next), parts.length));
    position = next + delimiter.length;
  }
}

function parsePart(raw: Buffer, index: number): FormPart {
  let headerBlock: string;
  let content: Buffer;
  if (raw.subarray(0, 2).equals(CRLF)) {
    headerBlock = '';
    content = raw.subarray(2);
  } else {
    const end = raw.indexOf(HEADER_END);
    if (end < 0) throw badRequest(`malformed multipart body: part ${index + 1} has no end of headers`);
    headerBlock = raw.subarray(0, end).toString('latin1');
    content = raw.subarray(end + HEADER_END.length);
  }
  const headers = new Map<string, string>();
  for (const line of headerBlock === '' ? [] : headerBlock.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw badRequest(`malformed multipart body: part ${index + 1} has a bad header line`);
    const name = line.slice(0, colon).trim().toLowerCase();
    if (headers.has(name)) {
      throw badRequest(`malformed multipart body: part ${index + 1} repeats header ${name}`);
    }
    headers.set(name, line.slice(colon + 1).trim());
  }
  const disposition = headers.get('content-disposition');
  if (!disposition) {
    throw badRequest(`multipart part ${index + 1} has no Content-Disposition header`);
  }
  const parsed = parseHeaderWithParams(disposition, `Content-Disposition of part ${index + 1}`);
  const name = parsed.params.get('name');
  if (parsed.type !== 'form-data' || name === undefined) {
    throw badRequest(
      `multipart part ${index + 1} is not a form field: Content-Disposition must be form-data with a name`,
    );
  }
  const encoding = headers.get('content-transfer-encoding')?.toLowerCase();
  if (encoding && !['binary', '7bit', '8bit'].includes(encoding)) {
    throw badRequest(
      `multipart part ${name} uses Content-Transfer-Encoding ${encoding}, which is not supported: send the block as raw binary`,
    );
  }
  return { headers, name, filename: parsed.params.get('filename'), content };
}

/**
 * The bytes of the `config-block` file part: the form must hold exactly that one part, as
 * Fabric's channel participation API requires.
 */
export function configBlockFromForm(contentType: string | undefined, body: Buffer): Buffer {
  return configBlockPart(parseMultipartFormData(body, formDataBoundary(contentType)));
}

/** The content of the single `config-block` file part of a parsed form. */
export function configBlockPart(parts: FormPart[]): Buffer {
  const names = parts.map((p) => p.name);
  const block = parts.find((p) => p.name === CONFIG_BLOCK_FORM_KEY);
  if (!block) {
    throw badRequest(
      `form does not contain part ${CONFIG_BLOCK_FORM_KEY}` +
        (names.length ? ` (it has: ${names.join(', ')})` : ' (it has no parts)') +
        `: send the block as a file part named ${CONFIG_BLOCK_FORM_KEY}`,
    );
  }
  if (parts.length !== 1) {
    throw badRequest(
      `form contains too many parts (${names.join(', ')}): send exactly one file part named ${CONFIG_BLOCK_FORM_KEY}`,
    );
  }
  if (block.filename === undefined) {
    throw badRequest(
      `form part ${CONFIG_BLOCK_FORM_KEY} is a plain field, not a file: send it as a file upload (Content-Disposition with a filename, as curl -F ${CONFIG_BLOCK_FORM_KEY}=@file does)`,
    );
  }
  if (block.content.length === 0) {
    throw badRequest(`form part ${CONFIG_BLOCK_FORM_KEY} is empty: it must hold a marshalled common.Block`);
  }
  return block.content;
}

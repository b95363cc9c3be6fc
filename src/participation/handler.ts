// The channel participation REST API (Fabric's orderer/common/channelparticipation/restapi.go):
// same paths, methods, JSON field names, statuses and Allow headers, so Fabric's `osnadmin` and
// scripts written for Fabric work unchanged. Errors are {"error": "..."} and say what to do.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { common } from '../protos/index.js';
import { badRequest, errorCode, errorMessage, OrdererError, type ErrorCode } from '../errors.js';
import { readConfigBlock } from '../channelconfig/index.js';
import { blockDataHash } from '../protoutil/index.js';
import { asBuffer } from '../protos/index.js';
import type { ChannelInfo } from '../multichannel/index.js';
import type { Logger } from '../logging.js';
import {
  configBlockPart,
  CONFIG_BLOCK_FORM_KEY,
  formDataBoundary,
  parseMultipartFormData,
} from './multipart.js';
import { channelNameProblem } from './channelname.js';
import { httpStatusOf } from './status.js';

export const URL_BASE_V1 = '/participation/v1/';
export const URL_BASE_V1_CHANNELS = '/participation/v1/channels';

/** What the API needs from the registrar (implemented by multichannel's Registrar). */
export interface ChannelParticipationRegistrar {
  joinChannel(blockBytes: Buffer): Promise<ChannelInfo>;
  removeChannel(channelId: string): Promise<void>;
  channelInfo(channelId: string): ChannelInfo | undefined;
  channelIds(): string[];
  systemChannelName(): string | undefined;
}

/** Fabric's types.ChannelInfoShort. */
export interface ChannelInfoShort {
  name: string;
  url: string;
}

/** Fabric's types.ChannelList. */
export interface ChannelList {
  systemChannel: ChannelInfoShort | null;
  channels: ChannelInfoShort[] | null;
}

/** Fabric's types.ChannelInfo, field order as Go marshals it. */
export interface ChannelInfoResponse {
  name: string;
  url: string;
  consensusRelation: ChannelInfo['consensusRelation'];
  status: ChannelInfo['status'];
  height: number;
}

export interface ParticipationHandlerOptions {
  /** ChannelParticipation.Enabled: when false every request gets 503. */
  enabled: boolean;
  /** ChannelParticipation.MaxRequestBodySize in bytes. */
  maxRequestBodySize: number;
}

export interface ParticipationHandlerDeps {
  registrar: ChannelParticipationRegistrar;
  logger: Logger;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export function channelUrl(name: string): string {
  return `${URL_BASE_V1_CHANNELS}/${name}`;
}

export class ParticipationHandler {
  // Joins and removals run one at a time, as Fabric's registrar lock makes them.
  private mutations: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly options: ParticipationHandlerOptions,
    private readonly deps: ParticipationHandlerDeps,
  ) {}

  /** Serves one request; never throws (unexpected failures become 500). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    try {
      reply = await this.route(req);
    } catch (err) {
      const status = httpStatusOf(err);
      if (status >= 500) {
        this.deps.logger.error(
          { err: errorMessage(err), code: errorCode(err), method: req.method, url: req.url },
          'admin request failed',
        );
      } else {
        this.deps.logger.debug(
          { err: errorMessage(err), code: errorCode(err), method: req.method, url: req.url, status },
          'admin request refused',
        );
      }
      reply = { status, body: { error: errorMessage(err) } };
      if (err instanceof OrdererError && typeof err.details.allow === 'string') {
        reply.headers = { Allow: err.details.allow };
      }
    }
    send(res, reply);
  }

  private async route(req: IncomingMessage): Promise<Reply> {
    if (!this.options.enabled) {
      throw new OrdererError(
        'participation-disabled',
        'channel participation API is disabled: set ChannelParticipation.Enabled to true in orderer.yaml (or ORDERER_CHANNELPARTICIPATION_ENABLED=true) and restart the orderer',
      );
    }
    const method = req.method ?? 'GET';
    const path = decodedPath(req.url ?? '/');
    if (path === URL_BASE_V1_CHANNELS) {
      if (method !== 'GET' && method !== 'POST') {
        throw notAllowed(`invalid request method: ${method}`, 'GET, POST');
      }
      return notAcceptable(req) ?? (method === 'GET' ? this.listAll() : this.join(req));
    }
    if (path.startsWith(URL_BASE_V1_CHANNELS + '/')) {
      const channelId = path.slice(URL_BASE_V1_CHANNELS.length + 1);
      if (channelId !== '' && !channelId.includes('/')) {
        if (method !== 'GET' && method !== 'DELETE') {
          throw notAllowed(`invalid request method: ${method}`, 'GET, DELETE');
        }
        return notAcceptable(req) ?? (method === 'GET' ? this.listOne(channelId) : this.remove(channelId));
      }
    }
    if (path === URL_BASE_V1 && method === 'GET') {
      return { status: 302, headers: { Location: URL_BASE_V1_CHANNELS } };
    }
    throw new OrdererError(
      'not-found',
      `no such resource: ${method} ${path}; the channel participation API is at ${URL_BASE_V1_CHANNELS} (GET, POST) and ${URL_BASE_V1_CHANNELS}/{channelID} (GET, DELETE)`,
    );
  }

  private listAll(): Reply {
    const registrar = this.deps.registrar;
    const system = registrar.systemChannelName();
    const channels = registrar
      .channelIds()
      .filter((id) => id !== system)
      .map((name) => ({ name, url: channelUrl(name) }));
    const body: ChannelList = {
      systemChannel: system ? { name: system, url: channelUrl(system) } : null,
      channels: channels.length > 0 ? channels : null,
    };
    return { status: 200, body, headers: { 'Cache-Control': 'no-store' } };
  }

  private listOne(channelId: string): Reply {
    checkChannelName(channelId);
    const info = this.deps.registrar.channelInfo(channelId);
    if (!info) {
      throw new OrdererError(
        'channel-not-found',
        `channel ${channelId} does not exist on this orderer: list the channels it has with GET ${URL_BASE_V1_CHANNELS}, or join it with POST ${URL_BASE_V1_CHANNELS}`,
        { channel: channelId },
      );
    }
    return { status: 200, body: infoResponse(info), headers: { 'Cache-Control': 'no-store' } };
  }

  private async join(req: IncomingMessage): Promise<Reply> {
    // Fabric routes only multipart/form-data to the join handler; anything else is a 400 before the body is read.
    const boundary = formDataBoundary(req.headers['content-type']);
    const body = await readBody(req, this.options.maxRequestBodySize);
    const blockBytes = configBlockPart(parseMultipartFormData(body, boundary));
    const channelId = validateJoinBlock(blockBytes);
    const info = await this.serialized(async () => {
      const system = this.deps.registrar.systemChannelName();
      try {
        return await this.deps.registrar.joinChannel(blockBytes);
      } catch (err) {
        if (err instanceof OrdererError && err.kind === 'method-not-allowed') {
          // With a system channel only GET is allowed on app channels; an existing channel can also be removed.
          throw notAllowed(err.message, system ? 'GET' : 'GET, DELETE', err.errorCode, err.details);
        }
        if (err instanceof OrdererError && err.kind === 'forbidden') throw err;
        // Fabric's sendJoinError: every other failure is the join request's fault, 400 "cannot join: ...".
        const message = errorMessage(err);
        throw badRequest(
          message.startsWith('cannot join') ? message : `cannot join: ${message}`,
          {},
          { cause: err },
        );
      }
    });
    const response = infoResponse(info);
    this.deps.logger.info(
      { channel: channelId, height: info.height },
      'joined channel through the channel participation API',
    );
    return { status: 201, body: response, headers: { Location: response.url } };
  }

  private async remove(channelId: string): Promise<Reply> {
    checkChannelName(channelId);
    await this.serialized(async () => {
      const system = this.deps.registrar.systemChannelName();
      // Fabric v2.5: while a system channel exists, only the system channel itself can be removed.
      if (system && system !== channelId) {
        throw notAllowed(
          `cannot remove: the system channel ${system} exists; application channels cannot be removed while it does (remove the system channel first)`,
          'GET',
          'system-channel-exists',
          { systemChannel: system },
        );
      }
      if (!this.deps.registrar.channelInfo(channelId)) {
        throw new OrdererError(
          'channel-not-found',
          `cannot remove: channel ${channelId} does not exist on this orderer (GET ${URL_BASE_V1_CHANNELS} lists the channels it has)`,
          { channel: channelId },
        );
      }
      await this.deps.registrar.removeChannel(channelId);
    });
    this.deps.logger.info({ channel: channelId }, 'removed channel through the channel participation API');
    return { status: 204 };
  }

  private serialized<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.mutations.then(operation, operation);
    this.mutations = result.catch(() => undefined);
    return result;
  }
}

function infoResponse(info: ChannelInfo): ChannelInfoResponse {
  return {
    name: info.name,
    url: channelUrl(info.name),
    consensusRelation: info.consensusRelation,
    status: info.status,
    height: info.height,
  };
}

/** A 405: `allow` (the Allow header) says which methods the resource does take. */
function notAllowed(
  message: string,
  allow: string,
  code: ErrorCode = 'method-not-allowed',
  details: Record<string, unknown> = {},
): OrdererError {
  return new OrdererError(code, message, { ...details, allow });
}

function checkChannelName(channelId: string): void {
  const problem = channelNameProblem(channelId);
  if (problem) throw badRequest(problem);
}

/** The URL path, percent-decoded as Go's net/http does before routing. */
function decodedPath(url: string): string {
  const query = url.indexOf('?');
  const raw = query < 0 ? url : url.slice(0, query);
  // An absolute-form request target (http://host/path) routes on its path.
  const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? new URL(raw).pathname : raw;
  try {
    return decodeURIComponent(path);
  } catch {
    throw badRequest(`request path ${path} is not valid percent-encoding`);
  }
}

/** Fabric answers application/json only: a 406 reply when Accept rules it out. */
function notAcceptable(req: IncomingMessage): Reply | undefined {
  const accept = req.headers.accept;
  if (!accept) return undefined;
  const acceptable = accept
    .split(',')
    .some(
      (option) =>
        option.includes('application/json') || option.includes('application/*') || option.includes('*/*'),
    );
  if (acceptable) return undefined;
  return {
    status: 406,
    body: { error: `response Content-Type is application/json only; the request's Accept is '${accept}'` },
  };
}

/**
 * Reads the request body up to `limit` bytes. Beyond it the request is answered 413 at once and
 * the rest of the body is read and discarded, so the client sees the answer rather than a reset.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new OrdererError(
      'too-large',
      `request body is larger than ChannelParticipation.MaxRequestBodySize (${limit} bytes): the config block does not fit; raise ChannelParticipation.MaxRequestBodySize in orderer.yaml (ORDERER_CHANNELPARTICIPATION_MAXREQUESTBODYSIZE) and restart the orderer`,
    );
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => reject(badRequest(`cannot read request body: ${err.message}`)));
  });
}

/**
 * The checks Fabric's ValidateJoinBlock makes before the registrar sees the block; the registrar
 * adds its own (system channel present, channel exists, consensus type available). Returns the channel ID.
 */
export function validateJoinBlock(blockBytes: Buffer): string {
  let block: common.Block;
  try {
    block = common.Block.decode(blockBytes);
  } catch (err) {
    throw badRequest(
      `cannot unmarshal file part ${CONFIG_BLOCK_FORM_KEY} into a block: ${errorMessage(err)}; it must be a marshalled common.Block (e.g. configtxgen -outputBlock)`,
    );
  }
  const invalid = (why: string) => badRequest(`invalid join block: ${why}`);
  if (!block.header || !block.data) throw invalid('block has no header or no data');
  let contents: ReturnType<typeof readConfigBlock>;
  try {
    contents = readConfigBlock(block);
  } catch (err) {
    throw invalid(errorMessage(err));
  }
  if (!block.metadata || (block.metadata.metadata?.length ?? 0) === 0) {
    throw invalid('block does not have metadata');
  }
  const data = (block.data.data ?? []).map((d) => asBuffer(d));
  if (!asBuffer(block.header.dataHash).equals(blockDataHash(data))) {
    throw invalid('Header.DataHash is different from Hash(block.Data): the block was altered or truncated');
  }
  const groups = contents.configEnvelope.config?.channelGroup?.groups ?? {};
  // A system channel block is refused by the registrar with its own message.
  if (!groups['Consortiums'] && !groups['Application']) {
    throw invalid(
      `config of channel ${contents.channelId} has no Application group: join application channel blocks only`,
    );
  }
  const problem = channelNameProblem(contents.channelId);
  if (problem) throw invalid(problem);
  return contents.channelId;
}

/** JSON as Go's encoding/json writes it: HTML-safe escapes and a trailing newline. */
function goJson(value: unknown): string {
  return (
    JSON.stringify(value).replace(
      /[<>&\u2028\u2029]/g,
      (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'),
    ) + '\n'
  );
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) return;
  const headers: Record<string, string | number> = { ...(reply.headers ?? {}) };
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers);
    res.end();
    return;
  }
  const text = goJson(reply.body);
  headers['Content-Type'] = 'application/json';
  headers['Content-Length'] = Buffer.byteLength(text);
  res.writeHead(reply.status, headers);
  res.end(text);
}

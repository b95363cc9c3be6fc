// The gRPC listener is bound before the ledger and channels are opened (so that a port in use stops
// start-up before anything is written), and grpc-js serves as soon as it is bound. Calls that
// arrive in between wait here instead of being refused, as they would wait on Fabric's listener
// until its Serve: a client that connected early gets the same answers as one that came later. If
// start-up fails they go on at once and are answered SERVICE_UNAVAILABLE by the handlers' support,
// which has no registrar then.
import { BroadcastHandler } from '../broadcast/index.js';
import { DeliverHandler, type DeliverRequestContext } from '../deliver/index.js';
import type { Logger } from '../logging.js';

export class StartupGate {
  private settle!: () => void;
  private done = false;
  private readonly settled = new Promise<void>((resolve) => (this.settle = resolve));
  private readonly onStarted: (() => void)[] = [];

  /** Start-up succeeded: let waiting calls through and run the onStart callbacks. */
  open(): void {
    if (this.done) return;
    this.done = true;
    this.settle();
    for (const callback of this.onStarted.splice(0)) callback();
  }

  /** Start-up failed: let waiting calls through (to be refused); the onStart callbacks never run. */
  abandon(): void {
    if (this.done) return;
    this.done = true;
    this.onStarted.length = 0;
    this.settle();
  }

  get isOpen(): boolean {
    return this.done;
  }

  /** Runs `callback` when open() is called (not after abandon()). */
  onStart(callback: () => void): void {
    if (!this.done) this.onStarted.push(callback);
  }

  /** Resolves once open() or abandon() was called, or when `signal` aborts (the call went away). */
  passed(signal?: AbortSignal): Promise<void> {
    if (this.done || !signal) return this.settled;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const onAbort = () => resolve();
      signal.addEventListener('abort', onAbort, { once: true });
      void this.settled.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}

/**
 * `logger` with its info lines held until the gate opens, then written (dropped if start-up is
 * abandoned). For the gRPC server's "AtomicBroadcast server listening": operators, scripts and
 * tests take that line as "the orderer serves", which the early bind alone no longer means; held,
 * it comes after the channels and the admin server are up, as Fabric's "Beginning to serve
 * requests" does. Every other level, and info after start-up, passes straight through.
 */
export function holdInfoUntilStarted(logger: Logger, gate: StartupGate): Logger {
  const held: Parameters<Logger['info']>[] = [];
  // Inherits every other method and pino's state, so level changes (PUT /logspec) still apply.
  const holding = Object.create(logger) as Logger;
  holding.info = ((...args: Parameters<Logger['info']>) => {
    if (gate.isOpen) logger.info(...args);
    else held.push(args);
  }) as Logger['info'];
  gate.onStart(() => {
    for (const args of held.splice(0)) logger.info(...args);
  });
  return holding;
}

/** Broadcast whose messages wait for the gate before they are validated. */
export class GatedBroadcastHandler extends BroadcastHandler {
  constructor(
    deps: ConstructorParameters<typeof BroadcastHandler>[0],
    private readonly gate: StartupGate,
  ) {
    super(deps);
  }

  override async validate(raw: Buffer): ReturnType<BroadcastHandler['validate']> {
    if (!this.gate.isOpen) await this.gate.passed();
    return super.validate(raw);
  }
}

/** Deliver whose requests wait for the gate (or the client going away) before they are served. */
export class GatedDeliverHandler extends DeliverHandler {
  constructor(
    options: ConstructorParameters<typeof DeliverHandler>[0],
    deps: ConstructorParameters<typeof DeliverHandler>[1],
    private readonly gate: StartupGate,
  ) {
    super(options, deps);
  }

  override async handle(raw: Buffer, ctx: DeliverRequestContext): Promise<number> {
    if (!this.gate.isOpen) await this.gate.passed(ctx.signal);
    return super.handle(raw, ctx);
  }
}

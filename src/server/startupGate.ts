// The gRPC listener is bound before the ledger and channels are opened (so that a port in use stops
// start-up before anything is written), and grpc-js serves as soon as it is bound. Calls that
// arrive in between wait here instead of being refused, as they would wait on Fabric's listener
// until its Serve: a client that connected early gets the same answers as one that came later. If
// start-up fails they go on at once and are answered SERVICE_UNAVAILABLE by the handlers' support,
// which has no registrar then.
import { BroadcastHandler } from '../broadcast/index.js';
import { DeliverHandler, type DeliverRequestContext } from '../deliver/index.js';

export class StartupGate {
  private settle!: () => void;
  private done = false;
  private readonly settled = new Promise<void>((resolve) => (this.settle = resolve));

  /** Start-up is over, successfully or not: let waiting calls through. */
  open(): void {
    this.done = true;
    this.settle();
  }

  get isOpen(): boolean {
    return this.done;
  }

  /** Resolves once open() was called, or when `signal` aborts (the call went away). */
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

// StreamWriter: Deliver sends the next block only once the transport took enough of the previous
// ones, whatever the stream's own buffer says, and a cancelled call ends the wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { StreamWriter } from '../../../src/deliver/index.js';

/**
 * A stream like a grpc-js call whose client reads only when the test says: every write waits
 * for take(), and write() reports full once `capacity` messages are queued (grpc-js: 16).
 */
class FakeCall extends EventEmitter {
  readonly written: Buffer[] = [];
  private readonly callbacks: (() => void)[] = [];

  constructor(private readonly capacity = 16) {
    super();
  }

  write(chunk: Buffer, callback: (error?: Error | null) => void): boolean {
    this.written.push(chunk);
    this.callbacks.push(() => callback());
    return this.callbacks.length < this.capacity;
  }

  /** The transport takes the oldest queued message; 'drain' once the queue is empty. */
  take(): void {
    const callback = this.callbacks.shift();
    assert.ok(callback, 'nothing to take');
    callback();
    if (this.callbacks.length === 0) this.emit('drain');
  }

  get queued(): number {
    return this.callbacks.length;
  }
}

const KIB = 1024;
const block = (bytes: number) => Buffer.alloc(bytes, 1);

/** Whether the promise settled by the time queued callbacks and promise jobs have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

test('stream writer: a block as large as the bound is not followed by the next until it was taken', async () => {
  const call = new FakeCall();
  const writer = new StreamWriter(call, { maxPendingBytes: 64 * KIB });
  const signal = new AbortController().signal;
  const first = writer.write(block(64 * KIB), signal);
  assert.equal(await settled(first), false, 'the write waits: the stream still has room, the bound is full');
  assert.equal(call.written.length, 1);
  assert.equal(writer.pending, 64 * KIB);
  call.take();
  await first;
  assert.equal(writer.pending, 0);
  const second = writer.write(block(100 * KIB), signal);
  assert.equal(await settled(second), false, 'a block larger than the bound goes alone');
  call.take();
  await second;
  assert.equal(call.written.length, 2);
});

test('stream writer: small blocks pipeline until the bytes not taken reach the bound', async () => {
  const call = new FakeCall();
  const writer = new StreamWriter(call, { maxPendingBytes: 64 * KIB });
  const signal = new AbortController().signal;
  for (let i = 0; i < 3; i++) await writer.write(block(16 * KIB), signal);
  assert.equal(call.written.length, 3, 'three 16 KiB blocks went out without waiting');
  const fourth = writer.write(block(16 * KIB), signal);
  assert.equal(await settled(fourth), false, '64 KiB not taken: the fourth write waits');
  call.take();
  await fourth;
  assert.equal(call.queued, 3);
});

test("stream writer: waits for 'drain' when the stream's own buffer is full", async () => {
  const call = new FakeCall(2);
  const writer = new StreamWriter(call, { maxPendingBytes: 1024 * KIB });
  const signal = new AbortController().signal;
  await writer.write(block(10), signal);
  const second = writer.write(block(10), signal);
  assert.equal(await settled(second), false, 'the stream said full after two messages');
  call.take();
  assert.equal(await settled(second), false, "one taken, no 'drain' yet");
  call.take();
  await second;
});

test('stream writer: an aborted signal ends the wait of a stalled write and refuses the next', async () => {
  const call = new FakeCall();
  const writer = new StreamWriter(call, { maxPendingBytes: KIB });
  const controller = new AbortController();
  const stalled = writer.write(block(KIB), controller.signal);
  assert.equal(await settled(stalled), false);
  controller.abort(new Error('client cancelled'));
  await assert.rejects(stalled, /client cancelled/);
  await assert.rejects(writer.write(block(1), controller.signal), /client cancelled/);
  assert.equal(call.written.length, 1, 'nothing is written after the abort');
  assert.equal(call.listenerCount('drain'), 0, 'no listener is left on the stream');
});

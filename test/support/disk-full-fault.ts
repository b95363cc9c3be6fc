// A full disk on demand, for unit tests of the writers that must survive one: wraps a FileHandle
// so that, while `full` is set, a write stores part of its bytes (a torn record) and then fails
// with ENOSPC, as a real write does when the file system runs out of blocks mid-way.
import { open, type FileHandle } from 'node:fs/promises';

export function enospc(syscall = 'write'): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, ${syscall}`), {
    code: 'ENOSPC',
    errno: -28,
    syscall,
  });
}

export class DiskFullFault {
  full = false;
  failedWrites = 0;

  /** An openFile dependency whose handles obey `full`. */
  readonly openFile = async (path: string, flags: string): Promise<FileHandle> =>
    this.wrap(await open(path, flags));

  wrap(handle: FileHandle): FileHandle {
    return new Proxy(handle, {
      get: (target, property, receiver) => {
        if (property === 'writev') {
          return async (buffers: NodeJS.ArrayBufferView[], position?: number) => {
            if (!this.full) return target.writev(buffers, position);
            this.failedWrites++;
            const first = Buffer.from(buffers[0]!.buffer, buffers[0]!.byteOffset, buffers[0]!.byteLength);
            // Half the bytes land before the space runs out.
            await target.write(first.subarray(0, Math.max(1, first.length >> 1)), 0, undefined, position);
            throw enospc('writev');
          };
        }
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}

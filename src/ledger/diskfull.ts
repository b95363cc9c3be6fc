// A full disk (or an exhausted quota) is the one write failure worth retrying: space can come back,
// and the bytes a failed write left behind can be cut off because we know the last good length.
// Every other write failure (EIO, a failed fsync for another reason) stops the writer for good.
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

/** The errno code (ENOSPC or EDQUOT) when err, or an error in its cause chain, says the disk is full. */
export function diskFullCode(err: unknown): string | undefined {
  for (let current = err, depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && DISK_FULL_CODES.has(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isDiskFull(err: unknown): boolean {
  return diskFullCode(err) !== undefined;
}

// A full disk (or an exhausted quota) is the one write failure worth retrying: space can come back,
// and the bytes a failed write left behind can be cut off because we know the last good length.
// Every other write failure (EIO, a failed fsync for another reason) stops the writer for good.
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

/**
 * The errno code (ENOSPC or EDQUOT) when err, or an error in its cause chain, says the disk is
 * full. The outermost error with a code decides: a wrapper with a code of its own (a repair that
 * failed) is not retryable even when its cause was a full disk.
 */
export function diskFullCode(err: unknown): string | undefined {
  for (let current = err, depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return DISK_FULL_CODES.has(code) ? code : undefined;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isDiskFull(err: unknown): boolean {
  return diskFullCode(err) !== undefined;
}

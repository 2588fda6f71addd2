// File-system failures as messages that name the path and say what to do, instead of raw
// `EROFS: read-only file system, open '…'` errors.

/** A sentence for a failed file-system operation on `path` (`doing`: "write", "read", "create"). */
export function fsErrorMessage(err: unknown, path: string, doing: string): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return `cannot ${doing} '${path}': no such file or folder`;
    case 'ELOOP':
      return `cannot ${doing} '${path}': it is a symbolic link loop (a link that leads back to itself): fix or remove the link`;
    case 'EACCES':
    case 'EPERM':
      return `cannot ${doing} '${path}': permission denied: check its permissions, or choose another path`;
    case 'EROFS':
      return `cannot ${doing} '${path}': the file system is read-only: choose a writable folder (e.g. --out ~/mnv2-runs/NAME)`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `cannot ${doing} '${path}': the disk is full (or over quota): free some space or choose another folder; files saved before are intact`;
    case 'ENOTDIR':
      return `cannot ${doing} '${path}': a part of the path is a file, not a folder`;
    case 'EISDIR':
      return `cannot ${doing} '${path}': it is a folder, not a file`;
    default:
      return `cannot ${doing} '${path}': ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Runs `fn`, turning a file-system error into an Error with `fsErrorMessage`. */
export async function withFsErrors<T>(path: string, doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code && !(e instanceof FsError)) throw new FsError(fsErrorMessage(e, path, doing), (e as NodeJS.ErrnoException).code!);
    throw e;
  }
}

export class FsError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'FsError';
  }
}

/**
 * Errors the CLI reports: a stable code, a message that says what to do next, and the exit
 * code. Local faults (a file that cannot be read) are kept apart from remote ones. They are
 * raised below the commands too (kubeconfig loading, the JSONL and audit sinks), so they live
 * here rather than in src/cli, which only catches and prints them.
 */
export const ExitCode = { Ok: 0, Failure: 1, Usage: 2 } as const;

export class CliError extends Error {
  constructor(readonly code: `KW_ERR_${string}`, message: string, readonly exitCode: number = ExitCode.Usage) {
    super(message);
  }
}

export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory, not a file';
    default: return err.message ?? String(e);
  }
}

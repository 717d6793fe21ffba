/** Why an audit store cannot be written (pg-output.ts, pg-lease.ts): told in one line, kubewire exits. */

/** A store that cannot be used as configured: a bad URL, password, user or database name. */
export class StoreRefused extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Refusals that waiting does not cure: another process holds the replica, or its protection differs. */
export class ReplicaRefused extends StoreRefused {}

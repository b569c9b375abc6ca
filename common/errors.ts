/**
 * Named error classes shared by every component. Match on `.name`, never on message text.
 */
export class SextantError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration value is missing or wrong; `field` is its dotted path (e.g. `networks[0].subnet`). */
export class ConfigError extends SextantError {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
  }
}

/** A request body or other user input failed validation; `details` lists every bad path. */
export class ValidationError extends SextantError {
  constructor(readonly details: { path: string; errors: string[] }[]) {
    super(details.map((d) => `${d.path}: ${d.errors.join(', ')}`).join('; ') || 'invalid input');
  }
}

/** Something the process needs (a tool, a capability, a kernel feature) is not there. */
export class MissingRequirementError extends SextantError {
  constructor(readonly requirement: string, readonly hint: string) {
    super(`missing ${requirement}: ${hint}`);
  }
}

export class NotFoundError extends SextantError {}
export class ConflictError extends SextantError {}

/** A dependency the request needs is down (e.g. no ZooKeeper quorum, not the leader): HTTP 503, message names the cause. */
export class UnavailableError extends SextantError {}

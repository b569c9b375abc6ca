/**
 * The identity service's errors, in DC/OS's IAM shape: `{title, description, code}` with an HTTP
 * status. Handlers throw them; api.ts turns them into replies. Match on `.code`, never on text.
 */
import { SextantError } from '../../common/index.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

export class AcsError extends SextantError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
  ) {
    super(description);
  }

  get title(): string {
    return TITLES[this.status] ?? 'Error';
  }

  body(): { title: string; description: string; code: string } {
    return { title: this.title, description: this.description, code: this.code };
  }
}

export const invalidData = (d: string) => new AcsError(400, 'ERR_INVALID_DATA', d);
export const unknownUser = (uid: string) => new AcsError(404, 'ERR_UNKNOWN_USER_ID', `User with uid \`${uid}\` does not exist.`);
export const userExists = (uid: string) => new AcsError(409, 'ERR_USER_EXISTS', `User with uid \`${uid}\` already exists.`);
export const unknownAcl = (rid: string) => new AcsError(404, 'ERR_UNKNOWN_RESOURCE_ID', `ACL for resource \`${rid}\` does not exist.`);
export const aclExists = (rid: string) => new AcsError(409, 'ERR_ACL_ALREADY_EXISTS', `ACL for resource \`${rid}\` already exists.`);
export const badCredentials = () => new AcsError(401, 'ERR_INVALID_CREDENTIALS', 'The login credentials are wrong: no such account, wrong password or a login token that does not verify.');

/**
 * The full check of an app definition at the door: the schema and semantic checks of parseApp,
 * then address ownership of every literal-IP VIP. The same check runs on stored apps at start.
 */
import { ValidationError } from '../common/index.js';
import type { AddressBook } from './addresses.js';
import type { Limits } from './limits.js';
import { literalVips, parseApp, type App } from './marathon/app.js';

export function appAdmission(limits: Limits, addresses: AddressBook): (definition: unknown) => App {
  return (definition) => {
    const app = parseApp(definition, limits);
    const refused = literalVips(app).flatMap((v) => {
      const why = addresses.vipRefusal(v.ip);
      return why ? [{ path: v.path, errors: [`${v.ip}:${v.port}: ${why} (VIP address ownership)`] }] : [];
    });
    if (refused.length) throw new ValidationError(refused);
    return app;
  };
}

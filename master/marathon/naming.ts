/** Marathon's task naming: app `/group/app` -> task name `app.group`, task id `group_app.<uuid>`. */
import { randomUUID } from 'node:crypto';

function segments(appId: string): string[] {
  return appId.split('/').filter(Boolean);
}

export function taskName(appId: string): string {
  return segments(appId).reverse().join('.');
}

export function taskId(appId: string, uuid: string = randomUUID()): string {
  return `${segments(appId).join('_')}.${uuid}`;
}

/** The app id a task id belongs to (inverse of taskId), or undefined for a foreign id. */
export function appIdOfTask(id: string): string | undefined {
  const dot = id.indexOf('.');
  if (dot <= 0) return undefined;
  return '/' + id.slice(0, dot).split('_').join('/');
}

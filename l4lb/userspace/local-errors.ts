/** Errors that say this process (or machine) is out of sockets, not that a peer failed. */
const LOCAL = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

/** accept: a client could not be taken; connect: no socket for its backend. */
export type SocketOp = 'accept' | 'connect';

export const isLocalError = (code: string | undefined): boolean => code !== undefined && LOCAL.has(code);

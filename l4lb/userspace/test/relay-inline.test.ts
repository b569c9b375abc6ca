/**
 * The native relay with no relay thread (SEXTANT_TCP_RELAY_THREADS=0: bytes move on the event
 * loop): native-relay.test.ts and relay.test.ts again; elsewhere they run with one relay thread.
 */
process.env.SEXTANT_TCP_RELAY_THREADS = '0'; // read at the first nativeRelay() call
await import('./native-relay.test.js');
await import('./relay.test.js');

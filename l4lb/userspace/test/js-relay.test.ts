/**
 * relay.test.ts on the net.Socket relay (the path when native/tcprelay.c is not built);
 * elsewhere the suite runs on the native relay where it is built.
 */
process.env.SEXTANT_TCP_RELAY = '0'; // read at the first nativeRelay() call
await import('./relay.test.js');

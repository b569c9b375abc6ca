/**
 * A follower elected leader builds the Marathon routes again: their schemas (built per call from the
 * limits) must compile once per process, by content, and `warmMasterSchemas` (called before a
 * master contends) must leave nothing heavy for the takeover. The cached validators still validate.
 */
import t from 'tap';
import { compileSchema, createLogger, schemaCompilations } from '../../common/index.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { Master } from '../master.js';
import { appDefinitionSchema } from '../marathon/schema.js';
import { warmMasterSchemas } from '../warm.js';
import { MemoryKvStore } from '../store/memory.js';

t.test('schemas compile once per process by content; a second master start compiles none', async (t) => {
  warmMasterSchemas(DEFAULT_LIMITS);
  const afterWarm = schemaCompilations();
  warmMasterSchemas(DEFAULT_LIMITS);
  t.equal(schemaCompilations(), afterWarm, 'warming again with new schema objects of the same content compiles nothing');

  const start = async () => {
    const m = new Master({ ip: '127.0.0.1', port: 0, marathonPort: 0, workDir: '/nonexistent', store: new MemoryKvStore(), limits: DEFAULT_LIMITS, logger: createLogger('schema-warm') });
    await m.start();
    await m.stop();
  };
  await start();
  const afterFirst = schemaCompilations();
  await start();
  t.equal(schemaCompilations(), afterFirst, 'the second master (a follower taking over) compiles no schema');

  const check = compileSchema(appDefinitionSchema(DEFAULT_LIMITS));
  t.same(check.errors({ id: '/ok', cmd: 'sleep 1', instances: 1 }), [], 'a cached validator accepts a valid app');
  t.match(check.errors({ id: '/bad', cmd: 'sleep 1', instances: -1 }), [{ path: '/instances' }], 'and refuses a bad one, naming the field');
});

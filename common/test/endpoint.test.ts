import t from 'tap';
import { endpointUrl } from '../endpoint.js';

t.test('every way an operator writes an address gives the same base URL', async (t) => {
  for (const v of ['10.0.0.1', '10.0.0.1:5050', 'http://10.0.0.1:5050', 'http://10.0.0.1:5050/', ' 10.0.0.1:5050 ', 'http://10.0.0.1']) t.equal(endpointUrl(v, 5050, '--master'), 'http://10.0.0.1:5050', v);
  t.equal(endpointUrl('[fd00::1]:5051', 5050, '--agent'), 'http://[fd00::1]:5051');
  t.equal(endpointUrl('[fd00::1]', 5051, '--agent'), 'http://[fd00::1]:5051');
  t.equal(endpointUrl('master.mesos', 5050, '--master'), 'http://master.mesos:5050');
  t.equal(endpointUrl('https://m:443', 5050, '--master'), 'https://m');
});

t.test('what is not an address is an error naming the option and the value', async (t) => {
  t.throws(() => endpointUrl('http://', 5050, '--master'), /--master "http:\/\/" is not an address/);
  t.throws(() => endpointUrl('10.0.0.1:notaport', 5050, '--master'), /--master "10.0.0.1:notaport" is not an address/);
  t.throws(() => endpointUrl('10.0.0.1:5050/v1/networks', 5050, 'SEXTANT_MASTER'), /SEXTANT_MASTER .* is not an address/);
  t.throws(() => endpointUrl('ftp://10.0.0.1', 5050, '--master'), /only http and https/);
  t.throws(() => endpointUrl('', 5050, '--master'), /is not an address/);
});

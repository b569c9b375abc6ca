import t from 'tap';
import { lowerBound, upperBound } from '../sorted.js';

t.test('lowerBound and upperBound find where a key is or goes, repeated keys included', async (t) => {
  const keys = ['a', 'c', 'c', 'e'];
  const at = (i: number) => keys[i]!;
  t.same(['0', 'a', 'b', 'c', 'd', 'e', 'f'].map((k) => lowerBound(keys.length, at, k)), [0, 0, 1, 1, 3, 3, 4]);
  t.same(['0', 'a', 'b', 'c', 'd', 'e', 'f'].map((k) => upperBound(keys.length, at, k)), [0, 1, 1, 3, 3, 4, 4]);
  t.equal(lowerBound(0, at, 'a'), 0, 'an empty list');
});

// A registered network's name types its configuration: a misspelt or mistyped field does not
// compile (each line below marked @ts-expect-error fails the build the day it compiles), while a
// name known only at run time (a CLI option, a checkpoint's metadata) takes any record, checked then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, modelConfig, type ConfigOf, type GoogLeNetConfig } from '../src/models/index.js';

test('an unknown name, or an unknown or mistyped field for a registered name, is a compile error, and is refused at run time too', () => {
  // @ts-expect-error googlenet has no 'widht'
  assert.throws(() => buildModel('googlenet', { widht: 0.5 }), /model googlenet has no option 'widht'/);
  // @ts-expect-error width is a number
  assert.throws(() => modelConfig('googlenet', { width: '0.5' }), /option 'width' must be a number, got "0.5"/);
  // @ts-expect-error nasnet has no dropout
  assert.throws(() => modelConfig('nasnet', { dropout: 0.1 }), /model nasnet has no option 'dropout'/);
  // @ts-expect-error no network is called googlenet2
  assert.throws(() => buildModel('googlenet2'), /unknown model 'googlenet2' \(known: googlenet, /);
});

test("a registered name's configuration comes back with its own type; a name known at run time gets a record", () => {
  const typed: GoogLeNetConfig = modelConfig('googlenet-fixed-eps', { width: 0.5 });
  assert.deepEqual(typed, { numClasses: 100, epsQuirk: false, dropout: 0.4, width: 0.5 });
  const depth: number = modelConfig('wrn-28-10', { width: 1 }).depth;
  assert.equal(depth, 28);
  const name: string = ['googlenet'][0]!;
  const untyped: Record<string, unknown> = modelConfig(name, { width: 0.5 });
  assert.equal(untyped.width, 0.5);
  assert.throws(() => modelConfig(name, { widht: 0.5 }), /model googlenet has no option 'widht'/);
  const cells: ConfigOf<'nasnet'>['cells'] = modelConfig('nasnet').cells;
  assert.equal(cells, 6);
});

/**
 * The C text the editor hands the debugger: the member chain a hover
 * evaluates, and the names inline values look up (extension/c-source.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hoverExpression, inlineValueNames } from '../../extension/c-source';

const hover = (line: string, on: string, nth = 0): string | undefined => {
  let at = -1;
  for (let i = 0; i <= nth; i++) at = line.indexOf(on, at + 1);
  assert.ok(at >= 0, `"${on}" is not in "${line}"`);
  return hoverExpression(line, at + 1)?.text;
};

test('hover: the whole member chain up to the word under the mouse', () => {
  const line = '\tif (rq->curr->comm[0] && p->se.vruntime > 0)';
  assert.equal(hover(line, 'comm'), 'rq->curr->comm');
  assert.equal(hover(line, 'curr'), 'rq->curr');
  assert.equal(hover(line, 'rq'), 'rq');
  assert.equal(hover(line, 'vruntime'), 'p->se.vruntime');
  assert.equal(hover(line, 'se'), 'p->se');
  assert.equal(hover('  x = arr[3].value + grid[i][2].y;', 'value'), 'arr[3].value');
  assert.equal(hover('  x = arr[3].value + grid[i][2].y;', 'y'), 'grid[i][2].y');
  assert.equal(hover('  total = head -> next -> value;', 'value'), 'head->next->value');
});

test('hover: nothing on keywords, numbers, comments and strings', () => {
  assert.equal(hover('  return sizeof(struct node);', 'return'), undefined);
  assert.equal(hover('  return sizeof(struct node);', 'struct'), undefined);
  assert.equal(hover('  x = 1.5;', '5'), undefined);
  assert.equal(hover('  y = 2; // counter here', 'counter'), undefined);
  assert.equal(hover('  y = 2; /* counter */ z = counter;', 'counter'), undefined);
  assert.equal(hover('  y = 2; /* counter */ z = counter;', 'counter', 1), 'counter');
  assert.equal(hover('  printk("pid %d\\n", pid);', 'pid'), undefined);
  assert.equal(hover('  printk("pid %d\\n", pid);', 'pid', 1), 'pid');
});

test('inline values: the names on the current function\'s lines, once a line, no calls, members or keywords', () => {
  const src = [
    'static int other(int q) { return q; }',
    '',
    'int leaf(struct node *head, int depth)',
    '{',
    '\tint sum = 0; /* depth is ignored */',
    '\tfor (int i = 0; i < depth; i++)',
    '\t\tsum += head->value + i + i;',
    '\tprintk("sum %d", sum);',
    '\treturn other(sum);',
    '}',
  ];
  const names = inlineValueNames(src, 8).map((n) => `${n.line}:${n.name}`);
  assert.deepEqual(names, ['4:sum', '5:i', '5:depth', '6:sum', '6:head', '6:i', '7:sum', '8:sum']);
  const first = inlineValueNames(src, 8)[0];
  assert.equal(src[first.line].slice(first.start, first.end), 'sum');
});

test('inline values: a header line ending in a brace starts the function; block comments across lines are skipped', () => {
  const src = [
    'int x;',
    'void f(int a) {',
    '\t/* b is',
    '\t   c */ a++;',
  ];
  assert.deepEqual(inlineValueNames(src, 3).map((n) => `${n.line}:${n.name}`), ['1:a', '3:a']);
});

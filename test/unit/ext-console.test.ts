// The guest console terminal's text conversion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toTerminalText } from '../../extension/terminal-text';

test('console text: bare LF becomes CRLF, CRLF and escapes stay as sent', () => {
  assert.equal(toTerminalText('a\nb\r\n\x1b[31mred\x1b[0m\n', false), 'a\r\nb\r\n\x1b[31mred\x1b[0m\r\n');
  assert.equal(toTerminalText('\nx', true), '\nx', 'CR at the end of the previous chunk');
  assert.equal(toTerminalText('\nx', false), '\r\nx');
});

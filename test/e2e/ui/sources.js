// Where in a test kernel's source a person puts the cursor.
const fs = require('fs');

// The line a person puts the breakpoint on: the first statement of func's body in file.
function firstStatementLine(file, func) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const def = lines.findIndex((l) => new RegExp(`^\\S.*\\b${func}\\s*\\(.*\\)\\s*$`).test(l) && !l.includes('/*'));
  if (def < 0) throw new Error(`no definition of ${func} in ${file}`);
  let i = def;
  while (!/\{/.test(lines[i])) i++;
  i++;
  while (!lines[i].trim()) i++;
  return { line: i + 1, text: lines[i].trim(), end: lines.findIndex((l, k) => k > i && /^\}/.test(l)) + 1 };
}

// The line holding `/* bp:NAME */` in `file` (1-based), and the lines of the function around it.
function markerLine(file, name) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.includes(`/* bp:${name} */`));
  if (at < 0) throw new Error(`no /* bp:${name} */ line in ${file}`);
  let first = at;
  while (first > 0 && !/^\S/.test(lines[first])) first--;
  let last = at;
  while (last < lines.length - 1 && !/^\}/.test(lines[last])) last++;
  // Every line of the function, with its 1-based number: where the hover targets are looked for.
  const body = lines.slice(first, last + 1).map((text, k) => ({ line: first + k + 1, text }));
  return { line: at + 1, text: lines[at].trim(), body };
}
module.exports = { firstStatementLine, markerLine };

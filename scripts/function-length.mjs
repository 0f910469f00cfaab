#!/usr/bin/env node
// Fails when a function in src/ is longer than the limit (lines from its first to its last,
// nested functions included), and lists the longest ones.
//   node scripts/function-length.mjs [--limit 80] [--top 10]
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const limit = arg('--limit', 80);
const top = arg('--top', 10);
const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The name a function is known by: its own, its variable's or property's, else its kind. */
function nameOf(node) {
  if (node.name) return node.name.getText();
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (
    parent &&
    (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
  ) {
    return parent.name.getText();
  }
  return '(anonymous)';
}

const functions = [];
for (const file of sourceFiles(src)) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const line = (pos) => source.getLineAndCharacterOfPosition(pos).line;
      const start = line(node.getStart(source));
      functions.push({
        where: `${relative(src, file)}:${start + 1}`,
        name: nameOf(node),
        lines: line(node.end) - start + 1,
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
functions.sort((a, b) => b.lines - a.lines);
for (const f of functions.slice(0, top)) console.log(`${String(f.lines).padStart(4)}  ${f.name}  (src/${f.where})`);
const over = functions.filter((f) => f.lines > limit);
for (const f of over) console.error(`src/${f.where}: ${f.name} has ${f.lines} lines, over the limit of ${limit}`);
console.log(`${functions.length} functions, ${over.length} over ${limit} lines`);
process.exit(over.length ? 1 : 0);

#!/usr/bin/env node
// Prints the import graph of src/ between folders (the modules) and fails when it has a cycle,
// between folders or between files. Type-only imports count: they are contracts too.
//   node scripts/module-graph.mjs [--files]
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The src files a file imports or re-exports from, statically or dynamically. */
function importsOf(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const specifiers = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) specifiers.push(arg.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      specifiers.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts'));
}

/** The folder a file belongs to; files directly in src/ are their own module. */
const moduleOf = (file) => {
  const rel = relative(src, file);
  return rel.includes('/') ? rel.split('/')[0] : rel.replace(/\.ts$/, '');
};

/** Strongly connected components of more than one node, or with a self-edge (Tarjan). */
function cycles(graph) {
  let index = 0;
  const stack = [];
  const info = new Map();
  const found = [];
  const visit = (v) => {
    info.set(v, { index, low: index, onStack: true });
    index++;
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!info.has(w)) {
        visit(w);
        info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
      } else if (info.get(w).onStack) {
        info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
      }
    }
    if (info.get(v).low === info.get(v).index) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        info.get(w).onStack = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.has(v)) found.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!info.has(v)) visit(v);
  return found;
}

const files = sourceFiles(src).sort();
const fileGraph = new Map(files.map((f) => [relative(src, f), new Set(importsOf(f).map((i) => relative(src, i)))]));
const moduleGraph = new Map();
for (const f of files) {
  const from = moduleOf(f);
  if (!moduleGraph.has(from)) moduleGraph.set(from, new Set());
  for (const i of importsOf(f)) if (moduleOf(i) !== from) moduleGraph.get(from).add(moduleOf(i));
}

const showFiles = process.argv.includes('--files');
for (const [from, to] of [...(showFiles ? fileGraph : moduleGraph)].sort()) {
  console.log(`${from.padEnd(showFiles ? 28 : 12)} -> ${[...to].sort().join(', ') || '(nothing)'}`);
}
const moduleCycles = cycles(moduleGraph);
const fileCycles = cycles(fileGraph);
for (const c of moduleCycles) console.error(`cycle between modules: ${c.join(' <-> ')}`);
for (const c of fileCycles) console.error(`cycle between files: ${c.join(' <-> ')}`);
console.log(`${moduleGraph.size} modules, ${files.length} files, ${moduleCycles.length + fileCycles.length} cycles`);
process.exit(moduleCycles.length + fileCycles.length > 0 ? 1 : 0);

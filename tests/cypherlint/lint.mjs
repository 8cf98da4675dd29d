// Lint Cypher statements with Neo4j's own front end (@neo4j-cypher/language-support).
//
// stdin:  a JSON array of statements (strings).
// stdout: a JSON array, same order, of {errors: [...], warnings: [...]}, each item
//         {message, line, character} (0-based position of the diagnostic's start).
// Parameters ($x) are never declared, so "Parameter $x is not defined." is dropped.
// Statements are checked as Cypher 5 (dbschema.json sets defaultLanguage).
import fs from 'node:fs';
import { isNotParamError, lintCypherQuery } from '@neo4j-cypher/language-support';

const ERROR = 1;
const WARNING = 2;

const dbSchema = JSON.parse(
  fs.readFileSync(new URL('./dbschema.json', import.meta.url), 'utf8'),
);

function item(d) {
  return { message: d.message, line: d.range.start.line, character: d.range.start.character };
}

function lintOne(statement) {
  if (typeof statement !== 'string') {
    return { errors: [{ message: `not a string: ${JSON.stringify(statement)}`, line: 0, character: 0 }], warnings: [] };
  }
  try {
    const { diagnostics } = lintCypherQuery(statement, dbSchema, { consoleCommandsEnabled: false });
    const kept = diagnostics.filter(isNotParamError);
    return {
      errors: kept.filter((d) => d.severity === ERROR).map(item),
      warnings: kept.filter((d) => d.severity === WARNING).map(item),
    };
  } catch (err) {
    return { errors: [{ message: `linter failed: ${err && err.stack ? err.stack : err}`, line: 0, character: 0 }], warnings: [] };
  }
}

const input = fs.readFileSync(0, 'utf8');
const statements = JSON.parse(input);
if (!Array.isArray(statements)) {
  process.stderr.write('lint.mjs: stdin must be a JSON array of strings\n');
  process.exit(2);
}
process.stdout.write(JSON.stringify(statements.map(lintOne)));
process.stdout.write('\n');

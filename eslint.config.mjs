// One style and the promise checks for every source file in the tree: `npm run lint` (CI runs it);
// `npm run format` rewrites what the style rules can fix by themselves.
//
// Style: the layout the code already had, each rule measured before it was turned on. A rule the tree did not
// already follow almost everywhere is left out (`max-statements-per-line` had 303 violations,
// `no-mixed-operators` 130, `one-var-declaration-per-line` 60). No Prettier: it would re-lay out every file.
//
// Correctness: typescript-eslint's type-checked rules, for `no-floating-promises` and `no-misused-promises`
// above all. A promise that nobody awaits or catches becomes an unhandled rejection, and this library runs
// inside someone else's server, where that crashes the host app. Only a linter that sees the types knows
// which calls return a promise.
import js from '@eslint/js'
import stylistic from '@stylistic/eslint-plugin'
import { defineConfig, globalIgnores } from 'eslint/config'
import globals from 'globals'
import tseslint from 'typescript-eslint'

const ts = ['**/*.ts', '**/*.mts', '**/*.cts']
const scripts = ['**/*.js', '**/*.mjs', '**/*.cjs']
// The code marks an unused parameter, a caught error it ignores, or a placeholder with a leading `_`.
const unusedVars = ['error', { argsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', varsIgnorePattern: '^_' }]

export default defineConfig(
  globalIgnores(['dist/', 'coverage/', 'bench/results/']),
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },

  {
    files: [...ts, ...scripts],
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/semi': ['error', 'never'],
      '@stylistic/no-extra-semi': 'error',
      // A template literal without a placeholder stays allowed: the tests write raw HTTP and InfluxQL in them,
      // where both quote characters appear or `\r\n` reads better.
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
      '@stylistic/indent': ['error', 2, { SwitchCase: 1 }],
      // Strings, comments and URLs count too: every line over 140 in the tree can be wrapped. A link that
      // cannot gets an `eslint-disable-next-line` with its reason.
      '@stylistic/max-len': ['error', { code: 140, tabWidth: 2 }],
      '@stylistic/comma-dangle': ['error', 'always-multiline'],
      '@stylistic/eol-last': 'error',
      '@stylistic/no-trailing-spaces': 'error',
      '@stylistic/no-multiple-empty-lines': ['error', { max: 1, maxBOF: 0, maxEOF: 0 }],
      '@stylistic/no-tabs': 'error',
      '@stylistic/linebreak-style': ['error', 'unix'],
      // Deprecated in favour of `list-style`, which also dictates where lists break lines (over 800 violations
      // here). The plugin prints a deprecation note on each run; the rule still works.
      '@stylistic/object-curly-spacing': ['error', 'always'],
      '@stylistic/arrow-parens': ['error', 'always'],
      '@stylistic/arrow-spacing': 'error',
      '@stylistic/brace-style': ['error', '1tbs', { allowSingleLine: true }],
      '@stylistic/block-spacing': 'error',
      '@stylistic/comma-spacing': 'error',
      '@stylistic/comma-style': 'error',
      '@stylistic/key-spacing': 'error',
      '@stylistic/keyword-spacing': 'error',
      '@stylistic/space-infix-ops': 'error',
      '@stylistic/space-unary-ops': 'error',
      '@stylistic/space-before-blocks': 'error',
      '@stylistic/space-in-parens': 'error',
      // `function name(`, `function (`, `async (`: src/ and test/ have 369 named functions and no exception.
      '@stylistic/space-before-function-paren': ['error', { anonymous: 'always', named: 'never', asyncArrow: 'always' }],
      '@stylistic/computed-property-spacing': 'error',
      '@stylistic/function-call-spacing': 'error',
      '@stylistic/rest-spread-spacing': 'error',
      '@stylistic/template-curly-spacing': 'error',
      '@stylistic/semi-spacing': 'error',
      '@stylistic/no-multi-spaces': 'error',
      '@stylistic/no-whitespace-before-property': 'error',
      '@stylistic/padded-blocks': ['error', 'never'],
      '@stylistic/spaced-comment': ['error', 'always'],
      '@stylistic/dot-location': ['error', 'property'],
      '@stylistic/new-parens': 'error',
      '@stylistic/no-floating-decimal': 'error',
      '@stylistic/lines-between-class-members': ['error', 'always', { exceptAfterSingleLine: true }],
      // A binary operator ends its line; a ternary's `?` and `:` and a type union's `|` start theirs. That is
      // what the tree does: all-`before` had 53 violations, all-`after` 40.
      '@stylistic/operator-linebreak': ['error', 'after', { overrides: { '?': 'before', ':': 'before', '|': 'before', '&': 'before' } }],
      '@stylistic/generator-star-spacing': ['error', { before: false, after: true }],
      '@stylistic/yield-star-spacing': ['error', 'after'],
      '@stylistic/template-tag-spacing': 'error',
      '@stylistic/wrap-iife': ['error', 'any'],
      // `{ a: string, b: number }` on one line (116 of the 153 delimiters in one-line type literals were commas), one member
      // per line without a delimiter across lines.
      '@stylistic/member-delimiter-style': ['error', {
        multiline: { delimiter: 'none' },
        singleline: { delimiter: 'comma', requireLast: false },
      }],
      '@stylistic/type-annotation-spacing': 'error',
      '@stylistic/type-generic-spacing': 'error',
      '@stylistic/type-named-tuple-spacing': 'error',
    },
  },

  // Plain-JavaScript files (bench/*.mjs, the .cjs test helpers) have no tsconfig: ESLint's own rules, no types.
  {
    files: scripts,
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
    rules: { 'no-unused-vars': unusedVars },
  },

  {
    files: ts,
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // tsconfig.test.json covers src, test, bench, examples and scripts.
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Named although the preset has them, so a change to the preset cannot drop them.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': unusedVars,

      // Off: `xs[i]!` marks an index read the code knows to be in range, written as if `noUncheckedIndexedAccess`
      // were on. The tsconfig leaves that off (turning it on gives 286 type errors today), so the rule calls
      // each of those 227 marks unnecessary and `--fix` would strip them.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Off: objects here are closures, not classes, and code destructures their methods
      // (`const { url, close } = await listen(server)`, uvu's `test.skip`). Every one of the 79 reports was
      // such a closure; none was a class method losing its `this`.
      '@typescript-eslint/unbound-method': 'off',
      // Off: `async` without `await` is deliberate. It turns a throw into a rejected promise, which is what the
      // Sink and Publisher contracts ask for (a sink's throw must reach onError, never the app).
      '@typescript-eslint/require-await': 'off',
      // A caught value is passed on as it was caught (`catch (error) { return Promise.reject(error) }`);
      // wrapping it would change what onError receives.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // URLSearchParams prints as its query string. The preset allows it from the DOM lib, which this
      // project does not load; the Node type is declared in @types/node's 'url' module.
      '@typescript-eslint/restrict-template-expressions': ['error', {
        allow: [
          { name: ['Error', 'URL', 'URLSearchParams'], from: 'lib' },
          { name: ['URL', 'URLSearchParams'], from: 'package', package: 'url' },
        ],
      }],
    },
  },

  // The wire encoders match control characters on purpose, to escape them.
  { files: ['src/wire/**'], rules: { 'no-control-regex': 'off' } },

  // Tests parse JSON that child processes print and reach into internals on purpose. An `any` there
  // fails the assertion that reads it, which is check enough.
  {
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  // The library never writes to the console: warnings go through process.emitWarning, sink errors to onError.
  { files: ['src/**', 'test/**'], rules: { 'no-console': 'error' } },
  // Programs whose output is the console: the CLI, the examples, the benchmarks, the packed-package fixtures.
  { files: ['src/cli/**', 'examples/**', 'bench/**', 'test/package/fixtures/**'], rules: { 'no-console': 'off' } },
)

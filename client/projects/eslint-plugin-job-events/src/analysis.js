// @ts-check
/**
 * Finds hand-written pollers in one module's ESTree (TypeScript-ESTree or plain ESTree) and says,
 * for each, whether it has a timeout, a cleanup and a backoff. Purely syntactic: names are
 * resolved through the module's imports, and a call on an injected service is followed into the
 * service's own file when that file is imported by a relative path.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** @typedef {any} Node ESTree node with parent links (set by {@link linkParents}). */

/**
 * @typedef {object} Verdict
 * @property {true | false | null} ok true: present; false: missing; null: left to the caller.
 * @property {string} how What provides it, or why it is missing.
 */

/**
 * @typedef {object} Finding
 * @property {Node} node Where the poll is driven from (the interval, repeat, setInterval... call).
 * @property {string} mechanism `interval(5000)`, `repeat()`, `setInterval()`, `setTimeout() loop`...
 * @property {string} request The request it repeats, e.g. `HttpClient.get()`.
 * @property {Verdict} timeout
 * @property {Verdict} cleanup
 * @property {Verdict} backoff
 */

/**
 * @callback Parse
 * @param {string} code
 * @param {string} filename
 * @returns {Node} The program.
 */

const RXJS = new Set(['rxjs', 'rxjs/operators']);
const ANGULAR_HTTP = '@angular/common/http';
const HTTP_METHODS = new Set([
  'get',
  'post',
  'put',
  'patch',
  'delete',
  'head',
  'options',
  'request',
  'jsonp',
]);
const GLOBALS = new Set(['window', 'globalThis', 'self']);
const SKIP_KEYS = new Set([
  'parent',
  'loc',
  'range',
  'tokens',
  'comments',
  'typeAnnotation',
  'returnType',
  'typeArguments',
  'typeParameters',
  'decorators',
]);
const ATTEMPT_NAME = /attempt|tries|retries|count|elapsed|deadline|polls/i;
const MAX_DEPTH = 6;
/** Operators that see values: a throw in one is "not done yet"; one in catchError is a rethrow. */
const VALUE_OPERATORS = new Set([
  'map',
  'tap',
  'filter',
  'switchMap',
  'mergeMap',
  'concatMap',
  'exhaustMap',
  'flatMap',
]);

/**
 * Sets `parent` on every node below `root` (ESLint does so for the file it lints; files read to
 * follow an import have none).
 * @param {Node} root
 */
export function linkParents(root) {
  /** @type {Array<[Node, Node | null]>} */
  const stack = [[root, root.parent ?? null]];
  while (stack.length) {
    const [node, parent] = /** @type {[Node, Node | null]} */ (stack.pop());
    node.parent = parent;
    for (const child of children(node)) stack.push([child, node]);
  }
}

/** @param {Node} node @returns {Node[]} */
function children(node) {
  const out = [];
  for (const key of Object.keys(node)) {
    if (SKIP_KEYS.has(key)) continue;
    const value = node[key];
    if (Array.isArray(value)) {
      for (const v of value) if (v && typeof v.type === 'string') out.push(v);
    } else if (value && typeof value.type === 'string') {
      out.push(value);
    }
  }
  return out;
}

/** @param {Node} root @param {(node: Node) => void} visit */
function walk(root, visit) {
  const stack = [root];
  while (stack.length) {
    const node = stack.pop();
    visit(node);
    stack.push(...children(node));
  }
}

/** @param {Node} root @param {(node: Node) => boolean} test @returns {Node | undefined} */
function find(root, test) {
  /** @type {Node | undefined} */
  let hit;
  walk(root, (n) => {
    if (!hit && test(n)) hit = n;
  });
  return hit;
}

/** @param {Node} node @returns {string | null} `x` for `x` and `this.x`, `a.b` for `a.b`. */
function refName(node) {
  if (!node) return null;
  if (node.type === 'Identifier') return node.name;
  if (node.type === 'ThisExpression') return 'this';
  if (node.type === 'MemberExpression' && !node.computed && node.property.type === 'Identifier') {
    const base = refName(node.object);
    return base ? `${base}.${node.property.name}` : null;
  }
  if (node.type === 'TSNonNullExpression' || node.type === 'ChainExpression')
    return refName(node.expression);
  return null;
}

/** @param {Node} node @returns {string | null} */
function propName(node) {
  if (!node) return null;
  if (node.type === 'Identifier' || node.type === 'PrivateIdentifier') return node.name;
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  return null;
}

/** @param {Node} node */
function isFunction(node) {
  return (
    node &&
    (node.type === 'ArrowFunctionExpression' ||
      node.type === 'FunctionExpression' ||
      node.type === 'FunctionDeclaration')
  );
}

/** @param {Node} node @returns {Node} Skips `(x)`, `x!`, `x as T`, `x?.y` wrappers. */
function unwrap(node) {
  while (
    node &&
    [
      'TSNonNullExpression',
      'TSAsExpression',
      'TSSatisfiesExpression',
      'ChainExpression',
      'AwaitExpression',
    ].includes(node.type)
  ) {
    node = node.expression ?? node.argument;
  }
  return node;
}

/** @param {Node} node @returns {Node} The node a value flows into, above wrappers. */
function outward(node) {
  let n = node;
  while (
    n.parent &&
    [
      'TSNonNullExpression',
      'TSAsExpression',
      'TSSatisfiesExpression',
      'ChainExpression',
      'AwaitExpression',
    ].includes(n.parent.type)
  )
    n = n.parent;
  return n;
}

/** @param {Node} call @returns {string | null} The method name of `x.m(...)`. */
function calledMethod(call) {
  const callee = unwrap(call.callee);
  return callee?.type === 'MemberExpression' && !callee.computed ? propName(callee.property) : null;
}

/** @param {Node} node @param {string} method @returns {Node | null} The call `node.method(...)`, if `node` is its receiver. */
function methodCallOn(node, method) {
  const n = outward(node);
  const member = n.parent;
  if (
    member?.type !== 'MemberExpression' ||
    member.object !== n ||
    member.computed ||
    propName(member.property) !== method
  )
    return null;
  const call = outward(member).parent;
  return call?.type === 'CallExpression' && unwrap(call.callee) === member ? call : null;
}

/** @param {Node} node */
function isNumberLiteral(node) {
  return node?.type === 'Literal' && typeof node.value === 'number';
}

/**
 * One module: its imports, classes and functions, and what each of them does.
 */
class Module {
  /**
   * @param {Node} program
   * @param {string} filename
   * @param {{ parse?: Parse, code?: string }} options
   * @param {Map<string, { mtimeMs: number, mod: Module | null }>} cache
   */
  constructor(program, filename, options, cache) {
    this.program = program;
    this.filename = filename;
    this.options = options;
    this.cache = cache;
    /** @type {Map<string, { source: string, imported: string }>} */
    this.imports = new Map();
    /** @type {Map<string, ClassInfo>} */
    this.classes = new Map();
    /** @type {Map<string, Node>} */
    this.functions = new Map();
    /** @type {Set<string>} Local names bound to an HttpClient (`inject(HttpClient)`, `http: HttpClient`). */
    this.httpVars = new Set();
    /** @type {Map<Node, string | null>} */
    this.requestMemo = new Map();
    /** @type {Set<string>} Names assigned a growing value somewhere (`d = d * 2`, `d *= 2`). */
    this.growing = new Set();
    this.index();
  }

  index() {
    for (const stmt of this.program.body) {
      if (stmt.type === 'ImportDeclaration') {
        for (const spec of stmt.specifiers) {
          const imported =
            spec.type === 'ImportSpecifier'
              ? propName(spec.imported)
              : spec.type === 'ImportDefaultSpecifier'
                ? 'default'
                : '*';
          this.imports.set(spec.local.name, {
            source: stmt.source.value,
            imported: imported ?? '',
          });
        }
      }
    }
    walk(this.program, (node) => {
      if ((node.type === 'ClassDeclaration' || node.type === 'ClassExpression') && node.id) {
        this.classes.set(node.id.name, new ClassInfo(node, this));
      } else if (node.type === 'FunctionDeclaration' && node.id) {
        this.functions.set(node.id.name, node);
      } else if (node.type === 'VariableDeclarator' && node.id.type === 'Identifier') {
        if (isFunction(node.init)) this.functions.set(node.id.name, node.init);
        if (node.init && this.isInjectOf(node.init, 'HttpClient')) this.httpVars.add(node.id.name);
      } else if (
        node.type === 'Identifier' &&
        this.isHttpClientType(node.typeAnnotation) &&
        (isFunction(node.parent) || node.parent?.type === 'TSParameterProperty')
      ) {
        this.httpVars.add(node.name);
      } else if (node.type === 'AssignmentExpression') {
        const name = refName(node.left);
        if (
          name &&
          (node.operator === '*=' ||
            node.operator === '**=' ||
            (node.operator === '=' && grows(node.right, new Set())))
        ) {
          this.growing.add(name);
        }
      }
    });
  }

  /** @param {string} local @param {string | string[]} sources @returns {string | null} */
  importedFrom(local, sources) {
    const imp = this.imports.get(local);
    if (!imp) return null;
    const list = typeof sources === 'string' ? [sources] : sources;
    return list.includes(imp.source) ? imp.imported : null;
  }

  /** @param {Node} call @returns {string | null} The rxjs name a call's callee is imported as. */
  rx(call) {
    if (call?.type !== 'CallExpression') return null;
    const callee = unwrap(call.callee);
    if (callee.type !== 'Identifier') return null;
    const imp = this.imports.get(callee.name);
    return imp && RXJS.has(imp.source) ? imp.imported : null;
  }

  /** @param {Node} node @param {string} [name] @returns {string | null} The class `inject(X)` injects. */
  injected(node, name) {
    const call = unwrap(node);
    if (call?.type !== 'CallExpression' || unwrap(call.callee)?.type !== 'Identifier') return null;
    if (this.importedFrom(unwrap(call.callee).name, '@angular/core') !== 'inject') return null;
    const arg = call.arguments[0];
    if (arg?.type !== 'Identifier') return null;
    return name === undefined || arg.name === name ? arg.name : null;
  }

  /** @param {Node} node @param {string} name */
  isInjectOf(node, name) {
    const injected = this.injected(node, name);
    return (
      injected !== null &&
      (name !== 'HttpClient' || this.importedFrom(injected, ANGULAR_HTTP) === 'HttpClient')
    );
  }

  /** @param {Node} annotation @returns {string | null} `X` for `: X`. */
  typeName(annotation) {
    const t = annotation?.typeAnnotation;
    return t?.type === 'TSTypeReference' && t.typeName.type === 'Identifier'
      ? t.typeName.name
      : null;
  }

  /** @param {Node} annotation */
  isHttpClientType(annotation) {
    const name = this.typeName(annotation);
    return name !== null && this.importedFrom(name, ANGULAR_HTTP) === 'HttpClient';
  }

  /**
   * @param {string} name A class name as written in this module.
   * @param {number} depth
   * @returns {ClassInfo | null} The class, here or in a relatively imported module.
   */
  findClass(name, depth) {
    const local = this.classes.get(name);
    if (local) return local;
    const imp = this.imports.get(name);
    if (!imp || !imp.source.startsWith('.') || depth > MAX_DEPTH) return null;
    const other = this.load(imp.source);
    return other ? other.findClass(imp.imported, depth + 1) : null;
  }

  /** @param {string} source @returns {Module | null} */
  load(source) {
    const parse = this.options.parse;
    if (!parse) return null;
    const base = resolve(dirname(this.filename), source);
    for (const file of [
      base,
      `${base}.ts`,
      `${base}.js`,
      `${base}.mjs`,
      `${base}/index.ts`,
      `${base}/index.js`,
    ]) {
      let stat;
      try {
        stat = statSync(file);
      } catch {
        continue;
      }
      if (!stat.isFile()) continue;
      const cached = this.cache.get(file);
      if (cached && cached.mtimeMs === stat.mtimeMs) return cached.mod;
      this.cache.set(file, { mtimeMs: stat.mtimeMs, mod: null }); // an import cycle stops here
      /** @type {Module | null} */
      let mod = null;
      try {
        const program = parse(readFileSync(file, 'utf8'), file);
        linkParents(program);
        mod = new Module(program, file, this.options, this.cache);
      } catch {
        // A module that does not parse shows no request; the linted file itself still can.
      }
      this.cache.set(file, { mtimeMs: stat.mtimeMs, mod });
      return mod;
    }
    return null;
  }

  /**
   * @param {Node} node A function, or any subtree.
   * @param {ClassInfo | null} cls The class `this` refers to.
   * @param {number} depth
   * @returns {string | null} The first request made below `node`, described.
   */
  requestIn(node, cls, depth) {
    if (!node) return null;
    if (this.requestMemo.has(node)) return this.requestMemo.get(node) ?? null;
    this.requestMemo.set(node, null); // a recursive call makes no request by being recursive
    /** @type {string | null} */
    let found = null;
    walk(node, (n) => {
      if (found === null && n.type === 'CallExpression')
        found = this.requestCall(n, this.classOf(n) ?? cls, depth);
    });
    this.requestMemo.set(node, found);
    return found;
  }

  /** @param {Node} node @returns {ClassInfo | null} */
  classOf(node) {
    for (let n = node.parent; n; n = n.parent) {
      if ((n.type === 'ClassDeclaration' || n.type === 'ClassExpression') && n.id)
        return this.classes.get(n.id.name) ?? null;
    }
    return null;
  }

  /**
   * @param {Node} call
   * @param {ClassInfo | null} cls
   * @param {number} depth
   * @returns {string | null} `fetch()`, `HttpClient.get()`, `this.load() → HttpClient.get()`, or null.
   */
  requestCall(call, cls, depth) {
    const callee = unwrap(call.callee);
    if (callee.type === 'Identifier') {
      if (callee.name === 'fetch') return 'fetch()';
      const fn = this.functions.get(callee.name);
      if (fn && depth < MAX_DEPTH) {
        const inner = this.requestIn(fn.body, null, depth + 1);
        return inner && `${callee.name}() → ${inner}`;
      }
      return null;
    }
    if (callee.type !== 'MemberExpression' || callee.computed) return null;
    const method = propName(callee.property);
    const receiver = unwrap(callee.object);
    if (method === 'fetch' && receiver.type === 'Identifier' && GLOBALS.has(receiver.name))
      return 'fetch()';
    if (method === null) return null;
    const recv = refName(receiver);
    if (HTTP_METHODS.has(method) && recv !== null) {
      if (recv.startsWith('this.') && cls?.httpProps.has(recv.slice(5)))
        return `HttpClient.${method}()`;
      if (!recv.includes('.') && this.httpVars.has(recv)) return `HttpClient.${method}()`;
    }
    if (depth >= MAX_DEPTH || !cls) return null;
    if (recv === 'this') {
      const fn = cls.methods.get(method);
      const inner = fn ? this.requestIn(fn, cls, depth + 1) : null;
      return inner && `this.${method}() → ${inner}`;
    }
    if (recv?.startsWith('this.') && !recv.slice(5).includes('.')) {
      const dep = cls.deps.get(recv.slice(5));
      const depClass = dep ? this.findClass(dep, depth + 1) : null;
      const fn = depClass?.methods.get(method);
      const inner = fn ? depClass?.module.requestIn(fn, depClass, depth + 1) : null;
      return inner ? `${dep}.${method}() → ${inner}` : null;
    }
    return null;
  }
}

/** A class: its methods, its HttpClient fields and its injected services. */
class ClassInfo {
  /** @param {Node} node @param {Module} module */
  constructor(node, module) {
    this.node = node;
    this.module = module;
    /** @type {Map<string, Node>} */
    this.methods = new Map();
    /** @type {Set<string>} */
    this.httpProps = new Set();
    /** @type {Map<string, string>} field name → injected class name */
    this.deps = new Map();
    for (const member of node.body.body) {
      const name = propName(member.key);
      if (name === null) continue;
      if (member.type === 'MethodDefinition') {
        this.methods.set(name, member.value);
        if (member.kind === 'constructor') this.indexParams(member.value.params);
      } else if (member.type === 'PropertyDefinition') {
        if (isFunction(member.value)) this.methods.set(name, member.value);
        const injected = member.value ? module.injected(member.value) : null;
        const typed = module.typeName(member.typeAnnotation);
        this.addDependency(name, injected ?? typed);
      }
    }
  }

  /** @param {Node[]} params */
  indexParams(params) {
    for (const p of params) {
      if (p.type === 'TSParameterProperty' && p.parameter.type === 'Identifier') {
        this.addDependency(p.parameter.name, this.module.typeName(p.parameter.typeAnnotation));
      }
    }
  }

  /** @param {string} field @param {string | null} type */
  addDependency(field, type) {
    if (type === null) return;
    if (this.module.importedFrom(type, ANGULAR_HTTP) === 'HttpClient') this.httpProps.add(field);
    else this.deps.set(field, type);
  }
}

/**
 * @param {Node} expr
 * @param {Set<string>} growing Names known to be assigned a growing value.
 * @returns {boolean} Whether a delay expression grows: `*`, `**`, `Math.pow`, or a growing name.
 */
function grows(expr, growing) {
  return Boolean(
    find(expr, (n) => {
      if (n.type === 'BinaryExpression' && (n.operator === '*' || n.operator === '**')) return true;
      if (n.type === 'CallExpression' && refName(unwrap(n.callee)) === 'Math.pow') return true;
      const name = n.type === 'Identifier' || n.type === 'MemberExpression' ? refName(n) : null;
      return name !== null && growing.has(name);
    }),
  );
}

/**
 * A pipe chain `source.pipe(a, b).pipe(c)`, possibly ending in `.subscribe(...)`.
 * @typedef {object} Chain
 * @property {Node} root `source`.
 * @property {Node} top The outermost `.pipe(...)` call, or `root` when there is none.
 * @property {Node[]} ops The operators, in order.
 */

/** @param {Node} root @returns {Chain} */
function chainFrom(root) {
  /** @type {Node[]} */
  const ops = [];
  let top = root;
  for (let pipe = methodCallOn(top, 'pipe'); pipe; pipe = methodCallOn(top, 'pipe')) {
    ops.push(...pipe.arguments);
    top = pipe;
  }
  return { root, top, ops };
}

/** @param {Node} op An operator inside a `.pipe(...)` call. @returns {Chain | null} */
function chainOfOperator(op) {
  const pipe = outward(op).parent;
  if (
    pipe?.type !== 'CallExpression' ||
    calledMethod(pipe) !== 'pipe' ||
    !pipe.arguments.includes(op)
  )
    return null;
  let root = unwrap(unwrap(pipe.callee).object);
  while (root.type === 'CallExpression' && calledMethod(root) === 'pipe')
    root = unwrap(unwrap(root.callee).object);
  return chainFrom(root);
}

/** @param {Chain} chain @returns {Chain[]} The chain, then the chains whose operators it runs inside. */
function enclosingChains(chain) {
  const chains = [chain];
  let node = chain.top;
  for (let n = node.parent; n; node = n, n = n.parent) {
    if (n.type === 'CallExpression' && calledMethod(n) === 'pipe' && n.arguments.includes(node)) {
      const outer = chainOfOperator(node);
      if (!outer) break;
      chains.push(outer);
      node = outer.top;
      n = node;
    }
  }
  return chains;
}

/**
 * Finds the pollers of one module.
 * @param {Node} program The module's program, with parent links.
 * @param {{ filename: string, parse?: Parse, cache?: Map<string, { mtimeMs: number, mod: Module | null }> }} options
 *   `parse` reads other modules, to follow calls on services they define.
 * @returns {Finding[]} Sorted by position.
 */
export function findPollers(program, options) {
  const mod = new Module(
    program,
    options.filename,
    { parse: options.parse },
    options.cache ?? new Map(),
  );
  /** @type {Finding[]} */
  const findings = [];
  /** @type {Set<Node>} */
  const claimed = new Set(); // chain tops already reported, so one poll is one finding
  /** @type {Node[]} */
  const calls = [];
  walk(program, (n) => {
    if (n.type === 'CallExpression') calls.push(n);
  });
  calls.sort((a, b) => a.range[0] - b.range[0]);

  for (const call of calls) {
    const finding =
      periodic(mod, call, claimed) ?? looped(mod, call, claimed) ?? timerLoop(mod, call);
    if (finding) findings.push(finding);
  }
  return findings;
}

/** @param {Module} mod @param {Node} call @param {Set<Node>} claimed @returns {Finding | null} `interval()`, `timer(a, b)`. */
function periodic(mod, call, claimed) {
  const name = mod.rx(call);
  if (!(name === 'interval' || (name === 'timer' && call.arguments.length >= 2))) return null;
  const chain = chainFrom(outward(call));
  const subscribe = methodCallOn(chain.top, 'subscribe');
  const cls = mod.classOf(call);
  let request = null;
  for (const part of [...chain.ops, ...(subscribe ? subscribe.arguments : [])]) {
    request ??= requestOf(mod, part, cls);
  }
  if (request === null) return null;
  claimed.add(chain.top);
  return {
    node: call,
    mechanism: `${name}(${argsText(call)})`,
    request,
    ...rxVerdicts(mod, chain, null),
    backoff: { ok: false, how: 'fixed period' },
  };
}

/** @param {Module} mod @param {Node} op @param {Set<Node>} claimed @returns {Finding | null} `repeat`, `retry` after a throw, `expand`. */
function looped(mod, op, claimed) {
  const name = mod.rx(op);
  if (!['repeat', 'repeatWhen', 'retry', 'retryWhen', 'expand'].includes(name ?? '')) return null;
  const chain = chainOfOperator(op);
  if (!chain || claimed.has(chain.top)) return null;
  const cls = mod.classOf(op);
  const before = chain.ops.slice(0, chain.ops.indexOf(op));
  let request = mod.requestIn(chain.root, cls, 0);
  for (const part of before) request ??= mod.requestIn(part, cls, 0);
  if (name === 'expand') request ??= mod.requestIn(op, cls, 0);
  if (request === null) return null;

  let backoff;
  if (name === 'expand') {
    const wait = find(op, (n) => ['timer', 'delay'].includes(mod.rx(n) ?? ''));
    if (!wait) return null;
    backoff = grows(wait.arguments[0], mod.growing)
      ? { ok: true, how: 'growing timer()' }
      : { ok: false, how: 'fixed delay' };
  } else {
    if (
      name?.startsWith('retry') &&
      !before.some(
        (part) =>
          VALUE_OPERATORS.has(mod.rx(part) ?? '') &&
          find(part, (n) => n.type === 'ThrowStatement' || mod.rx(n) === 'throwError'),
      )
    ) {
      return null; // an ordinary retry on error, not "throw until done"
    }
    const config = op.arguments[0];
    const delay =
      config?.type === 'ObjectExpression'
        ? config.properties.find((/** @type {Node} */ p) => propName(p.key) === 'delay')?.value
        : name?.endsWith('When')
          ? config
          : null;
    backoff =
      delay && isFunction(delay) && grows(delay.body, mod.growing)
        ? { ok: true, how: 'growing delay' }
        : { ok: false, how: 'fixed delay' };
  }
  claimed.add(chain.top);
  return { node: op, mechanism: `${name}()`, request, ...rxVerdicts(mod, chain, op), backoff };
}

/**
 * @param {Module} mod
 * @param {Node} value An operator, a callback, or a reference to one (`this.load`, `this.load.bind(this)`).
 * @param {ClassInfo | null} cls
 * @returns {string | null}
 */
function requestOf(mod, value, cls) {
  const v = unwrap(value);
  if (isFunction(v)) return mod.requestIn(v.body, cls, 0);
  const ref =
    v.type === 'CallExpression' && calledMethod(v) === 'bind' ? unwrap(unwrap(v.callee).object) : v;
  if (ref.type === 'Identifier' || ref.type === 'MemberExpression')
    return mod.requestCall({ type: 'CallExpression', callee: ref, arguments: [] }, cls, 0);
  return mod.requestIn(v, cls, 0);
}

/** @param {{ arguments: Node[] }} call */
function argsText(call) {
  return call.arguments
    .map((/** @type {Node} */ a) => (isNumberLiteral(a) ? String(a.value) : (refName(a) ?? '…')))
    .join(', ');
}

/**
 * @param {Module} mod
 * @param {Chain} chain
 * @param {Node | null} loop The repeat/retry operator that drives the poll, if that is what does.
 * @returns {{ timeout: Verdict, cleanup: Verdict }}
 */
function rxVerdicts(mod, chain, loop) {
  const chains = enclosingChains(chain);
  const ops = chains.flatMap((c) => c.ops);
  /** @type {Verdict} */
  let timeout = { ok: false, how: 'none' };
  /** @type {Verdict | null} */
  let cleanup = null;
  for (const op of ops) {
    const name = mod.rx(op);
    if ((name === 'timeout' || name === 'timeoutWith') && !timeout.ok)
      timeout = { ok: true, how: `${name}()` };
    else if (name === 'take' && !timeout.ok) timeout = { ok: true, how: 'take()' };
    else if (name === 'takeUntil') {
      const notifier = op.arguments[0];
      if (mod.rx(unwrap(notifier)) === 'timer') {
        if (!timeout.ok) timeout = { ok: true, how: 'takeUntil(timer())' };
      } else cleanup ??= { ok: true, how: `takeUntil(${refName(unwrap(notifier)) ?? '…'})` };
    } else if (
      op.type === 'CallExpression' &&
      unwrap(op.callee).type === 'Identifier' &&
      mod.importedFrom(unwrap(op.callee).name, '@angular/core/rxjs-interop') ===
        'takeUntilDestroyed'
    ) {
      cleanup ??= { ok: true, how: 'takeUntilDestroyed()' };
    }
  }
  if (!timeout.ok && loop) {
    const config = loop.arguments[0];
    const count = isNumberLiteral(config)
      ? config
      : config?.type === 'ObjectExpression'
        ? config.properties.find((/** @type {Node} */ p) => propName(p.key) === 'count')?.value
        : null;
    if (count)
      timeout = {
        ok: true,
        how: `count ${isNumberLiteral(count) ? count.value : (refName(count) ?? '…')}`,
      };
  }
  return { timeout, cleanup: cleanup ?? subscriptionCleanup(mod, chains[chains.length - 1].top) };
}

/**
 * What becomes of an observable that is not cut by an operator.
 * @param {Module} mod
 * @param {Node} top
 * @returns {Verdict}
 */
function subscriptionCleanup(mod, top) {
  const subscribe = methodCallOn(top, 'subscribe');
  if (subscribe) {
    const holder = heldIn(outward(subscribe));
    if (!holder) return { ok: false, how: 'subscription dropped' };
    return (
      released(
        mod,
        subscribe,
        (c) =>
          calledMethod(c) === 'unsubscribe' && refName(unwrap(unwrap(c.callee).object)) === holder,
        'unsubscribe()',
      ) ?? { ok: false, how: `${holder} never unsubscribed on destroy` }
    );
  }
  const use = outward(top).parent;
  if (use?.type === 'CallExpression' && use.arguments.includes(outward(top))) {
    const fn = unwrap(use.callee);
    if (
      fn.type === 'Identifier' &&
      mod.importedFrom(fn.name, '@angular/core/rxjs-interop') === 'toSignal'
    )
      return { ok: true, how: 'toSignal()' };
  }
  if (
    use &&
    (use.type === 'ReturnStatement' ||
      use.type === 'ArrowFunctionExpression' ||
      use.type === 'PropertyDefinition' ||
      use.type === 'AssignmentExpression' ||
      use.type === 'VariableDeclarator')
  ) {
    return { ok: null, how: 'returned to the caller' };
  }
  return { ok: false, how: 'never unsubscribed' };
}

/** @param {Node} value @returns {string | null} `this.sub` (assigned or a field), `sub`, or `this.subs` for `this.subs.add(value)`. */
function heldIn(value) {
  const p = value.parent;
  if (p?.type === 'AssignmentExpression' && p.right === value) return refName(p.left);
  if (p?.type === 'VariableDeclarator' && p.init === value && p.id.type === 'Identifier')
    return p.id.name;
  if (p?.type === 'PropertyDefinition' && p.value === value && !p.computed && propName(p.key))
    return `this.${propName(p.key)}`;
  if (p?.type === 'CallExpression' && p.arguments.includes(value) && calledMethod(p) === 'add')
    return refName(unwrap(unwrap(p.callee).object));
  return null;
}

/**
 * Whether a handle is released when its owner is destroyed: in `ngOnDestroy`, or in a
 * callback given to `DestroyRef.onDestroy`.
 * @param {Module} mod
 * @param {Node} from Where the handle is made.
 * @param {(call: Node) => boolean} releases
 * @param {string} what
 * @returns {Verdict | null}
 */
function released(mod, from, releases, what) {
  const cls = mod.classOf(from);
  const scope = cls ? cls.node : enclosingFunction(from);
  if (!scope) return null;
  /** @type {Verdict | null} */
  let verdict = null;
  walk(scope, (n) => {
    if (verdict || n.type !== 'CallExpression' || !releases(n)) return;
    for (let a = n.parent; a && a !== scope; a = a.parent) {
      if (a.type === 'MethodDefinition' && propName(a.key) === 'ngOnDestroy') {
        verdict = { ok: true, how: `${what} in ngOnDestroy` };
        return;
      }
      if (
        isFunction(a) &&
        a.parent?.type === 'CallExpression' &&
        calledMethod(a.parent) === 'onDestroy'
      ) {
        verdict = { ok: true, how: `${what} in DestroyRef.onDestroy` };
        return;
      }
    }
  });
  return verdict;
}

/** @param {Node} node @returns {Node | null} */
function enclosingFunction(node) {
  for (let n = node.parent; n; n = n.parent) if (isFunction(n)) return n;
  return null;
}

/** @param {Node} call @returns {string | null} `setInterval` / `setTimeout` / ... for a timer call, with or without `window.`. */
function timerFunction(call) {
  const callee = unwrap(call.callee);
  if (callee.type === 'Identifier') return callee.name;
  if (
    callee.type === 'MemberExpression' &&
    unwrap(callee.object).type === 'Identifier' &&
    GLOBALS.has(unwrap(callee.object).name)
  )
    return propName(callee.property);
  return null;
}

/**
 * `setInterval(cb, ms)` whose callback makes a request, or a function that makes a request and
 * schedules itself again with `setTimeout`.
 * @param {Module} mod @param {Node} call @returns {Finding | null}
 */
function timerLoop(mod, call) {
  const fn = timerFunction(call);
  if (fn !== 'setInterval' && fn !== 'setTimeout') return null;
  const cls = mod.classOf(call);
  const callback = call.arguments[0];
  if (!callback) return null;
  const delay = call.arguments[1];

  if (fn === 'setInterval') {
    const request = requestOf(mod, callback, cls);
    if (request === null) return null;
    const handle = heldIn(outward(call));
    const clears = (/** @type {Node} */ c) =>
      timerFunction(c) === 'clearInterval' &&
      handle !== null &&
      refName(unwrap(c.arguments[0])) === handle;
    return {
      node: call,
      mechanism: `setInterval(…, ${argsText({ arguments: [delay] })})`,
      request,
      timeout: intervalTimeout(mod, call, callback, clears),
      cleanup:
        handle === null
          ? { ok: false, how: 'handle dropped' }
          : (released(mod, call, clears, 'clearInterval()') ?? {
              ok: false,
              how: 'never cleared on destroy',
            }),
      backoff: { ok: false, how: 'fixed period' },
    };
  }

  // setTimeout: a loop only when the callback calls the function that scheduled it.
  const owner = enclosingNamedFunction(mod, call);
  if (!owner) return null;
  const target = isFunction(callback) ? callback.body : callback;
  const recursion =
    find(target, (n) => {
      if (n === callback) return false;
      const callee = n.type === 'CallExpression' ? unwrap(n.callee) : n;
      return refName(callee) === owner.ref;
    }) ?? (refName(callback) === owner.ref ? callback : undefined);
  if (!recursion) return null;
  const request = mod.requestIn(owner.fn.body, cls, 0);
  if (request === null) return null;
  const handle = heldIn(outward(call));
  const clears = (/** @type {Node} */ c) =>
    timerFunction(c) === 'clearTimeout' &&
    handle !== null &&
    refName(unwrap(c.arguments[0])) === handle;
  return {
    node: call,
    mechanism: 'setTimeout() loop',
    request,
    timeout: guardedByLimit(call, owner.fn)
      ? { ok: true, how: 'attempt or deadline check' }
      : { ok: false, how: 'none' },
    cleanup:
      handle === null
        ? { ok: false, how: 'handle dropped' }
        : (released(mod, call, clears, 'clearTimeout()') ?? {
            ok: false,
            how: 'never cleared on destroy',
          }),
    backoff:
      delay && grows(delay, mod.growing)
        ? { ok: true, how: 'growing delay' }
        : { ok: false, how: 'fixed delay' },
  };
}

/**
 * @param {Module} mod @param {Node} node
 * @returns {{ fn: Node, ref: string } | null} The method or named function around `node`, and how it is called.
 */
function enclosingNamedFunction(mod, node) {
  for (let n = node.parent; n; n = n.parent) {
    if (!isFunction(n)) continue;
    if (
      n.parent?.type === 'MethodDefinition' ||
      (n.parent?.type === 'PropertyDefinition' && n.parent.value === n)
    ) {
      const name = propName(n.parent.key);
      if (name && mod.classOf(n)) return { fn: n, ref: `this.${name}` };
    }
    if (n.type === 'FunctionDeclaration' && n.id) return { fn: n, ref: n.id.name };
    if (n.parent?.type === 'VariableDeclarator' && n.parent.id.type === 'Identifier')
      return { fn: n, ref: n.parent.id.name };
  }
  return null;
}

/**
 * A `setInterval`'s timeout: a `setTimeout` that clears it, or a clear guarded by a deadline or
 * an attempt count inside the callback.
 * @param {Module} mod @param {Node} call @param {Node} callback @param {(c: Node) => boolean} clears
 * @returns {Verdict}
 */
function intervalTimeout(mod, call, callback, clears) {
  const scope = mod.classOf(call)?.node ?? enclosingFunction(call) ?? mod.program;
  const timed = find(
    scope,
    (n) =>
      n.type === 'CallExpression' &&
      timerFunction(n) === 'setTimeout' &&
      n.arguments[0] &&
      Boolean(find(n.arguments[0], (c) => c.type === 'CallExpression' && clears(c))),
  );
  if (timed) return { ok: true, how: 'setTimeout() → clearInterval()' };
  const guarded =
    isFunction(callback) &&
    find(
      callback.body,
      (n) => n.type === 'CallExpression' && clears(n) && guardedByLimit(n, callback),
    );
  return guarded ? { ok: true, how: 'attempt or deadline check' } : { ok: false, how: 'none' };
}

/**
 * Whether `node` runs only under (or after) a test that reads the clock or compares an attempt
 * count, between it and `fn`.
 * @param {Node} node @param {Node} fn
 */
function guardedByLimit(node, fn) {
  for (let n = node.parent; n && n !== fn; n = n.parent) {
    const test =
      n.type === 'IfStatement' || n.type === 'ConditionalExpression'
        ? n.test
        : n.type === 'LogicalExpression'
          ? n.left
          : null;
    if (!test) continue;
    const limit = find(test, (t) => {
      if (
        t.type === 'CallExpression' &&
        ['Date.now', 'performance.now'].includes(refName(unwrap(t.callee)) ?? '')
      )
        return true;
      if (t.type === 'NewExpression' && refName(t.callee) === 'Date') return true;
      if (t.type === 'BinaryExpression' && ['<', '<=', '>', '>='].includes(t.operator)) {
        return [t.left, t.right].some((side) =>
          ATTEMPT_NAME.test(
            refName(unwrap(side.type === 'UpdateExpression' ? side.argument : side)) ?? '',
          ),
        );
      }
      return false;
    });
    if (limit) return true;
  }
  return false;
}

// RuleTester cases for job-events/no-unbounded-polling: each way of polling, each way of
// (not) having a timeout, a cleanup and a backoff, and timers that make no request.
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import tsParser from '@typescript-eslint/parser';
import { RuleTester } from 'eslint';

import rule from '../src/rules/no-unbounded-polling.js';

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const tester = new RuleTester({ languageOptions: { parser: tsParser, sourceType: 'module' } });
const fixture = (path) =>
  fileURLToPath(new URL(`../fixtures/legacy-app/src/app/${path}`, import.meta.url));

const HEAD = `
import { HttpClient } from '@angular/common/http';
import { Component, DestroyRef, Injectable, OnDestroy, inject } from '@angular/core';
import { takeUntilDestroyed, toSignal } from '@angular/core/rxjs-interop';
import { EMPTY, Subject, expand, interval, map, of, repeat, retry, switchMap, take, takeUntil, timeout, timer } from 'rxjs';
`;
const REPLACEMENT = 'pollJobStatus() or watchJob() from job-events';
const message = (mechanism, request, timeout, cleanup, backoff) =>
  `Poller: ${mechanism} polls ${request}; timeout: ${timeout}; cleanup: ${cleanup}; backoff: ${backoff}. Move it to ${REPLACEMENT}.`;
const poller = (line, column, ...parts) => ({ line: line + 6, column, message: message(...parts) });
const NONE = 'no (none)';
const FIXED = 'no (fixed period)';
const CALLER = 'caller (returned to the caller)';

tester.run('no-unbounded-polling', rule, {
  valid: [
    // a clock, a countdown, a typing indicator
    `${HEAD}
class A { now = toSignal(interval(1000).pipe(map(() => new Date()))); }`,
    `${HEAD}
class A { constructor() { timer(0, 1000).pipe(take(10), takeUntilDestroyed()).subscribe(() => {}); } }`,
    `${HEAD}
class A { constructor() { interval(500).pipe(switchMap(() => of('.'))).subscribe(); } }`,
    // one delayed request is not a poll
    `${HEAD}
class A { http = inject(HttpClient); go() { return timer(500).pipe(switchMap(() => this.http.get('/x'))); } }`,
    // an ordinary retry on error
    `${HEAD}
class A { http = inject(HttpClient); go() { return this.http.get('/x').pipe(retry(3)); } }`,
    // a retry after a catchError that rethrows: error handling, not "throw until done"
    `${HEAD}
import { catchError, throwError } from 'rxjs';
class A { http = inject(HttpClient); go() { return this.http.get('/x').pipe(catchError((e) => throwError(() => e)), retry({ delay: 1000 })); } }`,
    // setInterval around a method that makes no request
    `${HEAD}
class A { i = 0; h = setInterval(() => this.next(), 5000); next() { this.i++; } }`,
    // a .get() on something that is not an HttpClient
    `${HEAD}
class A { cache = new Map(); h = setInterval(() => this.cache.get('k'), 1000); }`,
    // a function named interval that is not rxjs'
    `
import { HttpClient } from '@angular/common/http';
import { inject } from '@angular/core';
const interval = (ms: number) => ms;
class A { http = inject(HttpClient); go() { return interval(1000) && this.http.get('/x'); } }`,
    // a setTimeout that calls another function, not itself
    `${HEAD}
class A { http = inject(HttpClient); go() { this.http.get('/x').subscribe(() => setTimeout(() => this.done(), 100)); } done() {} }`,
    // an injected service that makes no request (followed into its file)
    {
      code: `
import { inject } from '@angular/core';
import { ActivityService } from './activity.service';
class A { activity = inject(ActivityService); h = setInterval(() => this.activity.touch(), 60_000); }`,
      filename: fixture('widgets/a.component.ts'),
    },
  ],
  invalid: [
    {
      code: `${HEAD}
class A { http = inject(HttpClient); constructor() { interval(5000).pipe(switchMap(() => this.http.get('/s'))).subscribe(); } }`,
      errors: [
        poller(
          1,
          54,
          'interval(5000)',
          'HttpClient.get()',
          NONE,
          'no (subscription dropped)',
          FIXED,
        ),
      ],
    },
    {
      // a constructor parameter property, a take() bound, unsubscribed in ngOnDestroy
      code: `${HEAD}
class A implements OnDestroy { private sub = interval(1000).pipe(take(30), switchMap(() => this.http.post('/s', {}))).subscribe();
  constructor(private http: HttpClient) {}
  ngOnDestroy() { this.sub.unsubscribe(); } }`,
      errors: [
        poller(
          1,
          46,
          'interval(1000)',
          'HttpClient.post()',
          'yes (take())',
          'yes (unsubscribe() in ngOnDestroy)',
          FIXED,
        ),
      ],
    },
    {
      // unsubscribe only when done is not a cleanup on destroy
      code: `${HEAD}
class A { http = inject(HttpClient); go() { const sub = interval(1000).subscribe(() => this.http.get('/s').subscribe(() => sub.unsubscribe())); } }`,
      errors: [
        poller(
          1,
          57,
          'interval(1000)',
          'HttpClient.get()',
          NONE,
          'no (sub never unsubscribed on destroy)',
          FIXED,
        ),
      ],
    },
    {
      // takeUntil(destroy$) is a cleanup, takeUntil(timer()) a timeout
      code: `${HEAD}
class A { http = inject(HttpClient); destroy$ = new Subject<void>();
  a = timer(0, 2000).pipe(switchMap(() => this.http.get('/s')), takeUntil(this.destroy$), takeUntil(timer(60_000))).subscribe(); }`,
      errors: [
        poller(
          2,
          7,
          'timer(0, 2000)',
          'HttpClient.get()',
          'yes (takeUntil(timer()))',
          'yes (takeUntil(this.destroy$))',
          FIXED,
        ),
      ],
    },
    {
      // nested: the outer stream's takeUntilDestroyed cleans up the inner poll
      code: `${HEAD}
class A { http = inject(HttpClient); ids = of('a');
  constructor() { this.ids.pipe(switchMap((id) => interval(4000).pipe(switchMap(() => this.http.get(id)))), takeUntilDestroyed()).subscribe(); } }`,
      errors: [
        poller(
          2,
          51,
          'interval(4000)',
          'HttpClient.get()',
          NONE,
          'yes (takeUntilDestroyed())',
          FIXED,
        ),
      ],
    },
    {
      // fetch through a function of the module, returned to the caller
      code: `${HEAD}
async function load() { return (await fetch('/s')).json(); }
export function poll() { return interval(2000).pipe(switchMap(() => load())); }`,
      errors: [poller(2, 33, 'interval(2000)', 'load() → fetch()', NONE, CALLER, FIXED)],
    },
    {
      // a subscribe callback that requests, via a method reference
      code: `${HEAD}
class A { http = inject(HttpClient); s = interval(9000).subscribe(this.load.bind(this)); load() { this.http.get('/s').subscribe(); } }`,
      errors: [
        poller(
          1,
          42,
          'interval(9000)',
          'this.load() → HttpClient.get()',
          NONE,
          'no (this.s never unsubscribed on destroy)',
          FIXED,
        ),
      ],
    },
    {
      code: `${HEAD}
class A { http = inject(HttpClient); go() { return this.http.get('/s').pipe(repeat({ count: 10, delay: (n: number) => timer(n * 1000) })); } }`,
      errors: [
        poller(
          1,
          77,
          'repeat()',
          'HttpClient.get()',
          'yes (count 10)',
          CALLER,
          'yes (growing delay)',
        ),
      ],
    },
    {
      code: `${HEAD}
class A { http = inject(HttpClient); go() { return this.http.get<{ s: string }>('/s').pipe(map((r) => { if (r.s !== 'done') throw new Error('wait'); return r; }), retry({ delay: 2000 })); } }`,
      errors: [poller(1, 164, 'retry()', 'HttpClient.get()', NONE, CALLER, 'no (fixed delay)')],
    },
    {
      code: `${HEAD}
class A { http = inject(HttpClient); go() { return this.http.get<{ done: boolean }>('/s').pipe(expand((r) => (r.done ? EMPTY : timer(3000).pipe(switchMap(() => this.http.get<{ done: boolean }>('/s')))))); } }`,
      errors: [poller(1, 96, 'expand()', 'HttpClient.get()', NONE, CALLER, 'no (fixed delay)')],
    },
    {
      // window.setInterval with fetch, a deadline check inside, cleared through DestroyRef
      code: `${HEAD}
class A { constructor() { const started = Date.now(); const h = window.setInterval(async () => {
    await fetch('/s');
    if (Date.now() - started > 60_000) clearInterval(h);
  }, 3000);
  inject(DestroyRef).onDestroy(() => clearInterval(h)); } }`,
      errors: [
        poller(
          1,
          65,
          'setInterval(…, 3000)',
          'fetch()',
          'yes (attempt or deadline check)',
          'yes (clearInterval() in DestroyRef.onDestroy)',
          FIXED,
        ),
      ],
    },
    {
      // setInterval with a dropped handle
      code: `${HEAD}
class A { http = inject(HttpClient); start() { setInterval(() => this.http.get('/s').subscribe(), 1000); } }`,
      errors: [
        poller(
          1,
          48,
          'setInterval(…, 1000)',
          'HttpClient.get()',
          NONE,
          'no (handle dropped)',
          FIXED,
        ),
      ],
    },
    {
      // a setTimeout loop with an attempt count and a fixed delay, cleared on destroy
      code: `${HEAD}
class A implements OnDestroy { http = inject(HttpClient); t?: ReturnType<typeof setTimeout>; attempts = 0;
  poll() { this.http.get('/s').subscribe(() => { if (this.attempts++ < 20) this.t = setTimeout(() => this.poll(), 2000); }); }
  ngOnDestroy() { clearTimeout(this.t); } }`,
      errors: [
        poller(
          2,
          85,
          'setTimeout() loop',
          'HttpClient.get()',
          'yes (attempt or deadline check)',
          'yes (clearTimeout() in ngOnDestroy)',
          'no (fixed delay)',
        ),
      ],
    },
    {
      // an injected service from another file, followed to its HttpClient call
      code: `
import { inject } from '@angular/core';
import { interval, switchMap } from 'rxjs';
import { JobsApiService } from './jobs-api.service';
class A { jobs = inject(JobsApiService); s = interval(3000).pipe(switchMap(() => this.jobs.list())).subscribe(); }`,
      filename: fixture('jobs/a.component.ts'),
      errors: [
        {
          line: 5,
          column: 46,
          message: message(
            'interval(3000)',
            'JobsApiService.list() → HttpClient.get()',
            NONE,
            'no (this.s never unsubscribed on destroy)',
            FIXED,
          ),
        },
      ],
    },
  ],
});

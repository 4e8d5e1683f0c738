import { DEFAULT_JOB_EVENTS_CONFIG, JobEventsOptions, resolveConfig } from './config';

describe('provideJobEvents options', () => {
  it('merge over the defaults, polling options one by one', () => {
    const config = resolveConfig({
      apiUrl: 'https://jobs.example.test/api/',
      poll: { maxMs: 30_000 },
    });
    expect(config.apiUrl).toBe('https://jobs.example.test/api');
    expect(config.poll).toEqual({ ...DEFAULT_JOB_EVENTS_CONFIG.poll, maxMs: 30_000 });
    expect(config.maxJobsPerStream).toBe(50);
  });

  it('refuse a polling timeout that is missing or endless', () => {
    expect(() => resolveConfig({ poll: { timeoutMs: 0 } })).toThrowError(/timeoutMs/);
    expect(() => resolveConfig({ poll: { timeoutMs: Infinity } })).toThrowError(/timeoutMs/);
    expect(() => resolveConfig({ maxJobsPerStream: 0 })).toThrowError(/maxJobsPerStream/);
  });

  it('authenticate streams by the cookie unless told otherwise, and refuse an unknown way', () => {
    expect(resolveConfig().streamAuth).toBe('cookie');
    expect(resolveConfig({ streamAuth: 'query' }).streamAuth).toBe('query');
    const typo = { streamAuth: 'Cookie' } as unknown as JobEventsOptions;
    expect(() => resolveConfig(typo)).toThrowError(/streamAuth/);
  });

  it('pause watching after 5 s hidden by default; null keeps watching, anything else odd is refused', () => {
    expect(resolveConfig().hiddenPauseMs).toBe(5_000);
    expect(resolveConfig({ hiddenPauseMs: null }).hiddenPauseMs).toBeNull();
    expect(resolveConfig({ hiddenPauseMs: 0 }).hiddenPauseMs).toBe(0);
    for (const bad of [-1, Infinity, NaN, '30000']) {
      const options = { hiddenPauseMs: bad } as unknown as JobEventsOptions;
      expect(() => resolveConfig(options)).toThrowError(/hiddenPauseMs/);
    }
  });
});

import { provideHttpClient, withFetch } from '@angular/common/http';
import { ApplicationConfig, provideBrowserGlobalErrorListeners } from '@angular/core';
import { provideJobEvents } from 'job-events';

/** `/?hiddenPauseMs=1000`: a shorter hidden-tab pause, for the browser tests; else the default. */
function hiddenPause(): { hiddenPauseMs?: number } {
  const value = new URLSearchParams(globalThis.location?.search ?? '').get('hiddenPauseMs');
  return value ? { hiddenPauseMs: Number(value) } : {};
}

export const appConfig: ApplicationConfig = {
  providers: [
    provideBrowserGlobalErrorListeners(),
    provideHttpClient(withFetch()),
    // Same origin as the API (the local host serves both); every option has a default.
    provideJobEvents({ apiUrl: '/api', ...hiddenPause() }),
  ],
};

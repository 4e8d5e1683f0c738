import { provideHttpClient, withFetch } from '@angular/common/http';
import { ApplicationConfig, provideBrowserGlobalErrorListeners } from '@angular/core';
import { provideJobEvents } from 'job-events';

export const appConfig: ApplicationConfig = {
  providers: [
    provideBrowserGlobalErrorListeners(),
    provideHttpClient(withFetch()),
    // Same origin as the API (the local host serves both); every option has a default.
    provideJobEvents({ apiUrl: '/api' }),
  ],
};

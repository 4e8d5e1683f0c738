import { bootstrapApplication } from '@angular/platform-browser';
import { JobEventsService } from 'job-events';

import { appConfig } from './app/app.config';
import { App } from './app/app';

bootstrapApplication(App, appConfig)
  .then((app) => {
    // Read-only, for the browser tests' leak checks: what the library still holds.
    const events = app.injector.get(JobEventsService);
    Object.assign(window, { jobEventsHeld: () => events.held() });
  })
  .catch((err) => console.error(err));
